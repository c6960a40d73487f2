import { CA_FILE, LOOPBACK, cleanup, removeBundle, runCrawler, startProxy, startServer, waitUntil } from './helpers';

afterEach(cleanup);
afterAll(removeBundle);

// Resolvable only by the test proxy (it sends everything to 127.0.0.1), so a
// request that reaches a server under this name went through the proxy.
const PROXIED_HOST = 'crawl-target.test';
const USER = 'crawler';
const PASSWORD = 'pa55:w0rd/s3cret';
const CREDENTIALS = `${USER}:${PASSWORD}`;
const URL_CREDENTIALS = `${USER}:${encodeURIComponent(PASSWORD)}`;
const BASIC = Buffer.from(CREDENTIALS).toString('base64');

function expectNoSecrets(text: string): void {
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(encodeURIComponent(PASSWORD));
  expect(text).not.toContain(BASIC);
}

describe('crawler through a forward proxy (bundled)', () => {
  test('CONNECT for https (h2 and http/1.1 by ALPN, SNI = target), absolute-form for http, NO_PROXY goes direct', async () => {
    const proxy = await startProxy(CREDENTIALS);
    const h2 = await startServer('h2');
    const tlsH1 = await startServer('https1.1');
    const plain = await startServer('http1.1');
    const direct = await startServer('http1.1');
    const proxyUrl = proxy.url(URL_CREDENTIALS);
    const run = runCrawler({
      PROXY_VENDOR: 'vendor-a',
      TARGETS: [
        `https://${PROXIED_HOST}:${h2.port}/h2`,
        `https://${PROXIED_HOST}:${tlsH1.port}/tls-h1`,
        `http://${PROXIED_HOST}:${plain.port}/plain?q=1=1`,
        `http://${LOOPBACK}:${direct.port}/direct`,
      ].join(','),
      HTTPS_PROXY: proxyUrl,
      http_proxy: proxyUrl,
      NO_PROXY: `example.org,${LOOPBACK}`,
      CA_FILE,
      // As many as the run has slots: none is skipped however slow the machine, so the counts below are exact.
      CONCURRENCY: '40',
      REQUESTS_PER_SECOND: '40',
      DURATION_SECONDS: '1',
      LOG_LEVEL: 'debug',
    });
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
    expect(run.stopLine()).toMatchObject({ requests: 40, codes: { 200: 40 }, errors: {} });

    expect(new Set(h2.requests.map((r) => r.protocol))).toEqual(new Set(['h2']));
    expect(new Set(tlsH1.requests.map((r) => r.protocol))).toEqual(new Set(['http1.1']));
    expect(new Set(plain.requests.map((r) => r.protocol))).toEqual(new Set(['http1.1']));
    for (const server of [h2, tlsH1, plain, direct]) {
      expect(server.requests).toHaveLength(10);
      expect(server.requests.every((r) => r.headers['x-proxy-vendor'] === 'vendor-a')).toBe(true);
      // Proxy credentials never travel to the target.
      expect(server.requests.every((r) => r.headers['proxy-authorization'] === undefined)).toBe(true);
    }
    expect(new Set([...h2.requests, ...tlsH1.requests].map((r) => r.servername))).toEqual(new Set([PROXIED_HOST]));
    expect(plain.requests[0].path).toBe('/plain?q=1');

    const connects = proxy.seen.filter((s) => s.method === 'CONNECT');
    expect(new Set(connects.map((c) => c.target))).toEqual(new Set([`${PROXIED_HOST}:${h2.port}`, `${PROXIED_HOST}:${tlsH1.port}`]));
    // Tunnels are reused (h2 session, keep-alive sockets), not opened per request: at most one per TLS request
    // in flight at once, never one per request of both targets.
    expect(connects.filter((c) => c.target.endsWith(`:${h2.port}`))).toHaveLength(1);
    expect(connects.length).toBeLessThan(20);
    for (const c of connects) {
      expect(c.headers['proxy-authorization']).toBe(`Basic ${BASIC}`);
      expect(c.headers['x-proxy-vendor']).toBe('vendor-a');
      expect(c.headers.host).toBe(c.target);
    }
    const absolute = proxy.seen.filter((s) => s.method === 'GET');
    expect(absolute).toHaveLength(10);
    for (const a of absolute) {
      expect(a.target).toBe(`http://${PROXIED_HOST}:${plain.port}/plain?q=1`);
      expect(a.headers['proxy-authorization']).toBe(`Basic ${BASIC}`);
      expect(a.headers['x-proxy-vendor']).toBe('vendor-a');
    }
    // NO_PROXY matched: the proxy never saw the direct target.
    expect(proxy.seen.some((s) => s.target.includes(String(direct.port)))).toBe(false);

    const start = run.lines().find((l) => l.msg === 'start')!;
    expect(JSON.stringify(start.targets)).toContain(`http://***@${LOOPBACK}:${proxy.port}/`);
    expectNoSecrets(run.stdout + run.stderr);
  });

  test('h2c through a proxy uses a CONNECT tunnel; HTTP_VERSION=1.1 https uses CONNECT too', async () => {
    const proxy = await startProxy();
    const h2c = await startServer('h2c');
    const tls = await startServer('h2');
    const run = runCrawler({
      TARGETS: `http://${PROXIED_HOST}:${h2c.port}/`,
      H2C: 'true',
      HTTP_PROXY: proxy.url(),
      // As many as the run has slots: none is skipped however slow the machine.
      CONCURRENCY: '20',
      REQUESTS_PER_SECOND: '40',
      DURATION_SECONDS: '0.5',
    });
    const http11 = runCrawler({
      TARGETS: `https://${PROXIED_HOST}:${tls.port}/`,
      HTTP_VERSION: '1.1',
      HTTPS_PROXY: proxy.url(),
      CA_FILE,
      CONCURRENCY: '1',
      REQUESTS_PER_SECOND: '40',
      DURATION_SECONDS: '0.5',
    });
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
    expect(await http11.waitForExit()).toEqual({ code: 0, signal: null });
    expect(h2c.requests).toHaveLength(20);
    expect(new Set(h2c.requests.map((r) => r.protocol))).toEqual(new Set(['h2c']));
    // CONCURRENCY=1: a slow first handshake may cost a skipped slot or two.
    const stop = http11.stopLine();
    expect(stop.requests + stop.skipped).toBe(20);
    expect(tls.requests.length).toBe(stop.requests);
    expect(tls.requests.length).toBeGreaterThanOrEqual(15);
    expect(new Set(tls.requests.map((r) => r.protocol))).toEqual(new Set(['http1.1']));
    expect(proxy.seen.map((s) => `${s.method} ${s.target}`).sort()).toEqual(
      [`CONNECT ${PROXIED_HOST}:${h2c.port}`, `CONNECT ${PROXIED_HOST}:${tls.port}`].sort(),
    );
  });

  test('NO_PROXY=* sends everything direct', async () => {
    const proxy = await startProxy();
    const plain = await startServer('http1.1');
    const run = runCrawler({
      TARGETS: `http://${LOOPBACK}:${plain.port}/`,
      HTTP_PROXY: proxy.url(),
      no_proxy: '*',
      REQUESTS_PER_SECOND: '40',
      DURATION_SECONDS: '0.25',
    });
    expect((await run.waitForExit()).code).toBe(0);
    expect(plain.requests).toHaveLength(10);
    expect(proxy.seen).toHaveLength(0);
  });

  test('wrong proxy credentials: 407 counted for http and https (both CONNECT paths), loop goes on, password never logged', async () => {
    const wrong = `${USER}:${encodeURIComponent(`${PASSWORD}-wrong`)}`;
    // One proxy per crawler, so that what each proxy saw is what that crawler sent.
    const runs = await Promise.all(['auto', '1.1'].map(async (httpVersion) => {
      const proxy = await startProxy(CREDENTIALS);
      const run = runCrawler({
        TARGETS: [`https://${PROXIED_HOST}:443/a`, `http://${PROXIED_HOST}:80/b`].join(','),
        HTTPS_PROXY: proxy.url(wrong),
        HTTP_PROXY: proxy.url(wrong),
        HTTP_VERSION: httpVersion,
        REQUESTS_PER_SECOND: '40',
        LOG_LEVEL: 'debug',
        // The proxy agents' `debug` output would print the proxy URL; the bundle stubs it out.
        DEBUG: '*',
      });
      return { proxy, run };
    }));
    const seen = (proxy: (typeof runs)[number]['proxy'], method: string) => proxy.seen.filter((r) => r.method === method).length;
    // Counted, not timed: each crawler runs until its proxy has refused ten CONNECTs and ten GETs.
    await waitUntil(() => runs.every(({ proxy }) => seen(proxy, 'CONNECT') >= 10 && seen(proxy, 'GET') >= 10), 60_000, 'ten refused CONNECTs and GETs per crawler');
    for (const { run } of runs) run.child.kill('SIGTERM');
    for (const { proxy, run } of runs) {
      expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
      // The loop went on past every refusal; every request was answered 407, both kinds among them.
      const stop = run.stopLine();
      expect(stop.codes).toEqual({ 407: stop.requests });
      expect(stop.requests).toBeGreaterThanOrEqual(seen(proxy, 'GET') + 1);
      const output = run.stdout + run.stderr;
      expectNoSecrets(output);
      expect(output).not.toContain(`${PASSWORD}-wrong`);
      expect(output).not.toContain(encodeURIComponent(`${PASSWORD}-wrong`));
    }
  });

  test('a proxy that never answers CONNECT: timeouts counted, tunnels closed (no socket pile-up)', async () => {
    const proxy = await startProxy(undefined, 'silent');
    const env = {
      TARGETS: `https://${PROXIED_HOST}:443/`,
      HTTPS_PROXY: proxy.url(),
      REQUESTS_PER_SECOND: '40',
      CONCURRENCY: '40',
      REQUEST_TIMEOUT_MS: '200',
    };
    const auto = runCrawler(env);
    const http11 = runCrawler({ ...env, HTTP_VERSION: '1.1' });
    await waitUntil(() => proxy.seen.length >= 60, 10_000, 'sixty CONNECT attempts');
    // ~80 attempts so far; only those of the last ~200 ms may still be open.
    expect(proxy.openSockets()).toBeLessThan(30);
    for (const run of [auto, http11]) {
      run.child.kill('SIGTERM');
      expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
      const stop = run.stopLine();
      expect(stop.errors.timeout).toBeGreaterThanOrEqual(20);
      expect(stop.errors.timeout).toBe(stop.requests);
    }
  });
});
