import { LOOPBACK, cleanup, metricValue, removeBundle, runCrawler, scrapeMetrics, startProxy, startServer, unusedPort, waitUntil } from './helpers';

afterEach(cleanup);
afterAll(removeBundle);

describe('crawler error accounting (bundled)', () => {
  // DNS failures are covered by the classification unit tests: resolving a
  // name that does not exist would query a resolver off this machine.
  test('407, 429, 500, refused connections and timeouts are counted by kind; the loop goes on', async () => {
    const server = await startServer('http1.1');
    const proxy = await startProxy('user:secret-pass');
    const refused = await unusedPort();
    const metricsPort = await unusedPort();
    const direct = `${LOOPBACK}:${server.port}`;
    const run = runCrawler({
      TARGETS: [
        `http://${direct}/ok`,
        `http://${direct}/status/429`,
        `http://${direct}/status/500`,
        `http://${direct}/slow/5000`,
        `http://${LOOPBACK}:${refused}/`,
        // Only these two go through the proxy, which wants credentials.
        `http://needs-auth.test:${server.port}/`,
        `https://needs-auth.test:443/`,
      ].join(','),
      HTTP_PROXY: proxy.url(),
      HTTPS_PROXY: proxy.url(),
      NO_PROXY: `${direct},${LOOPBACK}:${refused}`,
      REQUESTS_PER_SECOND: '80',
      CONCURRENCY: '20',
      REQUEST_TIMEOUT_MS: '300',
      METRICS_PORT: String(metricsPort),
      METRICS_HOST: LOOPBACK,
    });
    await waitUntil(() => server.requests.filter((r) => r.path === '/ok').length >= 10, 10_000, 'ten good responses');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const metrics = await scrapeMetrics(metricsPort);
    run.child.kill('SIGTERM');
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });

    const stop = run.stopLine();
    for (const code of ['200', '429', '500', '407']) expect(stop.codes[code]).toBeGreaterThanOrEqual(8);
    expect(stop.codes['407']).toBeGreaterThanOrEqual(16);
    for (const kind of ['connect', 'timeout']) expect(stop.errors[kind]).toBeGreaterThanOrEqual(8);
    expect(Object.keys(stop.errors).sort()).toEqual(['connect', 'timeout']);
    // Every slot was used: errors never stopped or slowed the loop.
    expect(stop.skipped).toBe(0);
    const counted = Object.values(stop.codes).reduce((a, b) => a + b, 0) + Object.values(stop.errors).reduce((a, b) => a + b, 0);
    expect(counted).toBe(stop.requests);

    const labels = { vendor: 'test-vendor' };
    expect(metricValue(metrics, 'crawler_requests_total', { ...labels, code: '429', host: direct, protocol: 'http1.1' })).toBeGreaterThanOrEqual(8);
    expect(metricValue(metrics, 'crawler_requests_total', { ...labels, code: '407', host: 'needs-auth.test', scheme: 'https', protocol: 'unknown' })).toBeGreaterThanOrEqual(8);
    expect(metricValue(metrics, 'crawler_requests_total', { ...labels, code: 'connect', host: `${LOOPBACK}:${refused}` })).toBeGreaterThanOrEqual(8);
    expect(metricValue(metrics, 'crawler_requests_total', { ...labels, code: 'timeout' })).toBeGreaterThanOrEqual(8);

    const summaries = run.lines().filter((l) => l.msg === 'summary');
    expect(summaries.some((l) => l.level === 'warn' && typeof (l.errorSamples as Record<string, string>)?.connect === 'string')).toBe(true);
    expect(run.stdout).not.toContain('secret-pass');
  });
});
