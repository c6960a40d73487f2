import {
  LOOPBACK,
  OUTBOUND_MARK,
  StopLine,
  cleanup,
  demoCaFiles,
  gatewayValue,
  metricValue as metricValueOf,
  removeTemporaryFiles,
  runCrawler,
  scrapeUntil,
  startGateway,
  startHoldServer,
  unusedPort,
  waitUntil,
} from './helpers';

afterEach(cleanup);
afterAll(removeTemporaryFiles);

const USER = 'crawler';
const PASSWORD = 'pa55:w0rd/s3cret';
const URL_CREDENTIALS = `${USER}:${encodeURIComponent(PASSWORD)}`;
const AUTH = { PROXY_USERNAME: USER, PROXY_PASSWORD: PASSWORD };

// 40 requests/s for 0.5 s: exactly 20 slots, and with CONCURRENCY=20 none
// can be skipped (slot k starts with at most k-1 requests in flight).
const TWENTY_REQUESTS = { REQUESTS_PER_SECOND: '40', DURATION_SECONDS: '0.5', CONCURRENCY: '20' };

describe('the synthetic crawler through the demo gateway (both bundled)', () => {
  test('http (absolute-form), https over h2 and HTTP/1.1, h2c: 200 pages of the size mix, and the gateway counts what the crawler counts', async () => {
    const gateway = await startGateway({ ...AUTH, PAGE_SIZES: '1000=1,3000=1' });
    const proxy = gateway.proxyUrl(URL_CREDENTIALS);
    const { certFile } = demoCaFiles();
    // One crawler per site, so each site's numbers can be set against that crawler's own totals.
    const sites = {
      'news.example': runCrawler({ ...TWENTY_REQUESTS, TARGETS: 'http://news.example/front?page=1=1', HTTP_PROXY: proxy }),
      'shop.example': runCrawler({ ...TWENTY_REQUESTS, TARGETS: 'https://shop.example/cart', HTTPS_PROXY: proxy, CA_FILE: certFile, HTTP_VERSION: '2' }),
      'docs.example:8443': runCrawler({ ...TWENTY_REQUESTS, TARGETS: 'https://docs.example:8443/guide', HTTPS_PROXY: proxy, CA_FILE: certFile, HTTP_VERSION: '1.1' }),
      'api.example': runCrawler({ ...TWENTY_REQUESTS, TARGETS: 'http://api.example/v1', HTTP_PROXY: proxy, HTTP_VERSION: '2' }),
    };
    const stops: Record<string, StopLine> = {};
    for (const [site, run] of Object.entries(sites)) {
      expect({ site, exit: await run.waitForExit() }).toEqual({ site, exit: { code: 0, signal: null } });
      stops[site] = run.stopLine();
      expect({ site, ...stops[site] }).toMatchObject({ site, requests: 20, skipped: 0, codes: { 200: 20 }, errors: {} });
    }

    const metrics = await gateway.metrics();
    const value = (name: string, labels: Record<string, string>): number => metricValueOf(metrics, name, labels);
    const protocols: Record<string, string> = { 'news.example': 'http1.1', 'shop.example': 'h2', 'docs.example:8443': 'http1.1', 'api.example': 'h2c' };
    for (const [site, protocol] of Object.entries(protocols)) {
      // Every page request of this site, on the protocol the crawler asked for.
      const pages = value('gateway_requests_total', { site, code: '200' }) - value('gateway_requests_total', { site, protocol: 'connect' });
      expect({ site, pages }).toEqual({ site, pages: stops[site].codes['200'] });
      expect({ site, onProtocol: value('gateway_requests_total', { site, protocol, code: '200' }) }).toEqual({ site, onProtocol: 20 });
      expect({ site, bytes: value('gateway_response_bytes_total', { site }) }).toEqual({ site, bytes: stops[site].responseBytes });
    }
    // 80 pages alternating 1000 and 3000 bytes: exactly 40 of each.
    expect(Object.values(stops).reduce((sum, s) => sum + s.responseBytes, 0)).toBe(40 * 1000 + 40 * 3000);
    expect(value('gateway_requests_total', { code: '407' }) + value('gateway_requests_total', { code: '429' })).toBe(0);

    // Plain http goes absolute-form, everything else through tunnels.
    expect(value('gateway_tunnels_total', { site: 'news.example' })).toBe(0);
    for (const site of ['shop.example', 'docs.example:8443', 'api.example']) {
      const tunnels = value('gateway_tunnels_total', { site });
      expect({ site, tunnels }).toEqual({ site, tunnels: value('gateway_requests_total', { site, protocol: 'connect', code: '200' }) });
      expect({ site, tunnels: tunnels >= 1 }).toEqual({ site, tunnels: true });
    }
    // The h2 crawler shares one session; ALPN picked h2 there, and never for the HTTP/1.1 crawler.
    expect(value('gateway_tunnels_total', { site: 'shop.example' })).toBe(1);
    expect(value('gateway_tls_handshakes_total', { site: 'shop.example', alpn: 'h2' })).toBe(1);
    expect(value('gateway_tls_handshakes_total', { site: 'docs.example:8443', alpn: 'h2' })).toBe(0);
    expect(value('gateway_tls_handshakes_total', { site: 'docs.example:8443' })).toBe(value('gateway_tunnels_total', { site: 'docs.example:8443' }));
    expect(value('gateway_tls_handshakes_total', { alpn: 'failed' })).toBe(0);
    expect(value('gateway_tls_handshakes_total', { site: 'api.example' })).toBe(0);
    // On the wire there is more than the bodies: heads, and TLS records.
    expect(value('gateway_wire_bytes_total', { direction: 'sent' })).toBeGreaterThan(160_000);

    expect(await gateway.stop()).toEqual({ code: 0, signal: null });
    expect(gateway.stderr).not.toContain(OUTBOUND_MARK);
    const output = gateway.stdout + gateway.stderr;
    expect(output).not.toContain(PASSWORD);
    expect(output).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
  });

  test('straight to the site port (no proxy): http and https, HTTP/1.1, h2 by ALPN and h2c; no authentication or rate limit there; counts equal the crawler\'s', async () => {
    // Every proxy request would be refused (429 after 407), and none of this goes through the proxy.
    const gateway = await startGateway({ ...AUTH, RATE_LIMIT_SHARE: '1', SITE_PORT: '0', SITE_HOST: LOOPBACK, PAGE_SIZES: '1000=1,3000=1' });
    const port = gateway.sitePort;
    expect(port).toBeGreaterThan(0);
    const { certFile } = demoCaFiles();
    // localhost resolves without DNS (hosts file); 127.0.0.1 gets no SNI, so its certificate is for the address connected to.
    const runs = {
      'localhost h2': { site: `localhost:${port}`, protocol: 'h2', run: runCrawler({ ...TWENTY_REQUESTS, TARGETS: `https://localhost:${port}/cart`, CA_FILE: certFile }) },
      '127.0.0.1 https/1.1': { site: `${LOOPBACK}:${port}`, protocol: 'http1.1', run: runCrawler({ ...TWENTY_REQUESTS, TARGETS: `https://${LOOPBACK}:${port}/ip`, CA_FILE: certFile, HTTP_VERSION: '1.1' }) },
      'localhost http/1.1': { site: `localhost:${port}`, protocol: 'http1.1', run: runCrawler({ ...TWENTY_REQUESTS, TARGETS: `http://localhost:${port}/front?page=1` }) },
      '127.0.0.1 h2c': { site: `${LOOPBACK}:${port}`, protocol: 'h2c', run: runCrawler({ ...TWENTY_REQUESTS, TARGETS: `http://${LOOPBACK}:${port}/api`, H2C: 'true' }) },
    };
    const stops: Record<string, StopLine> = {};
    for (const [name, { run }] of Object.entries(runs)) {
      expect({ name, exit: await run.waitForExit() }).toEqual({ name, exit: { code: 0, signal: null } });
      stops[name] = run.stopLine();
      expect({ name, ...stops[name] }).toMatchObject({ name, requests: 20, skipped: 0, codes: { 200: 20 }, errors: {} });
    }

    const metrics = await gateway.metrics();
    const value = (name: string, labels: Record<string, string>): number => metricValueOf(metrics, name, labels);
    // Each crawler is alone on its (site, protocol) pair: the gateway's numbers there are that crawler's.
    for (const [name, { site, protocol }] of Object.entries(runs)) {
      const at = { site, path: 'direct', protocol };
      expect({ name, requests: value('gateway_requests_total', at) }).toEqual({ name, requests: stops[name].requests });
      expect({ name, ok: value('gateway_requests_total', { ...at, code: '200' }) }).toEqual({ name, ok: stops[name].codes['200'] });
      expect({ name, bytes: value('gateway_response_bytes_total', at) }).toEqual({ name, bytes: stops[name].responseBytes });
    }
    expect(value('gateway_requests_total', { path: 'direct' })).toBe(80);
    expect(Object.values(stops).reduce((sum, s) => sum + s.responseBytes, 0)).toBe(40 * 1000 + 40 * 3000);
    expect(value('gateway_response_bytes_total', { path: 'direct' })).toBe(40 * 1000 + 40 * 3000);
    // Nothing went through the proxy port: no tunnels, no proxy requests.
    expect(value('gateway_requests_total', { path: 'proxy' })).toBe(0);
    expect(value('gateway_tunnels_total', {})).toBe(0);
    // ALPN chose h2 for the auto crawler's one session; handshakes carry the SNI name, '-' without SNI.
    expect(value('gateway_tls_handshakes_total', { site: 'localhost', path: 'direct', alpn: 'h2' })).toBe(1);
    // The HTTP/1.1 crawler offers no ALPN.
    expect(value('gateway_tls_handshakes_total', { site: '-', path: 'direct', alpn: 'none' })).toBeGreaterThanOrEqual(1);
    expect(value('gateway_tls_handshakes_total', { site: '-', alpn: 'h2' })).toBe(0);
    expect(value('gateway_tls_handshakes_total', { alpn: 'failed' })).toBe(0);
    expect(value('gateway_wire_bytes_total', { path: 'direct', direction: 'sent' })).toBeGreaterThan(160_000);
    expect(value('gateway_wire_bytes_total', { path: 'proxy' })).toBe(0);

    expect(await gateway.stop()).toEqual({ code: 0, signal: null });
    expect(gateway.stderr).not.toContain(OUTBOUND_MARK);
    expect(gateway.stopLine()).toMatchObject({ requests: 80, paths: { direct: 80 }, forcedConnections: 0, unfinishedRequests: 0 });
  });

  test('side by side: crawler_requests_total and crawler_response_bytes_total per host equal the gateway\'s per site', async () => {
    const gateway = await startGateway({ PAGE_SIZES: '2000=1,5000=3' });
    const hold = await startHoldServer();
    const crawlerMetricsPort = await unusedPort();
    // 30 requests, 10 per target; the held ones keep the crawler (and its metrics) up.
    const run = runCrawler({
      REQUESTS_PER_SECOND: '60',
      DURATION_SECONDS: '0.5',
      CONCURRENCY: '30',
      TARGETS: `http://news.example/,https://shop.example/,http://${LOOPBACK}:${hold.port}/held`,
      HTTP_PROXY: gateway.proxyUrl(),
      HTTPS_PROXY: gateway.proxyUrl(),
      NO_PROXY: LOOPBACK,
      CA_FILE: demoCaFiles().certFile,
      METRICS_PORT: String(crawlerMetricsPort),
      METRICS_HOST: LOOPBACK,
    });
    // The last slot is a held one: wait for it too, not only for the gateway's 20.
    await waitUntil(() => hold.received() === 10, 20_000, 'ten held requests');
    const crawler = await scrapeUntil(
      crawlerMetricsPort,
      (text) => metricValueOf(text, 'crawler_requests_total', { host: 'news.example' }) + metricValueOf(text, 'crawler_requests_total', { host: 'shop.example' }) === 20,
      'the crawler to count its 20 gateway requests',
    );
    const served = await gateway.metrics();
    for (const [site, protocol] of [['news.example', 'http1.1'], ['shop.example', 'h2']]) {
      const requests = metricValueOf(crawler, 'crawler_requests_total', { host: site, protocol, code: '200' });
      expect({ site, requests }).toEqual({ site, requests: 10 });
      expect({ site, requests: metricValueOf(served, 'gateway_requests_total', { site, protocol, code: '200' }) }).toEqual({ site, requests });
      const bytes = metricValueOf(crawler, 'crawler_response_bytes_total', { host: site, protocol });
      expect({ site, bytes: metricValueOf(served, 'gateway_response_bytes_total', { site, protocol }) }).toEqual({ site, bytes });
    }
    // 20 pages of the mix 2000=1,5000=3: exactly 5 of 2000 bytes and 15 of 5000.
    expect(metricValueOf(served, 'gateway_response_bytes_total', {})).toBe(5 * 2000 + 15 * 5000);
    hold.release();
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
    expect(run.stopLine()).toMatchObject({ requests: 30, codes: { 200: 30 } });
  });

  test('wrong or missing credentials: 407 for absolute-form and for CONNECT (no tunnel), counted alike on both sides', async () => {
    const gateway = await startGateway(AUTH);
    const wrong = gateway.proxyUrl(`${USER}:${encodeURIComponent(`${PASSWORD}-wrong`)}`);
    const missing = gateway.proxyUrl();
    // Two targets by smooth weighted round-robin: exactly 10 requests each.
    const targets = 'https://shop.example/a,http://news.example/b';
    const runs = [
      runCrawler({ ...TWENTY_REQUESTS, TARGETS: targets, HTTP_PROXY: wrong, HTTPS_PROXY: wrong }),
      runCrawler({ ...TWENTY_REQUESTS, TARGETS: targets, HTTP_PROXY: missing, HTTPS_PROXY: missing }),
    ];
    for (const run of runs) {
      expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
      expect(run.stopLine()).toMatchObject({ requests: 20, codes: { 407: 20 }, errors: {} });
    }
    const metrics = await gateway.metrics();
    expect(metricValueOf(metrics, 'gateway_requests_total', { code: '407', site: 'news.example', protocol: 'http1.1' })).toBe(20);
    expect(metricValueOf(metrics, 'gateway_requests_total', { code: '407', site: 'shop.example', protocol: 'connect' })).toBe(20);
    expect(metricValueOf(metrics, 'gateway_requests_total', {})).toBe(40);
    expect(metricValueOf(metrics, 'gateway_tunnels_total', {})).toBe(0);
    expect(metricValueOf(metrics, 'gateway_tls_handshakes_total', {})).toBe(0);
    expect(await gateway.stop()).toEqual({ code: 0, signal: null });
    expect(gateway.stdout + gateway.stderr).not.toContain(PASSWORD);
  });

  test('RATE_LIMIT_SHARE=0.25: exactly a quarter of the requests get 429, on both sides', async () => {
    const gateway = await startGateway({ RATE_LIMIT_SHARE: '0.25' });
    // 80 requests/s for 0.5 s: 40 requests, of which the 4th, 8th, ... 40th are refused.
    const run = runCrawler({ REQUESTS_PER_SECOND: '80', DURATION_SECONDS: '0.5', CONCURRENCY: '40', TARGETS: 'http://news.example/', HTTP_PROXY: gateway.proxyUrl() });
    expect(await run.waitForExit()).toEqual({ code: 0, signal: null });
    expect(run.stopLine()).toMatchObject({ requests: 40, codes: { 200: 30, 429: 10 } });
    expect(await gatewayValue(gateway, 'gateway_requests_total', { site: 'news.example', code: '429' })).toBe(10);
    expect(await gatewayValue(gateway, 'gateway_requests_total', { site: 'news.example', code: '200' })).toBe(30);
    expect(await gateway.stop()).toEqual({ code: 0, signal: null });
  });
});
