import { ConfigError, loadConfig } from '../../crawler/src/config';
import { CA_FILE, cleanup, removeBundle, runCrawler } from './helpers';

afterEach(cleanup);
afterAll(removeBundle);

const base = { PROXY_VENDOR: 'acme', TARGETS: 'https://example.com/' };

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('defaults', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      vendor: 'acme',
      requestsPerSecond: 1,
      concurrency: 8,
      durationSeconds: undefined,
      requestTimeoutMs: 10_000,
      httpVersion: 'auto',
      h2c: false,
      metricsPort: 9102,
      logLevel: 'info',
      tls: { ca: undefined, rejectUnauthorized: true },
    });
    expect(config.targets).toHaveLength(1);
    expect(config.targets[0]).toMatchObject({ scheme: 'https', host: 'example.com', hostname: 'example.com', port: 443, path: '/', mode: 'auto', weight: 1 });
    expect(config.targets[0].proxy).toBeUndefined();
  });

  test('weights, ports, paths and protocol modes', () => {
    const targets = 'https://example.com/=3, http://example.org:8080/get?a=b=2,http://[::1]:81/x,https://example.net/p?page=2=1';
    const auto = loadConfig({ ...base, TARGETS: targets });
    expect(auto.targets.map((t) => [t.url.href, t.weight, t.mode, t.port, t.path])).toEqual([
      ['https://example.com/', 3, 'auto', 443, '/'],
      ['http://example.org:8080/get?a=b', 2, 'http1.1', 8080, '/get?a=b'],
      ['http://[::1]:81/x', 1, 'http1.1', 81, '/x'],
      ['https://example.net/p?page=2', 1, 'auto', 443, '/p?page=2'],
    ]);
    expect(auto.targets[2]).toMatchObject({ host: '[::1]:81', hostname: '::1' });
    expect(loadConfig({ ...base, TARGETS: targets, H2C: 'true' }).targets.map((t) => t.mode)).toEqual(['auto', 'h2c', 'h2c', 'auto']);
    expect(loadConfig({ ...base, TARGETS: targets, HTTP_VERSION: '2' }).targets.map((t) => t.mode)).toEqual(['h2', 'h2c', 'h2c', 'h2']);
    expect(loadConfig({ ...base, TARGETS: targets, HTTP_VERSION: '1.1' }).targets.map((t) => t.mode)).toEqual(['http1.1', 'http1.1', 'http1.1', 'http1.1']);
  });

  test('proxy per target from *_PROXY and NO_PROXY (suffix match, *, lower-case)', () => {
    const env = {
      ...base,
      TARGETS: 'https://a.example.com/,http://b.example.com/,https://internal.corp/,http://plain.net/',
      HTTPS_PROXY: 'http://user:p%40ss@gw.vendor:8080',
      http_proxy: 'gw.vendor:3128',
      NO_PROXY: '.corp,unused.example',
    };
    const proxies = loadConfig(env).targets.map((t) => t.proxy && { href: t.proxy.url.href, display: t.proxy.display, auth: t.proxy.authorization });
    expect(proxies).toEqual([
      { href: 'http://user:p%40ss@gw.vendor:8080/', display: 'http://***@gw.vendor:8080/', auth: `Basic ${Buffer.from('user:p@ss').toString('base64')}` },
      // A scheme-less proxy is plain HTTP, whatever the target's scheme.
      { href: 'http://gw.vendor:3128/', display: 'http://gw.vendor:3128/', auth: undefined },
      undefined,
      { href: 'http://gw.vendor:3128/', display: 'http://gw.vendor:3128/', auth: undefined },
    ]);
    expect(loadConfig({ ...env, NO_PROXY: '*' }).targets.every((t) => t.proxy === undefined)).toBe(true);
    // proxy-from-env semantics: a leading '.' or '*' matches by suffix, a bare name exactly.
    expect(loadConfig({ ...env, NO_PROXY: '*.example.com' }).targets.map((t) => t.proxy !== undefined)).toEqual([false, false, true, true]);
    expect(loadConfig({ ...env, NO_PROXY: 'a.example.com,plain.net:80' }).targets.map((t) => t.proxy !== undefined)).toEqual([false, true, true, false]);
    // The caller's env is used, never the test process's own.
    expect(process.env.HTTPS_PROXY).toBeUndefined();
  });

  test('CA_FILE is read; INSECURE_SKIP_VERIFY turns verification off', () => {
    expect(loadConfig({ ...base, CA_FILE }).tls.ca).toContain('BEGIN CERTIFICATE');
    expect(loadConfig({ ...base, INSECURE_SKIP_VERIFY: 'true' }).tls.rejectUnauthorized).toBe(false);
  });

  test.each([
    [{ PROXY_VENDOR: '' }, 'PROXY_VENDOR', 'is required'],
    [{ PROXY_VENDOR: 'two words' }, 'PROXY_VENDOR', 'printable ASCII'],
    [{ TARGETS: ' ' }, 'TARGETS', 'is required'],
    [{ TARGETS: ',,' }, 'TARGETS', 'no targets'],
    [{ TARGETS: 'not a url' }, 'TARGETS', 'not a valid URL'],
    [{ TARGETS: 'ftp://example.com/' }, 'TARGETS', 'http:// or https://'],
    [{ TARGETS: 'https://example.com/=0' }, 'TARGETS', 'positive integer'],
    [{ TARGETS: 'https://example.com/=-2' }, 'TARGETS', 'positive integer'],
    [{ TARGETS: 'https://example.com/=1.5' }, 'TARGETS', 'positive integer'],
    [{ REQUESTS_PER_SECOND: 'fast' }, 'REQUESTS_PER_SECOND', 'number greater than 0'],
    [{ REQUESTS_PER_SECOND: '0' }, 'REQUESTS_PER_SECOND', 'number greater than 0'],
    [{ REQUESTS_PER_SECOND: '10rps' }, 'REQUESTS_PER_SECOND', 'number greater than 0'],
    [{ CONCURRENCY: '0' }, 'CONCURRENCY', 'integer from 1'],
    [{ CONCURRENCY: '2.5' }, 'CONCURRENCY', 'integer from 1'],
    [{ DURATION_SECONDS: '-1' }, 'DURATION_SECONDS', 'number greater than 0'],
    [{ REQUEST_TIMEOUT_MS: 'soon' }, 'REQUEST_TIMEOUT_MS', 'integer'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT', 'integer from 0 to 65535'],
    [{ HTTP_VERSION: '3' }, 'HTTP_VERSION', 'auto, 1.1, 2'],
    [{ H2C: 'maybe' }, 'H2C', 'true or false'],
    [{ H2C: 'true', HTTP_VERSION: '1.1' }, 'H2C', 'conflicts'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', 'debug, info, warn, error'],
    [{ HTTPS_PROXY: 'http://user:hunter22@' }, 'HTTPS_PROXY', 'proxy URL'],
    [{ http_proxy: 'socks5://gw:1080' }, 'http_proxy', 'unsupported scheme'],
    [{ CA_FILE: '/nonexistent/ca.pem' }, 'CA_FILE', 'cannot be read'],
  ])('%j fails naming %s', (env, variable, reason) => {
    const err = configError({ ...base, ...env });
    expect(err.variable).toBe(variable);
    expect(err.message).toContain(variable);
    expect(err.message).toContain(reason);
    expect(err.message).not.toContain('hunter22');
  });
});

