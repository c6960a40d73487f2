import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  LOOPBACK,
  NO_OUTBOUND_GUARD,
  OUTBOUND_MARK,
  cleanup,
  connect,
  connectTcp,
  metricValue,
  proxyRequest,
  removeTemporaryFiles,
  scrapeMetrics,
  spawnGateway,
  startGateway,
  startTls,
  unusedPort,
  waitUntil,
} from './helpers';

afterEach(cleanup);
afterAll(removeTemporaryFiles);

const SIXTEEN_MIB = 16 * 1024 * 1024;

describe('demo gateway lifecycle (bundled)', () => {
  test('SIGTERM: the listener closes at once, an in-flight response still finishes, then exit 0', async () => {
    const gateway = await startGateway({ PAGE_SIZES: String(SIXTEEN_MIB) });
    // A reader that stops after the head, so the body is still being sent at SIGTERM.
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: LOOPBACK, port: gateway.port, path: 'http://big.example/', agent: false }, resolve).on('error', reject);
    });
    response.pause();
    gateway.child.kill('SIGTERM');
    await waitUntil(() => gateway.stdout.includes('"msg":"stopping"'), 10_000, 'the stopping line');
    await expect(proxyRequest(gateway.port, 'http://late.example/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    let received = 0;
    response.on('data', (chunk: Buffer) => (received += chunk.length));
    const ended = new Promise((resolve) => response.once('end', resolve));
    response.resume();
    await ended;
    expect(received).toBe(SIXTEEN_MIB);
    expect(await gateway.waitForExit()).toEqual({ code: 0, signal: null });
    expect(gateway.stopLine()).toMatchObject({ unfinishedRequests: 0, forcedConnections: 0, requests: 1, codes: { 200: 1 }, responseBytes: SIXTEEN_MIB });
  });

  test('SIGTERM covers the site port: it closes with the proxy port, its in-flight response finishes, its HTTP/2 session gets GOAWAY', async () => {
    const gateway = await startGateway({ PAGE_SIZES: String(SIXTEEN_MIB), SITE_PORT: '0', SITE_HOST: LOOPBACK });
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: LOOPBACK, port: gateway.sitePort, path: '/big', headers: { host: 'big.example' }, agent: false }, resolve).on('error', reject);
    });
    response.pause();
    // An idle HTTP/2 session over TLS on the site port.
    const secure = await startTls(await connectTcp(gateway.sitePort), { servername: 'idle.example', alpn: ['h2'] });
    const session = http2.connect('https://idle.example', { createConnection: () => secure });
    session.on('error', () => undefined);
    const goaway = new Promise((resolve) => session.once('goaway', resolve));
    await new Promise((resolve) => session.once('remoteSettings', resolve));

    gateway.child.kill('SIGTERM');
    await waitUntil(() => gateway.stdout.includes('"msg":"stopping"'), 10_000, 'the stopping line');
    await expect(proxyRequest(gateway.sitePort, '/late')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(proxyRequest(gateway.port, 'http://late.example/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await goaway;

    let received = 0;
    response.on('data', (chunk: Buffer) => (received += chunk.length));
    const ended = new Promise((resolve) => response.once('end', resolve));
    response.resume();
    await ended;
    expect(received).toBe(SIXTEEN_MIB);
    expect(await gateway.waitForExit()).toEqual({ code: 0, signal: null });
    expect(gateway.stopLine()).toMatchObject({ unfinishedRequests: 0, forcedConnections: 0, requests: 1, codes: { 200: 1 }, paths: { direct: 1 }, responseBytes: SIXTEEN_MIB });
  });

  test('writes nothing to disk: serves http and https with file-system writes denied (Node permission model)', async () => {
    const gateway = await startGateway({}, ['--experimental-permission', '--allow-fs-read=*']);
    expect((await proxyRequest(gateway.port, 'http://news.example/')).status).toBe(200);
    const tunnel = await connect(gateway.port, 'shop.example:443');
    const secure = await startTls(tunnel.socket, { servername: 'shop.example' });
    expect(secure.authorized).toBe(true);
    // A client hanging up on a tunnel: the gateway notices and closes its side.
    secure.destroy();
    expect(await gateway.stop()).toEqual({ code: 0, signal: null });
    expect(gateway.stopLine()).toMatchObject({ forcedConnections: 0, unfinishedRequests: 0 });
    expect(gateway.stderr).not.toMatch(/ERR_ACCESS_DENIED/);
    expect(gateway.lines().filter((l) => l.level === 'error')).toEqual([]);
  });

  test('the outbound guard every test gateway runs under does stop connections and name lookups', () => {
    for (const script of ["require('node:net').connect(9, '127.0.0.1')", "require('node:dns').lookup('example.com', () => undefined)", "require('node:http').get('http://127.0.0.1:9/')"]) {
      const result = spawnSync(process.execPath, ['--require', NO_OUTBOUND_GUARD, '-e', script], { encoding: 'utf8', timeout: 10_000 });
      expect({ script, status: result.status }).toEqual({ script, status: 99 });
      expect(result.stderr).toContain(OUTBOUND_MARK);
    }
  });

  test('without CA_CERT_FILE and CA_KEY_FILE: an in-memory CA, served at /ca.pem, with a warning; /healthz answers', async () => {
    const metricsPort = await unusedPort();
    const gateway = spawnGateway({ METRICS_PORT: String(metricsPort), METRICS_HOST: LOOPBACK });
    // The warning is its own line, after the start line: wait for both.
    await waitUntil(() => gateway.stdout.includes('"msg":"start"') && gateway.stdout.includes('"msg":"CA_CERT_FILE and CA_KEY_FILE are unset'), 20_000, 'the start line and the CA warning');
    const start = gateway.lines().find((l) => l.msg === 'start')!;
    expect(start).toMatchObject({ caSource: 'generated', vendor: 'demo-vendor' });
    expect(gateway.lines().some((l) => l.level === 'warn' && String(l.msg).includes('CA_CERT_FILE'))).toBe(true);

    const get = (path: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        http.get({ host: LOOPBACK, port: metricsPort, path, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect((await get('/nothing')).status).toBe(404);
    const caPem = (await get('/ca.pem')).body;
    expect(caPem).toContain('-----BEGIN CERTIFICATE-----');

    const tunnel = await connect(start.port as number, 'shop.example:443');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: tunnel.socket, servername: 'shop.example', ca: caPem }, () => resolve(s));
      s.once('error', reject);
    });
    expect(secure.authorized).toBe(true);
    secure.destroy();
    const metrics = await scrapeMetrics(metricsPort);
    expect(metricValue(metrics, 'gateway_ca_expiry_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000);
    expect(metricValue(metrics, 'gateway_process_resident_memory_bytes')).toBeGreaterThan(0);
    gateway.child.kill('SIGTERM');
    expect(await gateway.waitForExit()).toEqual({ code: 0, signal: null });
    expect(gateway.stopLine()).toMatchObject({ forcedConnections: 0, requests: 1, codes: { 200: 1 } });
  });

  test('a proxy, metrics or site port already in use: exit 1 with an error line', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, LOOPBACK, resolve));
    const port = String((taken.address() as net.AddressInfo).port);
    try {
      const proxyTaken = spawnGateway({ PORT: port });
      const metricsTaken = spawnGateway({ METRICS_PORT: port, METRICS_HOST: LOOPBACK });
      const siteTaken = spawnGateway({ SITE_PORT: port, SITE_HOST: LOOPBACK });
      for (const [run, msg] of [[proxyTaken, 'proxy port failed to open'], [metricsTaken, 'metrics server failed to start'], [siteTaken, 'site port failed to open']] as const) {
        expect(await run.waitForExit()).toEqual({ code: 1, signal: null });
        expect(run.lines()).toContainEqual(expect.objectContaining({ level: 'error', msg }));
      }
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
