import { AlpnError, ProxyConnectError, TimeoutError, classifyError } from '../../crawler/src/errors';
import { createLogger } from '../../crawler/src/log';
import { Redactor, redactUrlString } from '../../crawler/src/redact';
import { WeightedPicker, parseTargets } from '../../crawler/src/targets';

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