describe('bad configuration in the bundled crawler', () => {
  const cases: Array<[string, Record<string, string>, string, string]> = [
    ['missing PROXY_VENDOR', { PROXY_VENDOR: '' }, 'PROXY_VENDOR', '""'],
    ['empty TARGETS', { TARGETS: '' }, 'TARGETS', '""'],
    ['bad URL', { TARGETS: 'http//nope' }, 'TARGETS', 'http//nope'],
    ['weight 0', { TARGETS: 'http://127.0.0.1:9/=0' }, 'TARGETS', 'http://127.0.0.1:9/=0'],
    ['non-numeric rate', { REQUESTS_PER_SECOND: 'lots' }, 'REQUESTS_PER_SECOND', 'lots'],
    ['bad concurrency', { CONCURRENCY: '-3' }, 'CONCURRENCY', '-3'],
    ['bad proxy URL', { HTTPS_PROXY: 'http://user:hunter22@:8080' }, 'HTTPS_PROXY', 'http://***@:8080'],
    ['bad HTTP_VERSION', { HTTP_VERSION: '3' }, 'HTTP_VERSION', '3'],
  ];

  test('each case exits 2 with a message naming the variable and the value', async () => {
    const runs = cases.map(([, env]) => runCrawler({ TARGETS: 'http://127.0.0.1:9/', ...env }));
    const exits = await Promise.all(runs.map((r) => r.waitForExit()));
    cases.forEach(([name, , variable, shown], i) => {
      const run = runs[i];
      expect({ name, exit: exits[i] }).toEqual({ name, exit: { code: 2, signal: null } });
      expect(run.stderr).toContain(`crawler: invalid configuration: ${variable}=`);
      expect(run.stderr).toContain(shown);
      expect(run.lines()).toEqual([expect.objectContaining({ level: 'error', msg: 'invalid configuration', variable })]);
      expect(run.stdout + run.stderr).not.toContain('hunter22');
    });
  });
});
