import * as net from 'node:net';
import { BANNER } from '../../gateway/src/banner';
import { KNOWN_INJECTED_HEADERS, injectedHeaders, isInjectedHeader } from '../../gateway/src/injected';
import { LOOPBACK, OUTBOUND_MARK, cleanup, connect, metricValue, proxyRequest, rawHttp1, removeTemporaryFiles, startGateway } from './helpers';

afterEach(cleanup);
afterAll(removeTemporaryFiles);

const METRIC = 'gateway_injected_headers_total';

describe('headers a sidecar adds', () => {
  test('names: x-envoy-*, x-request-id, x-forwarded-*, trace context; never what the crawler sends', () => {
    for (const name of ['x-envoy-peer-metadata', 'x-envoy-attempt-count', 'x-request-id', 'x-forwarded-proto', 'x-forwarded-for', 'x-forwarded-client-cert',
      'traceparent', 'tracestate', 'x-b3-traceid', 'b3', 'x-ot-span-context', 'x-cloud-trace-context', 'sw8', 'uber-trace-id']) {
      expect({ name, injected: isInjectedHeader(name) }).toEqual({ name, injected: true });
    }
    // What the synthetic crawler sends (crawler/src/client.ts, proxy.ts).
    for (const name of ['host', 'user-agent', 'accept', 'x-proxy-vendor', 'proxy-authorization', 'connection', 'proxy-connection', ':path', ':authority']) {
      expect({ name, injected: isInjectedHeader(name) }).toEqual({ name, injected: false });
    }
    expect(injectedHeaders({ 'X-Request-Id': 'a', 'x-envoy-peer-metadata': 'b', accept: '*/*', 'x-b3-spanid': ['1', '2'] })).toEqual(['x-b3-spanid', 'x-envoy-peer-metadata', 'x-request-id']);
    expect(KNOWN_INJECTED_HEADERS.every(isInjectedHeader)).toBe(true);
  });
});

describe('gateway_injected_headers_total (bundled gateway)', () => {
  test('absolute-form: a request with x-request-id and x-envoy-peer-metadata counts both once; one without counts nothing', async () => {
    const gateway = await startGateway({ VENDOR: 'vendor-x' });
    // Shown at 0 before any request: the known headers' series exist from the start.
    const before = await gateway.metrics();
    expect(metricValue(before, METRIC, { vendor: 'vendor-x', header: 'x-request-id' })).toBe(0);
    expect(metricValue(before, METRIC, { vendor: 'vendor-x', header: 'x-envoy-peer-metadata' })).toBe(0);

    expect((await proxyRequest(gateway.port, 'http://shop.example/a', { 'user-agent': 'crawler', accept: '*/*', 'x-proxy-vendor': 'vendor-x' })).status).toBe(200);
    expect(metricValue(await gateway.metrics(), METRIC)).toBe(0);

    const injected = await proxyRequest(gateway.port, 'http://shop.example/b', { 'X-Request-Id': '0f3c', 'x-envoy-peer-metadata': 'Q2lRS0JrTkNUMUZVUlEK', accept: '*/*' });
    expect(injected.status).toBe(200);
    const after = await gateway.metrics();
    expect(metricValue(after, METRIC, { vendor: 'vendor-x', header: 'x-request-id' })).toBe(1);
    expect(metricValue(after, METRIC, { vendor: 'vendor-x', header: 'x-envoy-peer-metadata' })).toBe(1);
    expect(metricValue(after, METRIC)).toBe(2);
    await gateway.stop();
    expect(gateway.stderr).not.toContain(OUTBOUND_MARK);
  });

  test('CONNECT and the requests inside its tunnel are counted each on their own', async () => {
    const gateway = await startGateway();
    const tunnel = await connect(gateway.port, 'shop.example:80', { 'x-forwarded-proto': 'http' });
    expect(tunnel.status).toBe(200);
    const inner = await rawHttp1(tunnel.socket, 'GET /in HTTP/1.1\r\nHost: shop.example\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nx-envoy-attempt-count: 1\r\n\r\n');
    expect(inner.status).toBe(200);
    const metrics = await gateway.metrics();
    expect(metricValue(metrics, METRIC, { header: 'x-forwarded-proto' })).toBe(1);
    expect(metricValue(metrics, METRIC, { header: 'traceparent' })).toBe(1);
    expect(metricValue(metrics, METRIC, { header: 'x-envoy-attempt-count' })).toBe(1);
    expect(metricValue(metrics, METRIC)).toBe(3);
  });
});

describe('the banner port (BANNER_PORT)', () => {
  test('speaks first: the banner arrives on connect, before the client sends anything; unset, there is no banner port', async () => {
    const gateway = await startGateway({ BANNER_PORT: '0' });
    const start = gateway.lines().find(l => l.msg === 'start')!;
    expect(start.bannerPort).toEqual(expect.any(Number));
    const started = Date.now();
    const banner = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: LOOPBACK, port: start.bannerPort as number });
      socket.setEncoding('latin1');
      let text = '';
      socket.on('data', (d: string) => {
        text += d;
        if (text.includes('\r\n')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
    });
    expect(banner).toBe(BANNER);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await gateway.stop()).toEqual({ code: 0, signal: null });

    const without = await startGateway();
    expect(without.lines().find(l => l.msg === 'start')!.bannerPort).toBeNull();
  });
});
