import { ConfigError, loadConfig } from '../../crawler/src/config';
import * as shared from '../../runtime/src/env';
import { CA_FILE, cleanup, removeBundle, runCrawler, thrownConfigError } from './helpers';

afterEach(cleanup);
afterAll(removeBundle);

const base = { PROXY_VENDOR: 'acme', TARGETS: 'https://example.com/' };

function configError(vars: NodeJS.ProcessEnv, load: (vars: NodeJS.ProcessEnv) => unknown = loadConfig): ConfigError {
  return thrownConfigError(() => load(vars));
}

/**
 * runtime/src/env.ts, which the crawler's and the demo gateway's
 * loadConfig both read their variables with; their own tests check only
 * which variable gets which rule.
 */
describe('environment parsing shared by the crawler and the gateway', () => {
  test('values are trimmed; blank is unset', () => {
    expect(shared.read({ A: '  x y ' }, 'A')).toBe('x y');
    expect(shared.read({ A: ' ' }, 'A')).toBeUndefined();
    expect(shared.read({}, 'A')).toBeUndefined();
    expect(shared.positiveNumber({ A: '' }, 'A', 7)).toBe(7);
    expect(shared.integer({ A: ' 12 ' }, 'A', 0, 0, 100)).toBe(12);
  });

  test('positiveNumber: plain decimals greater than 0', () => {
    for (const [raw, value] of [['1', 1], ['0.5', 0.5], ['.25', 0.25], ['2e3', 2000], ['1E-2', 0.01]] as const) expect(shared.positiveNumber({ A: raw }, 'A', 1)).toBe(value);
    for (const raw of ['0', '-1', 'fast', '10rps', '0x10', '+2', 'Infinity', '1e999', '1,5']) {
      expect({ raw, message: configError({ A: raw }, (v) => shared.positiveNumber(v, 'A', 1)).message }).toEqual({ raw, message: `A=${JSON.stringify(raw)}: must be a number greater than 0` });
    }
  });

  test('integer and portNumber: digits only, within the range', () => {
    expect(shared.integer({ A: '100000' }, 'A', 8, 1, 100_000)).toBe(100_000);
    for (const raw of ['0', '2.5', '1e3', '+3', '-3', '100001', 'eight']) {
      expect({ raw, message: configError({ A: raw }, (v) => shared.integer(v, 'A', 8, 1, 100_000)).message }).toEqual({ raw, message: `A=${JSON.stringify(raw)}: must be an integer from 1 to 100000` });
    }
    expect([shared.portNumber({ P: '0' }, 'P', 80), shared.portNumber({ P: '65535' }, 'P', 80), shared.portNumber({}, 'P', 80)]).toEqual([0, 65535, 80]);
    expect(configError({ P: '65536' }, (v) => shared.portNumber(v, 'P', 80)).reason).toBe('must be an integer from 0 to 65535');
    expect(configError({ P: 'http' }, (v) => shared.portNumber(v, 'P', 80)).reason).toBe('must be an integer from 0 to 65535');
  });

  test('boolean and oneOf: a fixed vocabulary, any case', () => {
    expect(['true', 'TRUE', '1', 'yes', 'false', 'No', '0', ''].map((raw) => shared.boolean({ B: raw }, 'B'))).toEqual([true, true, true, true, false, false, false, false]);
    expect(configError({ B: 'maybe' }, (v) => shared.boolean(v, 'B')).reason).toBe('must be true or false');
    expect(shared.oneOf({ V: 'AUTO' }, 'V', ['auto', '1.1'] as const, '1.1')).toBe('auto');
    expect(configError({ V: '3' }, (v) => shared.oneOf(v, 'V', ['auto', '1.1'] as const, '1.1')).reason).toBe('must be one of auto, 1.1');
  });

  test('LOG_LEVEL and LOG_INTERVAL_SECONDS', () => {
    expect(shared.logSettings({})).toEqual({ logLevel: 'info', logIntervalSeconds: 10 });
    expect(shared.logSettings({ LOG_LEVEL: 'Debug', LOG_INTERVAL_SECONDS: '0.5' })).toEqual({ logLevel: 'debug', logIntervalSeconds: 0.5 });
    expect(configError({ LOG_LEVEL: 'verbose' }, shared.logSettings).message).toBe('LOG_LEVEL="verbose": must be one of debug, info, warn, error');
    expect(configError({ LOG_INTERVAL_SECONDS: '0' }, shared.logSettings).message).toBe('LOG_INTERVAL_SECONDS="0": must be a number greater than 0');
  });

  test('a ConfigError never shows URL credentials, nor any value of a *_PASSWORD variable', () => {
    expect(new shared.ConfigError('HTTPS_PROXY', 'http://user:hunter22@:8080', 'is not a usable proxy URL')).toMatchObject({
      variable: 'HTTPS_PROXY',
      value: 'http://***@:8080',
      reason: 'is not a usable proxy URL',
      message: 'HTTPS_PROXY="http://***@:8080": is not a usable proxy URL',
    });
    expect(new shared.ConfigError('TARGETS', 'user:hunter22@host', 'x').value).toBe('***@host');
    expect(new shared.ConfigError('PROXY_PASSWORD', 'hunter22\n', 'x').message).toBe('PROXY_PASSWORD="***": x');
    // Nothing to hide in an unset password.
    expect(new shared.ConfigError('PROXY_PASSWORD', undefined, 'is required').message).toBe('PROXY_PASSWORD="": is required');
    expect(new shared.ConfigError('PAGE_SIZES', '4k=1', 'x').value).toBe('4k=1');
  });
});

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
    // Which rule each variable gets (the rules themselves: above).
    [{ REQUESTS_PER_SECOND: '0' }, 'REQUESTS_PER_SECOND', 'number greater than 0'],
    [{ CONCURRENCY: '0' }, 'CONCURRENCY', 'integer from 1 to 100000'],
    [{ DURATION_SECONDS: '-1' }, 'DURATION_SECONDS', 'number greater than 0'],
    [{ REQUEST_TIMEOUT_MS: 'soon' }, 'REQUEST_TIMEOUT_MS', 'integer from 1 to 3600000'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT', 'integer from 0 to 65535'],
    [{ HTTP_VERSION: '3' }, 'HTTP_VERSION', 'auto, 1.1, 2'],
    [{ H2C: 'maybe' }, 'H2C', 'true or false'],
    [{ H2C: 'true', HTTP_VERSION: '1.1' }, 'H2C', 'conflicts'],
    [{ INSECURE_SKIP_VERIFY: 'sure' }, 'INSECURE_SKIP_VERIFY', 'true or false'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', 'debug, info, warn, error'],
    [{ LOG_INTERVAL_SECONDS: '0' }, 'LOG_INTERVAL_SECONDS', 'number greater than 0'],
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
