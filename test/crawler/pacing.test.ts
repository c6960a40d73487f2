import { LOOPBACK, cleanup, metricValue, removeBundle, runCrawler, scrapeMetrics, startServer, unusedPort, waitUntil } from './helpers';

afterEach(cleanup);
afterAll(removeBundle);

describe('crawler pacing and shutdown (bundled)', () => {
  test('50 requests/s for 3 s: every slot scheduled, steady per second, weights honoured', async () => {
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
    // Open loop from the start time: each full second carries ~50 requests. The bounds leave room for a stall
    // of a few hundred milliseconds on a busy machine (slots that came due meanwhile start at once afterwards).
    const first = Math.min(...times);
    for (let second = 0; second < 3; second++) {
      const inSecond = times.filter((t) => t >= first + second * 1000 && t < first + (second + 1) * 1000).length;
      expect(inSecond).toBeGreaterThanOrEqual(35);
      expect(inSecond).toBeLessThanOrEqual(65);
    }
    const heavy = server.requests.filter((r) => r.path === '/heavy').length;
    const light = server.requests.filter((r) => r.path === '/light').length;
    expect(Math.abs(heavy - 3 * light)).toBeLessThanOrEqual(4);
    const stop = run.stopLine();
    expect(stop.requests).toBe(times.length);
    // 3 s at 50/s is exactly 150 slots, each started or counted as skipped.
    expect((stop.requests as number) + (stop.skipped as number)).toBe(150);
    // The last slot is due at 2.98 s; half the rate would need 6 s.
    expect(stop.elapsedSeconds as number).toBeGreaterThanOrEqual(2.9);
    expect(stop.elapsedSeconds as number).toBeLessThan(5);
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
    run.child.kill('SIGTERM');
    // Counted, not timed: the five requests seen before the signal are the only ones, and the crawler
    // exits only after the server has completed all five (each takes 1 s).
    const exited = run.waitForExit().then((status) => ({ status, completedAtExit: server.completed }));
    const { status, completedAtExit } = await exited;
    expect(status).toEqual({ code: 0, signal: null });
    expect(server.requests).toHaveLength(5);
    expect(completedAtExit).toBe(5);
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
    run.child.kill('SIGINT');
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
    // Exited before either 30 s response was sent: the 800 ms timeout, not the server, ended the drain.
    expect(server.completed).toBe(0);
    expect(run.stopLine()).toMatchObject({ reason: 'received SIGINT', requests: 2, errors: { timeout: 2 } });
  });
});
