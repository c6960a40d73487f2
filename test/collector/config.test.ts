import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, loadConfig } from '../../collector/src/config';
import { UsageConfig, UsageConfigError, credentialVariables, expandUrl, parseUsageConfig } from '../../collector/src/usage-config';
import { COLLECTOR_ENV_VARIABLES, parseUsageConfig as exported } from '../../collector';
import { tempDir } from '../support/temp-dir';
import { thrownConfigError } from '../crawler/helpers';

/** The example of collector/README.md. */
const EXAMPLE = {
  sources: [
    {
      vendor: 'vendor-a',
      kind: 'http',
      url: 'http://usage.vendor-a.example:9092/v1/usage?from={from}&to={to}',
      timeFormat: 'iso',
      auth: { type: 'bearer', tokenEnv: 'USAGE_TOKEN_VENDOR_A' },
      intervalSeconds: 60,
      timeoutSeconds: 10,
      lookbackHours: 48,
      onDecrease: 'revision',
      mapping: { records: 'usage', account: 'account', start: 'hour', bytes: 'bytes', requests: 'requests', bytesUnit: 'B', timeZone: 'UTC' },
    },
    {
      vendor: 'vendor-c',
      kind: 'file',
      path: '/var/run/proxy-usage/vendor-c.csv',
      format: 'csv',
      intervalSeconds: 300,
      lookbackHours: 48,
      onDecrease: 'revision',
      mapping: { account: 'Sub-user', start: 'Hour (UTC)', bytes: 'Traffic (GB)', bytesUnit: 'GB', requests: 'Requests' },
    },
  ],
};

type Json = Record<string, unknown>;
const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function usageError(json: unknown): UsageConfigError {
  try {
    parseUsageConfig(json);
  } catch (err) {
    if (err instanceof UsageConfigError) return err;
    throw err;
  }
  throw new Error('expected a UsageConfigError');
}

/** The example with `edit` applied to a copy. */
function edited(edit: (c: { sources: Json[] }) => void): unknown {
  const c = clone(EXAMPLE) as unknown as { sources: Json[] };
  edit(c);
  return c;
}

const http = (c: { sources: Json[] }): Json => c.sources[0];
const file = (c: { sources: Json[] }): Json => c.sources[1];
const mappingOf = (s: Json): Json => s.mapping as Json;

