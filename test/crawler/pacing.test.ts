import { LOOPBACK, cleanup, metricValue, removeBundle, runCrawler, scrapeMetrics, startServer, unusedPort, waitUntil } from './helpers';

afterEach(cleanup);
afterAll(removeBundle);

describe('crawler pacing and shutdown (bundled)', () => {
  test('50 requests/s for 3 s: rate within ±10%, steady per second, weights honoured', async () => {
    const server = await startServer('http1.1');
    const run = runCrawler({
      TARGETS: `http://${LOOPBACK}:${server.port}/heavy=3,http://${LOOPBACK}:${server.port}/light`,
      REQUESTS_PER_SECOND: '50',
      CONCURRENCY: '8',
      DURATION_SECONDS: '3',
    });
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
    const times = server.requests.map((r) => r.at);
    expect(times.length).toBeGreaterThanOrEqual(135);
    expect(times.length).toBeLessThanOrEqual(165);
    // Open loop from the start time: each full second carries ~50 requests.
    const first = Math.min(...times);
    for (let second = 0; second < 3; second++) {
      const inSecond = times.filter((t) => t >= first + second * 1000 && t < first + (second + 1) * 1000).length;
      expect(inSecond).toBeGreaterThanOrEqual(45);
      expect(inSecond).toBeLessThanOrEqual(55);
    }
    const heavy = server.requests.filter((r) => r.path === '/heavy').length;
    const light = server.requests.filter((r) => r.path === '/light').length;
    expect(Math.abs(heavy - 3 * light)).toBeLessThanOrEqual(4);
    const stop = run.stopLine();
    expect(stop.requests).toBe(times.length);
    expect(stop.skipped).toBe(0);
    expect(stop.elapsedSeconds as number).toBeGreaterThanOrEqual(2.9);
    expect(stop.elapsedSeconds as number).toBeLessThan(3.5);
  });

  test('a slow server with saturated concurrency: slots are skipped and counted, not queued', async () => {
    const server = await startServer('http1.1');
    const metricsPort = await unusedPort();
    const run = runCrawler({
      TARGETS: `http://${LOOPBACK}:${server.port}/slow/400`,
      REQUESTS_PER_SECOND: '50',
      CONCURRENCY: '2',
      METRICS_PORT: String(metricsPort),
      METRICS_HOST: LOOPBACK,
    });
    await waitUntil(() => server.completed >= 6, 10_000, 'six slow responses');
    const metrics = await scrapeMetrics(metricsPort);
    run.child.kill('SIGTERM');
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });

    const skipped = metricValue(metrics, 'crawler_skipped_slots_total', { vendor: 'test-vendor' });
    const slots = metricValue(metrics, 'crawler_scheduled_slots_total', { vendor: 'test-vendor' });
    // Two in flight, or one just finished and the next slot not yet due.
    expect([1, 2]).toContain(metricValue(metrics, 'crawler_in_flight_requests', { vendor: 'test-vendor' }));
    // ~1.2 s at 50/s is ~60 slots, of which two per 400 ms can start.
    expect(slots).toBeGreaterThanOrEqual(50);
    expect(skipped).toBeGreaterThanOrEqual(slots - 12);
    const stop = run.stopLine();
    expect(stop.requests).toBe(server.requests.length);
    expect(stop.requests).toBeLessThanOrEqual(12);
    expect(stop.skipped).toBeGreaterThan(skipped - 1);
    expect(stop.codes).toEqual({ 200: stop.requests });
  });

  test('SIGTERM: no new requests, in-flight ones finish, exit 0', async () => {
    const server = await startServer('http1.1');
    const run = runCrawler({
      TARGETS: `http://${LOOPBACK}:${server.port}/slow/1000`,
      REQUESTS_PER_SECOND: '20',
      CONCURRENCY: '5',
    });
    await waitUntil(() => server.requests.length >= 5, 10_000, 'five requests in flight');
    expect(server.completed).toBe(0);
    const signalledAt = Date.now();
    run.child.kill('SIGTERM');
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
    const tookMs = Date.now() - signalledAt;

    expect(server.requests).toHaveLength(5);
    expect(server.requests.every((r) => r.at < signalledAt)).toBe(true);
    expect(server.completed).toBe(5);
    expect(tookMs).toBeGreaterThan(500);
    expect(tookMs).toBeLessThan(3000);
    const lines = run.lines();
    expect(lines.find((l) => l.msg === 'stopping')).toMatchObject({ signal: 'SIGTERM', inFlight: 5 });
    expect(run.stopLine()).toMatchObject({ reason: 'received SIGTERM', requests: 5, codes: { 200: 5 }, errors: {} });
  });

  test('SIGTERM drain is bounded by REQUEST_TIMEOUT_MS', async () => {
    const server = await startServer('http1.1');
    const run = runCrawler({
      TARGETS: `http://${LOOPBACK}:${server.port}/slow/30000`,
      REQUESTS_PER_SECOND: '10',
      CONCURRENCY: '2',
      REQUEST_TIMEOUT_MS: '800',
    });
    await waitUntil(() => server.requests.length >= 2, 10_000, 'two requests in flight');
    const signalledAt = Date.now();
    run.child.kill('SIGINT');
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(2500);
    expect(run.stopLine()).toMatchObject({ reason: 'received SIGINT', errors: { timeout: 2 } });
  });
});
