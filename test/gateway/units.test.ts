import * as crypto from 'node:crypto';
import { DEMO_CA_ORGANIZATION, generateDemoCa } from '../../gateway';
import { CaError, CertificateAuthority, LEAF_VALIDITY_MS } from '../../gateway/src/ca';
import * as der from '../../gateway/src/der';
import { ProxyAuth } from '../../gateway/src/auth';
import { parseAuthority, parseHost, siteOf } from '../../gateway/src/gateway';
import { PARTS, RateLimiter, parseShare } from '../../gateway/src/limiter';
import { LruCache } from '../../gateway/src/lru';
import { GatewayMetrics } from '../../gateway/src/metrics';
import { PageMaker, PageSizeSyntaxError, parsePageSizes } from '../../gateway/src/pages';
import { TlsTerminator } from '../../gateway/src/terminator';
import { sniffTunnel } from '../../gateway/src/tunnel';
import { KEY_USAGE, buildCertificate, extensions, keyIdentifier, name, randomSerial, toPem } from '../../gateway/src/x509';
import { metricValue } from './helpers';

const hex = (b: Buffer): string => b.toString('hex');
const DAY_MS = 86_400_000;

describe('DER encodings (checked against known encodings)', () => {
  test('lengths, integers, OIDs, strings, bit strings', () => {
    expect(hex(der.tlv(0x04, Buffer.alloc(3)))).toBe('0403000000');
    expect(hex(der.tlv(0x04, Buffer.alloc(200))).slice(0, 6)).toBe('0481c8');
    expect(hex(der.tlv(0x04, Buffer.alloc(300))).slice(0, 8)).toBe('0482012c');
    expect(hex(der.smallInteger(0))).toBe('020100');
    expect(hex(der.smallInteger(127))).toBe('02017f');
    expect(hex(der.smallInteger(128))).toBe('02020080');
    expect(hex(der.smallInteger(2))).toBe('020102');
    expect(hex(der.unsignedInteger(Buffer.from([0, 0, 0x81])))).toBe('02020081');
    expect(hex(der.oid('1.2.840.113549.1.1.11'))).toBe('06092a864886f70d01010b');
    expect(hex(der.oid('2.5.29.19'))).toBe('0603551d13');
    expect(der.oidText(der.readElement(der.oid('1.3.6.1.5.5.7.3.1')).content)).toBe('1.3.6.1.5.5.7.3.1');
    expect(hex(der.utf8String('é'))).toBe('0c02c3a9');
    expect(hex(der.boolean(true))).toBe('0101ff');
    // KeyUsage keyCertSign + cRLSign and digitalSignature, as OpenSSL writes them.
    expect(hex(der.namedBits([5, 6]))).toBe('03020106');
    expect(hex(der.namedBits([0]))).toBe('03020780');
    expect(hex(der.set(der.smallInteger(2), der.smallInteger(1)))).toBe('3106020101020102');
  });

  test('times: UTCTime through 2049, GeneralizedTime from 2050', () => {
    expect(der.time(new Date('2049-12-31T23:59:59.900Z')).toString('latin1', 2)).toBe('491231235959Z');
    expect(der.readElement(der.time(new Date('2049-01-01T00:00:00Z'))).tag).toBe(der.TAG.UTC_TIME);
    expect(der.time(new Date('2050-01-01T00:00:00Z')).toString('latin1', 2)).toBe('20500101000000Z');
    expect(der.readElement(der.time(new Date('2050-01-01T00:00:00Z'))).tag).toBe(der.TAG.GENERALIZED_TIME);
  });

  test('the reader walks nested elements and refuses truncated input', () => {
    const seq = der.sequence(der.smallInteger(1), der.octetString(Buffer.alloc(300)));
    const parts = der.children(der.readElement(seq));
    expect(parts.map((p) => [p.tag, p.content.length])).toEqual([
      [0x02, 1],
      [0x04, 300],
    ]);
    expect(() => der.readElement(seq.subarray(0, 10))).toThrow(/runs past the end/);
  });
});