describe('usage configuration', () => {
  test('the example parses, with every default filled in; the package entry exports the same function', () => {
    const parsed = parseUsageConfig(EXAMPLE);
    expect(exported).toBe(parseUsageConfig);
    expect(parsed.sources[0]).toEqual({ ...EXAMPLE.sources[0], mapping: { ...EXAMPLE.sources[0].mapping, bytes: ['bytes'] } });
    expect(parsed.sources[1]).toEqual({ ...EXAMPLE.sources[1], mapping: { ...EXAMPLE.sources[1].mapping, bytes: ['Traffic (GB)'], timeZone: 'UTC' } });
  });

  test('defaults: interval 60 s, timeout 10 s, lookback 48 h, revision, iso, B, UTC, records = the body', () => {
    const parsed = parseUsageConfig({ sources: [{ vendor: 'v', kind: 'http', url: 'https://usage.example/', mapping: { bytes: ['up', 'down'] } }] });
    expect(parsed).toEqual({
      sources: [
        { vendor: 'v', kind: 'http', url: 'https://usage.example/', timeFormat: 'iso', timeoutSeconds: 10, intervalSeconds: 60, lookbackHours: 48, onDecrease: 'revision', mapping: { records: '', bytes: ['up', 'down'], bytesUnit: 'B', timeZone: 'UTC' } },
      ],
    });
    const json = parseUsageConfig({ sources: [{ vendor: 'w', kind: 'file', path: '/data/w.json', format: 'json', mapping: { records: 'data', bytes: 'b' } }] });
    expect(json.sources[0]).toMatchObject({ kind: 'file', format: 'json', mapping: { records: 'data', bytes: ['b'] } });
  });

  test('the parsed configuration, written as JSON, parses to itself', () => {
    const parsed = parseUsageConfig(EXAMPLE);
    expect(parseUsageConfig(clone(parsed))).toEqual(parsed);
  });

  test.each<[string, (c: { sources: Json[] }) => void, string]>([
    ['root', (c) => Object.assign(c, { extra: 1 }), 'extra="1": is not a known property (known: sources)'],
    ['no sources', (c) => (c.sources = []), 'sources="[]": must be a non-empty array'],
    ['kind', (c) => (http(c).kind = 'ftp'), 'sources[0].kind="ftp": must be one of http, file'],
    ['unknown key', (c) => (http(c).interval = 5), 'sources[0].interval="5": is not a known property (known: vendor, kind, intervalSeconds, lookbackHours, onDecrease, mapping, url, timeFormat, auth, timeoutSeconds)'],
    ['http key on a file source', (c) => (file(c).url = 'http://x/'), 'sources[1].url="http://x/": is not a known property'],
    ['vendor', (c) => (http(c).vendor = 'Vendor_A'), 'sources[0].vendor="Vendor_A": must be a DNS label'],
    ['missing vendor', (c) => delete http(c).vendor, 'sources[0].vendor="": is required'],
    ['duplicate vendor', (c) => (file(c).vendor = 'vendor-a'), 'sources[1].vendor="vendor-a": is already the vendor of sources[0]'],
    ['url scheme', (c) => (http(c).url = 'ftp://usage.example/'), 'sources[0].url="ftp://usage.example/": must be an http:// or https:// URL'],
    ['url', (c) => (http(c).url = 'not a url'), 'sources[0].url="not a url": is not a valid URL'],
    ['url credentials, not shown', (c) => (http(c).url = ['https://me', 'secret@usage.example/'].join(':')), 'sources[0].url="https://***@usage.example/": must not contain credentials: use auth'],
    ['placeholder', (c) => (http(c).url = 'https://usage.example/?day={day}'), 'sources[0].url="https://usage.example/?day={day}": has an unknown placeholder {day} (known: {from}, {to})'],
    ['timeFormat', (c) => (http(c).timeFormat = 'rfc2822'), 'sources[0].timeFormat="rfc2822": must be one of iso, unix, unix-ms'],
    ['intervalSeconds 0', (c) => (http(c).intervalSeconds = 0), 'sources[0].intervalSeconds="0": must be an integer from 1 to 86400'],
    ['intervalSeconds string', (c) => (http(c).intervalSeconds = '60'), 'sources[0].intervalSeconds="60": must be an integer from 1 to 86400'],
    ['intervalSeconds fraction', (c) => (http(c).intervalSeconds = 1.5), 'sources[0].intervalSeconds="1.5": must be an integer'],
    ['timeoutSeconds', (c) => (http(c).timeoutSeconds = -1), 'sources[0].timeoutSeconds="-1": must be a number greater than 0, at most 300'],
    ['lookbackHours', (c) => (file(c).lookbackHours = 0), 'sources[1].lookbackHours="0": must be an integer from 1 to 8784'],
    ['onDecrease', (c) => (file(c).onDecrease = 'ignore'), 'sources[1].onDecrease="ignore": must be one of revision, reset'],
    ['auth type', (c) => (http(c).auth = { type: 'oauth' }), 'sources[0].auth.type="oauth": must be one of bearer, basic, header'],
    ['auth not an object', (c) => (http(c).auth = 'bearer'), 'sources[0].auth="bearer": must be an object'],
    ['source not an object', (c) => (c.sources[1] = 'vendor-c' as unknown as Json), 'sources[1]="vendor-c": must be an object'],
    ['auth key', (c) => (http(c).auth = { type: 'bearer', token: 'x' }), 'sources[0].auth.token="x": is not a known property (known: type, tokenEnv)'],
    ['tokenEnv', (c) => (http(c).auth = { type: 'bearer', tokenEnv: 'my-token' }), 'sources[0].auth.tokenEnv="my-token": must be an environment variable name'],
    ['own variable', (c) => (http(c).auth = { type: 'bearer', tokenEnv: 'METRICS_PORT' }), 'sources[0].auth.tokenEnv="METRICS_PORT": must not be one of the collector\'s own variables'],
    ['basic', (c) => (http(c).auth = { type: 'basic', usernameEnv: 'U' }), 'sources[0].auth.passwordEnv="": is required'],
    ['header name', (c) => (http(c).auth = { type: 'header', name: 'X Api Key', valueEnv: 'K' }), 'sources[0].auth.name="X Api Key": must be an HTTP header name'],
    ['reserved header', (c) => (http(c).auth = { type: 'header', name: 'Host', valueEnv: 'K' }), 'sources[0].auth.name="Host": is set by the collector or the transport'],
    ['auth on a file source', (c) => (file(c).auth = { type: 'bearer', tokenEnv: 'T' }), 'sources[1].auth='],
    ['file path', (c) => (file(c).path = 'usage.csv'), 'sources[1].path="usage.csv": must be an absolute path'],
    ['format', (c) => (file(c).format = 'xlsx'), 'sources[1].format="xlsx": must be one of csv, json'],
    ['mapping missing', (c) => delete http(c).mapping, 'sources[0].mapping="": is required'],
    ['bytesUnit', (c) => (mappingOf(file(c)).bytesUnit = 'kB'), 'sources[1].mapping.bytesUnit="kB": must be one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB'],
    ['timeZone', (c) => (mappingOf(http(c)).timeZone = 'Mars/Olympus'), 'sources[0].mapping.timeZone="Mars/Olympus": must be an IANA time zone'],
    ['bytes missing', (c) => delete mappingOf(http(c)).bytes, 'sources[0].mapping.bytes="": is required'],
    ['bytes empty list', (c) => (mappingOf(http(c)).bytes = []), 'sources[0].mapping.bytes="[]": must name at least one field'],
    ['bytes entry', (c) => (mappingOf(http(c)).bytes = ['up', 3]), 'sources[0].mapping.bytes[1]="3": must be a string'],
    ['field path', (c) => (mappingOf(http(c)).start = 'usage..hour'), 'sources[0].mapping.start="usage..hour": must be a dotted field path'],
    ['records on csv', (c) => (mappingOf(file(c)).records = 'rows'), 'sources[1].mapping.records="rows": is not a known property'],
    ['mapping key', (c) => (mappingOf(http(c)).upload = 'up'), 'sources[0].mapping.upload="up": is not a known property'],
    ['requests empty', (c) => (mappingOf(file(c)).requests = ' '), 'sources[1].mapping.requests=" ": must not be empty'],
  ])('%s: the error names the path and the value', (_name, edit, message) => {
    const err = usageError(edited(edit));
    expect(err.message.startsWith(message) ? message : err.message).toBe(message);
  });

  test('a key set to undefined (by a JavaScript caller) is absent, known or not', () => {
    const parsed = parseUsageConfig({ sources: [{ vendor: 'c', kind: 'file', path: '/x.csv', format: 'csv', intervalSeconds: undefined, url: undefined, mapping: { bytes: 'b', records: undefined } }] });
    expect(parsed.sources[0]).toEqual({ vendor: 'c', kind: 'file', path: '/x.csv', format: 'csv', intervalSeconds: 60, lookbackHours: 48, onDecrease: 'revision', mapping: { bytes: ['b'], bytesUnit: 'B', timeZone: 'UTC' } });
  });

  test('a root that is not an object', () => {
    expect(usageError([]).message).toBe('(root)="[]": must be an object');
    expect(usageError(null).message).toBe('(root)="null": must be an object');
  });

  test('CSV column names are taken as written (dots included); JSON field paths are dotted', () => {
    const csv = parseUsageConfig({ sources: [{ vendor: 'c', kind: 'file', path: '/x.csv', format: 'csv', mapping: { bytes: 'Traffic.GB..' } }] });
    expect(csv.sources[0].mapping.bytes).toEqual(['Traffic.GB..']);
  });

  test('credentialVariables: every variable the sources name, once', () => {
    const c = parseUsageConfig(
      edited((c) => {
        c.sources.push({ vendor: 'b', kind: 'http', url: 'https://b.example/', auth: { type: 'basic', usernameEnv: 'B_USER', passwordEnv: 'B_PASSWORD' }, mapping: { bytes: 'x' } });
        c.sources.push({ vendor: 'h', kind: 'http', url: 'https://h.example/', auth: { type: 'header', name: 'X-Api-Key', valueEnv: 'USAGE_TOKEN_VENDOR_A' }, mapping: { bytes: 'x' } });
      }),
    );
    expect(credentialVariables(c)).toEqual(['USAGE_TOKEN_VENDOR_A', 'B_USER', 'B_PASSWORD']);
  });

  test('{from} and {to} are replaced in the URL as timeFormat says', () => {
    const from = Date.parse('2026-12-04T13:00:00Z');
    const to = Date.parse('2026-12-06T13:00:00Z');
    expect(expandUrl('http://h/u?from={from}&to={to}', from, to, 'iso')).toBe('http://h/u?from=2026-12-04T13:00:00Z&to=2026-12-06T13:00:00Z');
    expect(expandUrl('http://h/u/{from}/{to}', from, to, 'unix')).toBe(`http://h/u/${from / 1000}/${to / 1000}`);
    expect(expandUrl('http://h/u?since={from}', from, to, 'unix-ms')).toBe(`http://h/u?since=${from}`);
  });
});

