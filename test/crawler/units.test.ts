import type { AddressInfo } from 'node:net';
import { Counter } from 'prom-client';
import { AlpnError, ProxyConnectError, TimeoutError, classifyError } from '../../crawler/src/errors';
import { ConfigError } from '../../runtime/src/env';
import { errorMessage } from '../../runtime/src/errors';
import { createLogger } from '../../runtime/src/log';
import { programRegistry, startMetricsServer } from '../../runtime/src/metrics';
import { EXIT_BAD_CONFIG, EXIT_FAILURE, EXIT_OK, loadConfigOrReport, openOrLog, resourceFields } from '../../runtime/src/program';
import { Redactor, redactUrlString } from '../../runtime/src/redact';
import { WeightedPicker } from '../../runtime/src/weighted-picker';
import { parseTargets } from '../../crawler/src/targets';

describe('TARGETS parsing', () => {
  test('URL and URL=weight entries, spaces and empty entries ignored', () => {
    expect(parseTargets(' https://a.example/=3 ,, http://b.example/get , http://c.example/?x=y=2 ').map((t) => [t.url.href, t.weight])).toEqual([
      ['https://a.example/', 3],
      ['http://b.example/get', 1],
      ['http://c.example/?x=y', 2],
    ]);
  });

  test('a non-numeric tail after = belongs to the URL', () => {
    expect(parseTargets('http://a.example/?q=cats')[0]).toMatchObject({ weight: 1 });
    expect(parseTargets('http://a.example/?q=cats')[0].url.search).toBe('?q=cats');
  });
});

describe('WeightedPicker', () => {
  test('exact proportions per cycle, heavy items interleaved', () => {
    const picker = new WeightedPicker([
      { name: 'a', weight: 5 },
      { name: 'b', weight: 1 },
      { name: 'c', weight: 1 },
    ]);
    const picks = Array.from({ length: 14 }, () => picker.next().name);
    expect(picks.filter((p) => p === 'a')).toHaveLength(10);
    expect(picks.filter((p) => p === 'b')).toHaveLength(2);
    expect(picks.slice(0, 7).join('')).toBe('aabacaa');
  });
});

describe('redaction', () => {
  test('URL userinfo is masked with or without a scheme', () => {
    expect(redactUrlString('http://user:pw@proxy:8080/')).toBe('http://***@proxy:8080/');
    expect(redactUrlString('user:pw@proxy:8080')).toBe('***@proxy:8080');
    expect(redactUrlString('http://proxy:8080')).toBe('http://proxy:8080');
  });

  test('registered proxy secrets are masked in every form, including inside JSON log lines', () => {
    const redactor = new Redactor();
    redactor.addUrlCredentials(new URL('http://bob:s%22ecr%40t@gw:3128'));
    const basic = Buffer.from('bob:s"ecr@t').toString('base64');
    const lines: string[] = [];
    const log = createLogger('debug', redactor, (l) => lines.push(l));
    log.error('boom', { a: 'password is s"ecr@t', b: `header Proxy-Authorization: Basic ${basic}`, c: 'encoded s%22ecr%40t', d: `raw ${basic}` });
    log.debug('proxy', { url: 'http://bob:s%22ecr%40t@gw:3128/' });
    const text = lines.join('');
    expect(text).not.toMatch(/ecr/);
    expect(text).not.toContain(basic);
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1])).toMatchObject({ level: 'debug', msg: 'proxy', url: 'http://***@gw:3128/' });
  });

  test('log level filters', () => {
    const lines: string[] = [];
    const log = createLogger('warn', new Redactor(), (l) => lines.push(l));
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['w', 'e']);
  });
});

describe('error classification', () => {
  const withCode = (code: string, message = code): Error => Object.assign(new Error(message), { code });
  test.each([
    [new TimeoutError(10), 'timeout'],
    [new AlpnError('http/1.1'), 'alpn'],
    [withCode('ENOTFOUND'), 'dns'],
    [withCode('EAI_AGAIN'), 'dns'],
    [withCode('ECONNREFUSED'), 'connect'],
    [withCode('EHOSTUNREACH'), 'connect'],
    [withCode('ECONNRESET'), 'reset'],
    [new Error('socket hang up'), 'reset'],
    [withCode('DEPTH_ZERO_SELF_SIGNED_CERT'), 'tls'],
    [withCode('ERR_TLS_CERT_ALTNAME_INVALID'), 'tls'],
    [withCode('CERT_HAS_EXPIRED'), 'tls'],
    [withCode('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL'), 'alpn'],
    [withCode('ERR_HTTP2_STREAM_ERROR'), 'h2'],
    [new Error('weird'), 'other'],
  ])('%s -> %s', (err, kind) => {
    expect(classifyError(err)).toBe(kind);
  });

  test('a CONNECT refusal carries the proxy status code', () => {
    expect(new ProxyConnectError(407, 'http://***@gw:3128/')).toMatchObject({ statusCode: 407 });
  });
});