describe('demo CA', () => {
  test('generateDemoCa: a self-signed ECDSA P-256 CA, path length 0, about a year, named as a demo', () => {
    const now = new Date('2030-06-01T12:00:00Z');
    const ca = generateDemoCa({ now });
    const cert = new crypto.X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain(`O=${DEMO_CA_ORGANIZATION}`);
    expect(cert.subject).toMatch(/CN=proxy-telemetry demo CA [0-9a-f]{8}/);
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(new Date(cert.validFrom).getTime()).toBe(now.getTime() - 3_600_000);
    expect(new Date(cert.validTo).getTime()).toBe(now.getTime() + 365 * DAY_MS);
    const key = crypto.createPrivateKey(ca.keyPem);
    expect([key.asymmetricKeyType, key.asymmetricKeyDetails?.namedCurve]).toEqual(['ec', 'prime256v1']);
    expect(ca.keyPem).toMatch(/^-{5}BEGIN PRIVATE KEY-{5}\n/);
    expect(cert.checkPrivateKey(key)).toBe(true);
    // Every call is a new CA.
    expect(generateDemoCa().certPem).not.toBe(generateDemoCa().certPem);
    expect(() => generateDemoCa({ validityDays: 0 })).toThrow(/validityDays=0/);
    expect(() => generateDemoCa({ commonName: 'x'.repeat(65) })).toThrow(/commonName=/);
  });

  test('issues server certificates for DNS names and IPs that OpenSSL verifies against the CA', () => {
    const generated = generateDemoCa();
    const ca = CertificateAuthority.fromPem(generated.certPem, generated.keyPem);
    const caCert = new crypto.X509Certificate(generated.certPem);
    const now = new Date();
    const long = `${'a'.repeat(60)}.example`;
    for (const [serverName, san] of [
      ['shop.example', 'DNS:shop.example'],
      ['10.1.2.3', 'IP Address:10.1.2.3'],
      ['::1', 'IP Address:0:0:0:0:0:0:0:1'],
      ['::ffff:192.0.2.1', 'IP Address:0:0:0:0:0:FFFF:C000:201'],
      [long, `DNS:${long}`],
    ]) {
      const issued = ca.issue(serverName, now);
      const cert = new crypto.X509Certificate(issued.certPem);
      expect({ serverName, san: cert.subjectAltName }).toEqual({ serverName, san });
      expect(cert.checkIssued(caCert)).toBe(true);
      expect(cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.ca).toBe(false);
      expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
      expect(cert.checkPrivateKey(crypto.createPrivateKey(issued.keyPem))).toBe(true);
      expect(new Date(cert.validTo).getTime()).toBe(Math.floor((now.getTime() + LEAF_VALIDITY_MS) / 1000) * 1000);
    }
    // Over 64 characters there is no common name; the SAN alone names the server.
    expect(new crypto.X509Certificate(ca.issue(long, now).certPem).subject).toBeUndefined();
    expect(new crypto.X509Certificate(ca.issue('shop.example', now).certPem).subject).toBe('CN=shop.example');
  });

  test('server certificates never outlive the CA', () => {
    const now = new Date();
    const generated = generateDemoCa({ validityDays: 2, now });
    const issued = CertificateAuthority.fromPem(generated.certPem, generated.keyPem, now).issue('shop.example', now);
    expect(issued.notAfter.getTime()).toBe(new Date(new crypto.X509Certificate(generated.certPem).validTo).getTime());
  });

  test('an RSA CA from elsewhere signs with sha256WithRSAEncryption', () => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const subject = name({ commonName: 'RSA test CA', organization: 'Elsewhere' });
    const certPem = toPem(
      buildCertificate({
        serial: randomSerial(),
        issuer: subject,
        subject,
        notBefore: new Date(Date.now() - DAY_MS),
        notAfter: new Date(Date.now() + DAY_MS),
        publicKey,
        signingKey: privateKey,
        // No SubjectKeyIdentifier: issued certificates then carry no AuthorityKeyIdentifier.
        extensions: [extensions.basicConstraints(true), extensions.keyUsage([KEY_USAGE.keyCertSign])],
      }),
    );
    const ca = CertificateAuthority.fromPem(certPem, privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
    const issued = new crypto.X509Certificate(ca.issue('rsa.example').certPem);
    expect(issued.verify(publicKey)).toBe(true);
    expect(issued.checkIssued(new crypto.X509Certificate(certPem))).toBe(true);
    expect(issued.toLegacyObject().issuer).toMatchObject({ CN: 'RSA test CA', O: 'Elsewhere' });
    expect(keyIdentifier(publicKey)).toHaveLength(20);
  });

  test('fromPem refuses what cannot sign, saying which part is wrong', () => {
    const good = generateDemoCa();
    const failure = (certPem: string, keyPem: string, now?: Date): CaError => {
      try {
        CertificateAuthority.fromPem(certPem, keyPem, now);
      } catch (err) {
        if (err instanceof CaError) return err;
        throw err;
      }
      throw new Error('expected a CaError');
    };
    expect(failure('nonsense', good.keyPem)).toMatchObject({ part: 'certificate', message: expect.stringContaining('not a PEM certificate') });
    expect(failure(good.certPem, 'nonsense')).toMatchObject({ part: 'key', message: expect.stringContaining('not a PEM private key') });
    expect(failure(good.certPem, generateDemoCa().keyPem)).toMatchObject({ part: 'key', message: 'does not belong to the CA certificate' });
    expect(failure(good.certPem, good.keyPem, new Date(Date.now() + 400 * DAY_MS))).toMatchObject({ part: 'certificate', message: expect.stringContaining('expired on') });
    expect(failure(good.certPem, good.keyPem, new Date(Date.now() - 2 * DAY_MS))).toMatchObject({ part: 'certificate', message: expect.stringContaining('not valid before') });
    const p521 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(failure(good.certPem, p521)).toMatchObject({ part: 'key', message: expect.stringContaining('secp521r1 is not supported') });
  });
});

