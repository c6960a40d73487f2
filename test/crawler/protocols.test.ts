import { BODY_BYTES, CA_FILE, LOOPBACK, cleanup, metricValue, removeBundle, runCrawler, scrapeMetrics, startServer, unusedPort, waitUntil } from './helpers';

afterEach(cleanup);
afterAll(removeBundle);

describe('crawler protocols (bundled, direct)', () => {
  test('auto: HTTP/1.1 for http, ALPN h2 or http/1.1 for https, with the vendor header and real bytes', async () => {
    const plain = await startServer('http1.1');
    const h2 = await startServer('h2');
    const tlsH1 = await startServer('https1.1');
    const metricsPort = await unusedPort();
    const run = runCrawler({
      PROXY_VENDOR: 'acme-proxies',
      TARGETS: [`http://${LOOPBACK}:${plain.port}/plain`, `https://${LOOPBACK}:${h2.port}/h2`, `https://${LOOPBACK}:${tlsH1.port}/tls-h1`].join(','),
      CA_FILE,
      REQUESTS_PER_SECOND: '60',
      CONCURRENCY: '1',
      METRICS_PORT: String(metricsPort),
      METRICS_HOST: LOOPBACK,
    });
    await waitUntil(() => [plain, h2, tlsH1].every((s) => s.completed >= 5), 10_000, 'five responses per server');
    const metrics = await scrapeMetrics(metricsPort);
    run.child.kill('SIGTERM');
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });

    expect(new Set(plain.requests.map((r) => r.protocol))).toEqual(new Set(['http1.1']));
    expect(new Set(h2.requests.map((r) => r.protocol))).toEqual(new Set(['h2']));
    expect(new Set(tlsH1.requests.map((r) => r.protocol))).toEqual(new Set(['http1.1']));
    for (const server of [plain, h2, tlsH1]) {
      for (const r of server.requests) {
        expect(r.method).toBe('GET');
        expect(r.headers['x-proxy-vendor']).toBe('acme-proxies');
      }
    }
    // Connections are reused: one HTTP/2 session, and the ALPN probe's
    // socket is handed to the keep-alive agent instead of dialling again.
    expect(h2.connections).toBe(1);
    expect(tlsH1.connections).toBe(1);
    expect(plain.connections).toBe(1);

    const labels = { vendor: 'acme-proxies', code: '200' };
    expect(metricValue(metrics, 'crawler_requests_total', { ...labels, protocol: 'http1.1', scheme: 'http', host: `${LOOPBACK}:${plain.port}` })).toBeGreaterThanOrEqual(5);
    expect(metricValue(metrics, 'crawler_requests_total', { ...labels, protocol: 'h2', scheme: 'https', host: `${LOOPBACK}:${h2.port}` })).toBeGreaterThanOrEqual(5);
    expect(metricValue(metrics, 'crawler_requests_total', { ...labels, protocol: 'http1.1', scheme: 'https', host: `${LOOPBACK}:${tlsH1.port}` })).toBeGreaterThanOrEqual(5);
    const ok = metricValue(metrics, 'crawler_requests_total', { code: '200' });
    expect(metricValue(metrics, 'crawler_response_bytes_total', { vendor: 'acme-proxies' })).toBe(ok * BODY_BYTES);
    expect(metricValue(metrics, 'crawler_request_bytes_total', { vendor: 'acme-proxies' })).toBeGreaterThan(ok * 50);

    const stop = run.stopLine();
    expect(stop.codes['200']).toBe(stop.requests);
    expect(stop.responseBytes).toBe(stop.requests * BODY_BYTES);
  });

  test('H2C=true speaks HTTP/2 with prior knowledge to plaintext targets', async () => {
    const h2c = await startServer('h2c');
    const run = runCrawler({ TARGETS: `http://${LOOPBACK}:${h2c.port}/`, H2C: 'true', CONCURRENCY: '20', REQUESTS_PER_SECOND: '40', DURATION_SECONDS: '0.5' });
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
    expect(h2c.requests.length).toBe(20);
    expect(new Set(h2c.requests.map((r) => r.protocol))).toEqual(new Set(['h2c']));
    expect(h2c.requests.every((r) => r.headers['x-proxy-vendor'] === 'test-vendor')).toBe(true);
    expect(h2c.connections).toBe(1);
    expect(run.stopLine().codes).toEqual({ 200: 20 });
  });

  test('HTTP_VERSION=1.1 keeps HTTP/1.1 against an h2-capable server; HTTP_VERSION=2 fails (counted) without h2', async () => {
    const h2 = await startServer('h2');
    const tlsH1 = await startServer('https1.1');
    const forced11 = runCrawler({ TARGETS: `https://${LOOPBACK}:${h2.port}/`, HTTP_VERSION: '1.1', CA_FILE, CONCURRENCY: '20', REQUESTS_PER_SECOND: '40', DURATION_SECONDS: '0.5' });
    const forced2 = runCrawler({ TARGETS: `https://${LOOPBACK}:${tlsH1.port}/`, HTTP_VERSION: '2', CA_FILE, CONCURRENCY: '20', REQUESTS_PER_SECOND: '40', DURATION_SECONDS: '0.5' });
    expect(await forced11.waitForExit()).toEqual({ code: 0, signal: null });
    expect(await forced2.waitForExit()).toEqual({ code: 0, signal: null });
    expect(h2.requests.length).toBe(20);
    expect(new Set(h2.requests.map((r) => r.protocol))).toEqual(new Set(['http1.1']));
    expect(tlsH1.requests).toHaveLength(0);
    expect(forced2.stopLine()).toMatchObject({ requests: 20, errors: { alpn: 20 } });
  });

  test('an untrusted certificate is a counted tls error; INSECURE_SKIP_VERIFY=true accepts it', async () => {
    const h2 = await startServer('h2');
    const strict = runCrawler({ TARGETS: `https://${LOOPBACK}:${h2.port}/`, CONCURRENCY: '10', REQUESTS_PER_SECOND: '20', DURATION_SECONDS: '0.5' });
    const insecure = runCrawler({ TARGETS: `https://${LOOPBACK}:${h2.port}/`, INSECURE_SKIP_VERIFY: 'true', CONCURRENCY: '10', REQUESTS_PER_SECOND: '20', DURATION_SECONDS: '0.5' });
    expect((await strict.waitForExit()).code).toBe(0);
    expect((await insecure.waitForExit()).code).toBe(0);
    expect(strict.stopLine()).toMatchObject({ requests: 10, errors: { tls: 10 } });
    expect(insecure.stopLine()).toMatchObject({ requests: 10, codes: { 200: 10 } });
  });

  test('writes nothing to disk: runs with file-system writes denied (Node permission model)', async () => {
    const h2 = await startServer('h2');
    const metricsPort = await unusedPort();
    const run = runCrawler(
      { TARGETS: `https://${LOOPBACK}:${h2.port}/`, CA_FILE, REQUESTS_PER_SECOND: '40', METRICS_PORT: String(metricsPort), METRICS_HOST: LOOPBACK },
      ['--experimental-permission', '--allow-fs-read=*'],
    );
    // Generous: the permission model slows start-up, and the suite runs Prometheus processes beside it.
    // The server counts a response when it has written it, the crawler when it has read it: wait on the crawler's count.
    await waitUntil(() => h2.completed >= 5, 30_000, 'five responses');
    let metrics = await scrapeMetrics(metricsPort);
    for (let polls = 0; metricValue(metrics, 'crawler_requests_total', { protocol: 'h2', code: '200' }) < 5 && polls < 1500; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      metrics = await scrapeMetrics(metricsPort);
    }
    run.child.kill('SIGTERM');
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
    expect(metricValue(metrics, 'crawler_requests_total', { protocol: 'h2', code: '200' })).toBeGreaterThanOrEqual(5);
    expect(metricValue(metrics, 'crawler_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(run.stderr).not.toMatch(/ERR_ACCESS_DENIED/);
    expect(run.lines().filter((l) => l.level === 'error')).toEqual([]);
  });
});