describe('collector configuration (environment and usage file)', () => {
  const dir = tempDir('collector-config');
  const write = (name: string, content: string): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, content);
    return p;
  };
  const exampleFile = write('usage.json', JSON.stringify(EXAMPLE));
  const env = { USAGE_CONFIG_FILE: exampleFile, USAGE_TOKEN_VENDOR_A: 'token-of-vendor-a' };
  const configError = (vars: NodeJS.ProcessEnv): ConfigError => thrownConfigError(() => loadConfig(vars));

  test('defaults: metrics on 9466, every address; info; credentials as request headers', () => {
    const config = loadConfig(env);
    expect(config).toMatchObject({ configFile: exampleFile, metricsPort: 9466, metricsHost: undefined, logLevel: 'info', logIntervalSeconds: 10 });
    expect(config.sources.map((s) => s.vendor)).toEqual(['vendor-a', 'vendor-c']);
    expect(config.credentials).toEqual(new Map([['vendor-a', { headers: { authorization: 'Bearer token-of-vendor-a' }, secrets: [{ username: '', password: 'token-of-vendor-a' }] }]]));
    expect(loadConfig({ ...env, METRICS_PORT: '9000', METRICS_HOST: '127.0.0.1', LOG_LEVEL: 'debug' })).toMatchObject({ metricsPort: 9000, metricsHost: '127.0.0.1', logLevel: 'debug' });
  });

  test('basic and header credentials', () => {
    const usage: UsageConfig = parseUsageConfig({
      sources: [
        { vendor: 'b', kind: 'http', url: 'https://b.example/', auth: { type: 'basic', usernameEnv: 'B_USER', passwordEnv: 'B_PASSWORD' }, mapping: { bytes: 'x' } },
        { vendor: 'h', kind: 'http', url: 'https://h.example/', auth: { type: 'header', name: 'X-Api-Key', valueEnv: 'H_KEY' }, mapping: { bytes: 'x' } },
      ],
    });
    const config = loadConfig({ USAGE_CONFIG_FILE: write('auth.json', JSON.stringify(usage)), B_USER: 'me', B_PASSWORD: ' pass word ', H_KEY: 'k3y-value' });
    expect(config.credentials.get('b')!.headers).toEqual({ authorization: `Basic ${Buffer.from('me: pass word ').toString('base64')}` });
    expect(config.credentials.get('h')!.headers).toEqual({ 'x-api-key': 'k3y-value' });
  });

  test('USAGE_CONFIG_FILE: required, readable, JSON', () => {
    expect(configError({}).message).toBe('USAGE_CONFIG_FILE="": is required: the path of the JSON usage configuration');
    expect(configError({ USAGE_CONFIG_FILE: path.join(dir, 'nope.json') }).message).toMatch(/^USAGE_CONFIG_FILE=".*nope\.json": cannot be read: ENOENT/);
    expect(configError({ USAGE_CONFIG_FILE: write('bad.json', '{"sources": [') }).message).toMatch(/^USAGE_CONFIG_FILE=".*bad\.json": is not JSON: /);
  });

  test('a bad usage file: a ConfigError naming the JSON path, the value and the file', () => {
    const bad = write('bad-unit.json', JSON.stringify(edited((c) => (mappingOf(file(c)).bytesUnit = 'kB'))));
    const err = configError({ ...env, USAGE_CONFIG_FILE: bad });
    expect(err).toMatchObject({ variable: 'sources[1].mapping.bytesUnit', value: 'kB' });
    expect(err.message).toBe(`sources[1].mapping.bytesUnit="kB": must be one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB (in ${bad})`);
  });

  test('a credential variable the file names must be set, without control characters; its value is never shown', () => {
    expect(configError({ USAGE_CONFIG_FILE: exampleFile }).message).toBe('USAGE_TOKEN_VENDOR_A="": is required: sources[0].auth.tokenEnv names it (set it from a Secret)');
    const err = configError({ ...env, USAGE_TOKEN_VENDOR_A: 'secret-token\n' });
    expect(err.message).toContain('USAGE_TOKEN_VENDOR_A="***": must not contain control characters');
    expect(err.message).not.toContain('secret-token');
  });

  test('the environment variables the collector reads by name', () => {
    expect([...COLLECTOR_ENV_VARIABLES]).toEqual(['USAGE_CONFIG_FILE', 'METRICS_PORT', 'METRICS_HOST', 'LOG_LEVEL', 'LOG_INTERVAL_SECONDS']);
    expect(configError({ ...env, METRICS_PORT: 'x' }).message).toBe('METRICS_PORT="x": must be an integer from 0 to 65535');
    expect(configError({ ...env, LOG_LEVEL: 'loud' }).variable).toBe('LOG_LEVEL');
  });
});