describe('TlsTerminator certificate cache', () => {
  test('one certificate per name until half its lifetime has passed', () => {
    const generated = generateDemoCa();
    const ca = CertificateAuthority.fromPem(generated.certPem, generated.keyPem);
    let now = Date.now();
    const terminator = new TlsTerminator(ca, { secure: () => undefined, failed: () => undefined }, () => now);
    const first = terminator.certificate('shop.example');
    expect(terminator.certificate('shop.example')).toBe(first);
    expect(terminator.certificate('other.example')).not.toBe(first);
    now += LEAF_VALIDITY_MS / 2 - 1000;
    expect(terminator.certificate('shop.example')).toBe(first);
    now += 2000;
    const renewed = terminator.certificate('shop.example');
    expect(renewed).not.toBe(first);
    expect(renewed.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
  });
});

describe('RateLimiter', () => {
  const refusals = (parts: number, requests: number): number[] => {
    const limiter = new RateLimiter(parts);
    const refused: number[] = [];
    for (let i = 1; i <= requests; i++) if (limiter.refuse()) refused.push(i);
    return refused;
  };

  test('refuses exactly floor(n * share) of the first n requests, evenly spread', () => {
    expect(refusals(parseShare('0.25'), 12)).toEqual([4, 8, 12]);
    expect(refusals(parseShare('0.5'), 6)).toEqual([2, 4, 6]);
    expect(refusals(0, 100)).toEqual([]);
    expect(refusals(PARTS, 5)).toEqual([1, 2, 3, 4, 5]);
    for (const share of ['0.1', '0.29', '0.333333', '0.7', '0.000001']) {
      const parts = parseShare(share);
      for (const n of [1, 7, 100, 999, 12_345]) {
        expect({ share, n, refused: refusals(parts, n).length }).toEqual({ share, n, refused: Math.floor((n * parts) / PARTS) });
      }
    }
  });

  test('the pattern repeats exactly after a million requests', () => {
    const limiter = new RateLimiter(parseShare('0.3'));
    let refused = 0;
    for (let i = 0; i < 2 * PARTS + 10; i++) if (limiter.refuse()) refused++;
    expect(refused).toBe(2 * 300_000 + 3);
    expect(limiter.refused).toBe(refused);
  });

  test('parseShare', () => {
    expect(['0', '1', '0.5', '.5', '1.0', '0.000001', '0.123456'].map(parseShare)).toEqual([0, PARTS, PARTS / 2, PARTS / 2, PARTS, 1, 123_456]);
    for (const bad of ['', '-0.1', '1.1', '2', '0.1234567', '1e-3', '50%', 'half']) expect({ bad, parts: parseShare(bad) }).toEqual({ bad, parts: NaN });
  });
});

describe('pages', () => {
  test('PAGE_SIZES syntax', () => {
    expect(parsePageSizes('4096=3, 16384 = 5,131072')).toEqual([
      { bytes: 4096, weight: 3 },
      { bytes: 16384, weight: 5 },
      { bytes: 131072, weight: 1 },
    ]);
    for (const bad of ['', '1k', '100=0', '100=1.5', '-1', '16777217']) expect(() => parsePageSizes(bad)).toThrow(PageSizeSyntaxError);
  });

  test('sizes follow the mix exactly over each round; content depends only on host, path and size', () => {
    const maker = new PageMaker(parsePageSizes('100=1,5000=3'));
    const sizes = Array.from({ length: 8 }, () => maker.next('h.example', '/p').bytes);
    expect(sizes.filter((s) => s === 100)).toHaveLength(2);
    expect(sizes.filter((s) => s === 5000)).toHaveLength(6);
    const body = (p: { chunks: Buffer[] }): Buffer => Buffer.concat(p.chunks);
    const page = maker.page('h.example', '/p?q=<x>', 5000);
    expect(body(page)).toHaveLength(5000);
    expect(body(new PageMaker(parsePageSizes('5000')).page('h.example', '/p?q=<x>', 5000)).equals(body(page))).toBe(true);
    expect(body(page).toString()).toContain('<title>h.example/p?q=&lt;x&gt;</title>');
    expect(body(page).toString().endsWith('</pre></body></html>\n')).toBe(true);
    // Smaller than the HTML frame: cut to size.
    expect(body(maker.page('h.example', '/', 10))).toHaveLength(10);
    expect(body(maker.page('h.example', '/', 0))).toHaveLength(0);
  });
});

describe('proxy details', () => {
  test('sniffTunnel tells TLS, h2c and HTTP/1.1 apart from the first bytes', () => {
    expect(sniffTunnel(Buffer.from([0x16, 0x03, 0x01]))).toBe('tls');
    expect(sniffTunnel(Buffer.from('GET / HTTP/1.1\r\n'))).toBe('http1');
    expect(sniffTunnel(Buffer.from('POST'))).toBe('http1');
    expect(sniffTunnel(Buffer.from('PRI * HTTP/2.0\r\n'))).toBeUndefined();
    expect(sniffTunnel(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'))).toBe('h2c');
    expect(sniffTunnel(Buffer.from('P'))).toBeUndefined();
    expect(sniffTunnel(Buffer.alloc(0))).toBeUndefined();
  });

  test('parseHost: Host headers with or without a port', () => {
    expect(parseHost('Shop.Example')).toEqual({ hostname: 'shop.example', port: '' });
    expect(parseHost('shop.example:8443')).toEqual({ hostname: 'shop.example', port: '8443' });
    expect(parseHost('[2001:db8::1]')).toEqual({ hostname: '2001:db8::1', port: '' });
    expect(parseHost('127.0.0.1:80')).toEqual({ hostname: '127.0.0.1', port: '80' });
    for (const bad of ['', 'shop.example:', 'shop.example:0', 'shop.example:65536', '2001:db8::1', '[zz]', 'a b', 'user@host', 'host/x']) {
      expect({ bad, parsed: parseHost(bad) }).toEqual({ bad, parsed: undefined });
    }
  });

  test('parseAuthority and siteOf', () => {
    expect(parseAuthority('Shop.Example:443')).toEqual({ hostname: 'shop.example', port: 443 });
    expect(parseAuthority('[2001:db8::1]:8443')).toEqual({ hostname: '2001:db8::1', port: 8443 });
    for (const bad of ['shop.example', 'shop.example:0', 'shop.example:65536', ':443', '[zz]:443', 'a b:443', 'user@host:443', 'host:443/x']) {
      expect({ bad, parsed: parseAuthority(bad) }).toEqual({ bad, parsed: undefined });
    }
    expect(siteOf('Shop.Example', 443)).toBe('shop.example');
    expect(siteOf('shop.example', '')).toBe('shop.example');
    expect(siteOf('shop.example', 80)).toBe('shop.example');
    expect(siteOf('shop.example', 8443)).toBe('shop.example:8443');
    expect(siteOf('2001:db8::1', 8443)).toBe('[2001:db8::1]:8443');
  });

  test('ProxyAuth checks Basic credentials; without credentials everything passes', () => {
    const auth = new ProxyAuth({ username: 'alice', password: 'p:ss wörd' }, 'acme');
    const basic = (pair: string): string => `Basic ${Buffer.from(pair).toString('base64')}`;
    expect(auth.required).toBe(true);
    expect(auth.check(basic('alice:p:ss wörd'))).toBe(true);
    expect(auth.check(`basic   ${Buffer.from('alice:p:ss wörd').toString('base64')}`)).toBe(true);
    for (const bad of [undefined, '', basic('alice:p:ss word'), basic('bob:p:ss wörd'), 'Bearer x', 'Basic', 'Basic !!!']) {
      expect({ bad, ok: auth.check(bad) }).toEqual({ bad, ok: false });
    }
    expect(auth.challenge).toBe('Basic realm="acme demo gateway", charset="UTF-8"');
    expect(new ProxyAuth(undefined, 'acme').check(undefined)).toBe(true);
  });

  test('LruCache keeps the most recently used entries', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c'), cache.size]).toEqual([1, undefined, 3, 2]);
  });

  test('GatewayMetrics bounds the site label and warns once', async () => {
    const warned: string[] = [];
    const metrics = new GatewayMetrics('acme', 2, (site) => warned.push(site));
    expect(['a', 'b', 'c', 'a', 'd'].map((s) => metrics.site(s))).toEqual(['a', 'b', 'other', 'a', 'other']);
    expect(warned).toEqual(['c']);
    metrics.recordRequest('a', 'proxy', 'h2', '200', 1500);
    metrics.recordRequest('a', 'direct', 'h2', '200', 500);
    metrics.recordRequest('other', 'proxy', 'connect', '407', 0);
    const text = await metrics.registry.metrics();
    expect(metricValue(text, 'gateway_requests_total', { vendor: 'acme', site: 'a', protocol: 'h2', code: '200' })).toBe(2);
    expect(metricValue(text, 'gateway_requests_total', { site: 'a', path: 'direct' })).toBe(1);
    expect(metricValue(text, 'gateway_response_bytes_total', { site: 'a' })).toBe(2000);
    expect(metricValue(text, 'gateway_response_bytes_total', { site: 'a', path: 'proxy' })).toBe(1500);
    expect(metricValue(text, 'gateway_requests_total', { site: 'other', code: '407' })).toBe(1);
  });
});