/** runtime/src: the metrics server and start-up helpers both programs run with. */
describe('shared program code', () => {
  test('errorMessage adds the code a message lacks', () => {
    expect(errorMessage(Object.assign(new Error('connect failed'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED: connect failed');
    expect(errorMessage(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe('read ECONNRESET');
    expect(errorMessage('plain')).toBe('plain');
  });

  test('the metrics server: /metrics from the registry, /healthz, the extra pages, 404 for anything else', async () => {
    const registry = programRegistry('demo');
    new Counter({ name: 'demo_things_total', help: 'Things.', registers: [registry] }).inc(3);
    const server = await startMetricsServer(registry, 0, '127.0.0.1', { '/ca.pem': { contentType: 'application/x-pem-file', body: 'PEM' } });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const get = async (path: string): Promise<[number, string | null, string]> => {
        const res = await fetch(base + path);
        return [res.status, res.headers.get('content-type'), await res.text()];
      };
      const [status, type, body] = await get('/metrics?x=1');
      expect([status, type]).toEqual([200, registry.contentType]);
      expect(body).toContain('demo_things_total 3');
      // prom-client's process metrics, under the program's prefix.
      expect(body).toMatch(/^demo_process_cpu_seconds_total /m);
      expect(await get('/healthz')).toEqual([200, 'text/plain', 'ok\n']);
      expect(await get('/ca.pem')).toEqual([200, 'application/x-pem-file', 'PEM']);
      for (const path of ['/', '/ca', '/constructor', '/__proto__']) expect(await get(path)).toEqual([404, 'text/plain', 'not found\n']);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('a port in use: openOrLog logs the message with the port and gives undefined', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Redactor(), (l) => lines.push(l));
    const first = await startMetricsServer(programRegistry('a'), 0, '127.0.0.1');
    const port = (first.address() as AddressInfo).port;
    try {
      expect(await openOrLog(logger, 'metrics server failed to start', port, () => startMetricsServer(programRegistry('b'), port, '127.0.0.1'))).toBeUndefined();
      expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ level: 'error', msg: 'metrics server failed to start', port, error: expect.stringContaining('EADDRINUSE') })]);
      expect(await openOrLog(logger, 'unused', 1, async () => 42)).toBe(42);
    } finally {
      first.close();
    }
  });

  test('a bad configuration is reported once on stdout (JSON, redacted) and once on stderr; other errors go on', () => {
    const out: string[] = [];
    const err: string[] = [];
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
    try {
      const redactor = new Redactor();
      redactor.addUrlCredentials(new URL('http://u:sesame-1@gw/'));
      expect(loadConfigOrReport('demo', () => ({ ok: true }), redactor)).toEqual({ ok: true });
      expect(loadConfigOrReport('demo', () => {
        throw new ConfigError('TARGETS', 'sesame-1', 'is not a valid URL');
      }, redactor)).toBeUndefined();
      expect(() => loadConfigOrReport('demo', () => {
        throw new TypeError('bug');
      }, redactor)).toThrow('bug');
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(out.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ level: 'error', msg: 'invalid configuration', variable: 'TARGETS', value: '***', reason: 'is not a valid URL' })]);
    expect(err).toEqual(['demo: invalid configuration: TARGETS="***": is not a valid URL\n']);
    expect([EXIT_OK, EXIT_FAILURE, EXIT_BAD_CONFIG]).toEqual([0, 1, 2]);
  });

  test('resourceFields: CPU seconds and peak memory', () => {
    const fields = resourceFields();
    expect(Object.keys(fields)).toEqual(['cpuSeconds', 'maxRssBytes']);
    expect(fields.cpuSeconds).toBeGreaterThan(0);
    expect(fields.maxRssBytes).toBeGreaterThan(1 << 20);
  });
});
