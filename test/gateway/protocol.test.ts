import { X509Certificate } from 'node:crypto';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import {
  GatewayRun,
  LOOPBACK,
  OUTBOUND_MARK,
  cleanup,
  connect,
  connectTcp,
  demoCaFiles,
  metricValue,
  proxyRequest,
  rawHttp1,
  readToEnd,
  removeTemporaryFiles,
  scrapeUntil,
  startGateway,
  startTls,
} from './helpers';

afterEach(cleanup);
afterAll(removeTemporaryFiles);

/** Stops the gateway and checks it exited cleanly without ever trying to connect out. */
async function stopCleanly(gateway: GatewayRun): Promise<void> {
  expect(await gateway.stop()).toEqual({ code: 0, signal: null });
  expect(gateway.stderr).not.toContain(OUTBOUND_MARK);
  expect(gateway.lines().filter((l) => l.level === 'error')).toEqual([]);
}

function peerCertificate(socket: tls.TLSSocket): X509Certificate {
  return new X509Certificate(socket.getPeerCertificate().raw);
}

function h2Get(socket: net.Socket, origin: string, path: string, request: http2.OutgoingHttpHeaders = { ':path': path }): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin, { createConnection: () => socket });
    session.on('error', reject);
    const stream = session.request(request);
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (headers = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      session.close();
      resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) });
    });
    stream.on('error', reject);
  });
}

describe('demo gateway protocol (bundled)', () => {
  test('absolute-form: a page for any host, even one that does not resolve; sizes follow the mix; keep-alive; HEAD; origin-form and other schemes get 400', async () => {
    const gateway = await startGateway({ PAGE_SIZES: '1000=1,3000=1' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const target = 'http://does-not-exist.invalid/a?x=1';
      const first = await proxyRequest(gateway.port, target, {}, agent);
      const second = await proxyRequest(gateway.port, target, {}, agent);
      const third = await proxyRequest(gateway.port, target, {}, agent);
      expect([first.status, second.status, third.status]).toEqual([200, 200, 200]);
      expect([first.body.length, second.body.length, third.body.length]).toEqual([1000, 3000, 1000]);
      expect(first.headers['content-length']).toBe('1000');
      expect(first.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(first.body.toString()).toContain('<title>does-not-exist.invalid/a?x=1</title>');
      // The content depends only on host, path and size.
      expect(third.body.equals(first.body)).toBe(true);
      expect([second.reusedSocket, third.reusedSocket]).toEqual([true, true]);
      const head = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http.request({ host: '127.0.0.1', port: gateway.port, method: 'HEAD', path: target, agent }, resolve).on('error', reject).end();
      });
      head.resume();
      expect([head.statusCode, head.headers['content-length']]).toEqual([200, '3000']);
    } finally {
      agent.destroy();
    }

    const origin = await proxyRequest(gateway.port, '/index.html');
    expect(origin.status).toBe(400);
    expect(origin.body.toString()).toContain('forward proxy');
    expect((await proxyRequest(gateway.port, 'ftp://files.example/x')).status).toBe(400);

    const metrics = await gateway.metrics();
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'does-not-exist.invalid', protocol: 'http1.1', code: '200' })).toBe(4);
    expect(metricValue(metrics, 'gateway_response_bytes_total', { site: 'does-not-exist.invalid' })).toBe(5000);
    expect(metricValue(metrics, 'gateway_requests_total', { site: '-', code: '400' })).toBe(2);
    await stopCleanly(gateway);
  });

  test('CONNECT + TLS: certificate for the SNI name, or for the CONNECT host without SNI (IPs too), signed by the demo CA; h2 or HTTP/1.1 by ALPN', async () => {
    const gateway = await startGateway({ PAGE_SIZES: '1500' });
    const ca = new X509Certificate(demoCaFiles().certPem);

    const shop = await connect(gateway.port, 'shop.example:443');
    expect(shop.status).toBe(200);
    const shopTls = await startTls(shop.socket, { servername: 'shop.example', alpn: ['h2', 'http/1.1'] });
    expect(shopTls.alpnProtocol).toBe('h2');
    const shopCert = peerCertificate(shopTls);
    expect(shopCert.subjectAltName).toBe('DNS:shop.example');
    expect(shopCert.checkIssued(ca)).toBe(true);
    expect(shopCert.verify(ca.publicKey)).toBe(true);
    expect(shopCert.checkHost('shop.example')).toBe('shop.example');
    expect(shopCert.ca).toBe(false);
    const page = await h2Get(shopTls, 'https://shop.example', '/cart');
    expect([page.status, page.headers['content-length'], page.body.length]).toEqual([200, '1500', 1500]);
    expect(page.body.toString()).toContain('shop.example/cart');

    // The SNI name wins over the CONNECT host.
    const fronted = await connect(gateway.port, 'a.example:443');
    expect(peerCertificate(await startTls(fronted.socket, { servername: 'b.example' })).subjectAltName).toBe('DNS:b.example');

    // No SNI: the CONNECT host, as a DNS name or an IP address, with HTTP/1.1 when that is all the client offers.
    const byIp = await connect(gateway.port, '203.0.113.7:8443');
    const byIpTls = await startTls(byIp.socket, { servername: '', alpn: ['http/1.1'] });
    expect(byIpTls.alpnProtocol).toBe('http/1.1');
    expect(peerCertificate(byIpTls).subjectAltName).toBe('IP Address:203.0.113.7');
    const ipPage = await rawHttp1(byIpTls, 'GET /ip HTTP/1.1\r\nHost: 203.0.113.7:8443\r\n\r\n');
    expect([ipPage.status, ipPage.body.length]).toEqual([200, 1500]);

    const v6 = await connect(gateway.port, '[2001:db8::5]:443');
    expect(peerCertificate(await startTls(v6.socket, { servername: '' })).subjectAltName).toBe('IP Address:2001:DB8:0:0:0:0:0:5');

    const noSni = await connect(gateway.port, 'nosni.example:443');
    const noSniTls = await startTls(noSni.socket, { servername: '' });
    expect(noSniTls.alpnProtocol).toBe(false);
    expect(peerCertificate(noSniTls).subjectAltName).toBe('DNS:nosni.example');
    expect((await rawHttp1(noSniTls, 'GET / HTTP/1.1\r\nHost: nosni.example\r\n\r\n')).status).toBe(200);

    const metrics = await gateway.metrics();
    expect(metricValue(metrics, 'gateway_tunnels_total', {})).toBe(5);
    expect(metricValue(metrics, 'gateway_tls_handshakes_total', { site: 'shop.example', alpn: 'h2' })).toBe(1);
    expect(metricValue(metrics, 'gateway_tls_handshakes_total', { site: '203.0.113.7:8443', alpn: 'http/1.1' })).toBe(1);
    expect(metricValue(metrics, 'gateway_tls_handshakes_total', { site: 'nosni.example', alpn: 'none' })).toBe(1);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'shop.example', protocol: 'h2', code: '200' })).toBe(1);
    expect(metricValue(metrics, 'gateway_requests_total', { site: '203.0.113.7:8443', protocol: 'http1.1', code: '200' })).toBe(1);
    expect(metricValue(metrics, 'gateway_open_tunnels', {})).toBeGreaterThan(0);
    await stopCleanly(gateway);
  });

  test('CONNECT: plaintext HTTP/1.1 and h2c inside tunnels; malformed CONNECT targets get 400 and no tunnel', async () => {
    const gateway = await startGateway({ PAGE_SIZES: '700' });
    const plain = await connect(gateway.port, 'plain.example:80');
    const plainPage = await rawHttp1(plain.socket, 'GET /p HTTP/1.1\r\nHost: plain.example\r\n\r\n');
    expect([plainPage.status, plainPage.body.length]).toEqual([200, 700]);
    const h2c = await connect(gateway.port, 'h2c.example:80');
    const h2cPage = await h2Get(h2c.socket, 'http://h2c.example', '/q');
    expect([h2cPage.status, h2cPage.body.length]).toEqual([200, 700]);
    // Inside a tunnel the gateway is the site: no tunnel in a tunnel.
    const nested = await rawHttp1(plain.socket, 'CONNECT deeper.example:443 HTTP/1.1\r\nHost: deeper.example:443\r\n\r\n');
    expect(nested.status).toBe(405);

    for (const bad of ['no-port.example', 'zero.example:0', 'big.example:99999', '[not-v6]:443']) {
      const refused = await connect(gateway.port, bad);
      expect({ bad, status: refused.status }).toEqual({ bad, status: 400 });
      expect((await readToEnd(refused.socket)).length).toBe(0);
    }
    const metrics = await gateway.metrics();
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'plain.example', protocol: 'http1.1', code: '200' })).toBe(1);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'h2c.example', protocol: 'h2c', code: '200' })).toBe(1);
    expect(metricValue(metrics, 'gateway_requests_total', { site: '-', protocol: 'connect', code: '400' })).toBe(4);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'plain.example', path: 'proxy', protocol: 'connect', code: '405' })).toBe(1);
    expect(metricValue(metrics, 'gateway_tunnels_total', {})).toBe(2);
    await stopCleanly(gateway);
  });

  test('proxy authentication: 407 with Proxy-Authenticate for missing or wrong credentials; a refused CONNECT opens no tunnel', async () => {
    const gateway = await startGateway({ PROXY_USERNAME: 'alice', PROXY_PASSWORD: 'correct horse' });
    const basic = (pair: string): Record<string, string> => ({ 'proxy-authorization': `Basic ${Buffer.from(pair).toString('base64')}` });

    const missing = await proxyRequest(gateway.port, 'http://news.example/');
    expect(missing.status).toBe(407);
    expect(missing.headers['proxy-authenticate']).toBe('Basic realm="demo-vendor demo gateway", charset="UTF-8"');
    expect((await proxyRequest(gateway.port, 'http://news.example/', basic('alice:wrong'))).status).toBe(407);
    expect((await proxyRequest(gateway.port, 'http://news.example/', { 'proxy-authorization': 'Bearer abc' })).status).toBe(407);
    expect((await proxyRequest(gateway.port, 'http://news.example/', basic('alice:correct horse'))).status).toBe(200);

    const refused = await connect(gateway.port, 'shop.example:443', basic('alice:correct horsE'));
    expect(refused.status).toBe(407);
    expect(refused.headers['proxy-authenticate']).toMatch(/^Basic realm=/);
    // The connection just ends: nothing of a TLS server behind it.
    expect((await readToEnd(refused.socket)).length).toBe(0);
    const accepted = await connect(gateway.port, 'shop.example:443', basic('alice:correct horse'));
    expect(accepted.status).toBe(200);
    expect((await startTls(accepted.socket, { servername: 'shop.example' })).authorized).toBe(true);

    const metrics = await gateway.metrics();
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'news.example', protocol: 'http1.1', code: '407' })).toBe(3);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'shop.example', protocol: 'connect', code: '407' })).toBe(1);
    expect(metricValue(metrics, 'gateway_tunnels_total', {})).toBe(1);
    await stopCleanly(gateway);
    expect(gateway.stdout).not.toContain('correct horse');
  });

  test('RATE_LIMIT_SHARE counts absolute-form requests and CONNECTs together, after authentication: every 4th gets 429', async () => {
    const gateway = await startGateway({ RATE_LIMIT_SHARE: '0.25', PROXY_USERNAME: 'bob', PROXY_PASSWORD: 'pw' });
    const auth = { 'proxy-authorization': `Basic ${Buffer.from('bob:pw').toString('base64')}` };
    // Refused for authentication: not counted by the limiter.
    for (let i = 0; i < 3; i++) expect((await proxyRequest(gateway.port, 'http://news.example/')).status).toBe(407);
    const statuses: number[] = [];
    const retryAfter: Array<string | undefined> = [];
    for (let i = 0; i < 8; i++) {
      if (i % 2 === 0) {
        const answer = await connect(gateway.port, 'shop.example:443', auth);
        statuses.push(answer.status);
        retryAfter.push(answer.headers['retry-after']);
      } else {
        const answer = await proxyRequest(gateway.port, 'http://news.example/', auth);
        statuses.push(answer.status);
        retryAfter.push(answer.headers['retry-after']);
      }
    }
    expect(statuses).toEqual([200, 200, 200, 429, 200, 200, 200, 429]);
    expect(retryAfter.filter((r) => r !== undefined)).toEqual(['1', '1']);
    const metrics = await gateway.metrics();
    expect(metricValue(metrics, 'gateway_requests_total', { code: '429' })).toBe(2);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'news.example', protocol: 'http1.1', code: '429' })).toBe(2);
    await stopCleanly(gateway);
  });

  test('a client that leaves mid-body is counted as aborted, without bytes (HTTP/2, whose flow control holds the body back)', async () => {
    // Over HTTP/1.1 only TCP buffers hold a body back, and how much of it they take depends on the kernel and the
    // load: whether a response that left the gateway reached the client is not something a test can pin down.
    const gateway = await startGateway({ PAGE_SIZES: String(16 * 1024 * 1024) });
    const tunnel = await connect(gateway.port, 'big.example:443');
    const secure = await startTls(tunnel.socket, { servername: 'big.example', alpn: ['h2'] });
    await new Promise<void>((resolve) => {
      const session = http2.connect('https://big.example', { createConnection: () => secure });
      const stream = session.request({ ':path': '/' });
      let received = 0;
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 100_000 && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.on('close', () => resolve());
    });
    const metrics = await scrapeUntil(gateway.metricsPort, (text) => metricValue(text, 'gateway_requests_total', { code: 'aborted' }) === 1, 'an aborted response');
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'big.example', protocol: 'h2', code: 'aborted' })).toBe(1);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'big.example', code: '200' })).toBe(1); // the CONNECT
    expect(metricValue(metrics, 'gateway_response_bytes_total', {})).toBe(0);
    await stopCleanly(gateway);
  });

  test('MAX_SITES bounds the site label: later sites are counted as "other", with one warning', async () => {
    const gateway = await startGateway({ MAX_SITES: '2' });
    for (const host of ['a.example', 'b.example', 'c.example', 'd.example', 'a.example']) {
      expect((await proxyRequest(gateway.port, `http://${host}/`)).status).toBe(200);
    }
    const metrics = await gateway.metrics();
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'a.example' })).toBe(2);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'b.example' })).toBe(1);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'other' })).toBe(2);
    expect(metrics).not.toContain('c.example');
    await stopCleanly(gateway);
    expect(gateway.lines().filter((l) => l.level === 'warn' && String(l.msg).includes('MAX_SITES'))).toHaveLength(1);
  });
});

describe('demo gateway site port (bundled)', () => {
  const SITE = { SITE_PORT: '0', SITE_HOST: LOOPBACK };

  test('TLS with a certificate for the SNI name, or without SNI for the address connected to; plaintext HTTP/1.1 and h2c; site from SNI or Host, with the Host\'s port', async () => {
    const gateway = await startGateway({ ...SITE, PAGE_SIZES: '1500' });
    const ca = new X509Certificate(demoCaFiles().certPem);

    const shop = await startTls(await connectTcp(gateway.sitePort), { servername: 'shop.example', alpn: ['h2', 'http/1.1'] });
    expect(shop.alpnProtocol).toBe('h2');
    const shopCert = peerCertificate(shop);
    expect(shopCert.subjectAltName).toBe('DNS:shop.example');
    expect(shopCert.checkIssued(ca)).toBe(true);
    expect(shopCert.verify(ca.publicKey)).toBe(true);
    // Node's client sends :authority shop.example:443; 443 is not part of the site.
    const page = await h2Get(shop, 'https://shop.example', '/cart');
    expect([page.status, page.body.length]).toEqual([200, 1500]);
    expect(page.body.toString()).toContain('<title>shop.example/cart</title>');

    // The Host's port: behind a Service, the port the client used is not visible to the server.
    const docs = await startTls(await connectTcp(gateway.sitePort), { servername: 'docs.example', alpn: ['http/1.1'] });
    expect(docs.alpnProtocol).toBe('http/1.1');
    expect((await rawHttp1(docs, 'GET /guide HTTP/1.1\r\nHost: docs.example:8443\r\n\r\n')).status).toBe(200);

    // No SNI (as for an IP address): a certificate for the address the client reached; the site from Host.
    const byIp = await startTls(await connectTcp(gateway.sitePort), { servername: '' });
    expect(byIp.authorized).toBe(true);
    expect(peerCertificate(byIp).subjectAltName).toBe(`IP Address:${LOOPBACK}`);
    expect((await rawHttp1(byIp, `GET /ip HTTP/1.1\r\nHost: ${LOOPBACK}:${gateway.sitePort}\r\n\r\n`)).status).toBe(200);

    const plain = await connectTcp(gateway.sitePort);
    const plainPage = await rawHttp1(plain, 'GET /p?q=1 HTTP/1.1\r\nHost: Plain.Example\r\n\r\n');
    expect([plainPage.status, plainPage.body.length]).toEqual([200, 1500]);
    expect(plainPage.body.toString()).toContain('<title>Plain.Example/p?q=1</title>');
    // HTTP/1.0 without Host names no site.
    expect((await rawHttp1(await connectTcp(gateway.sitePort), 'GET / HTTP/1.0\r\n\r\n')).status).toBe(200);
    const h2c = await h2Get(await connectTcp(gateway.sitePort), 'http://h2c.example:8080', '/q');
    expect([h2c.status, h2c.body.length]).toEqual([200, 1500]);

    const metrics = await gateway.metrics();
    const requests = (labels: Record<string, string>): number => metricValue(metrics, 'gateway_requests_total', { path: 'direct', code: '200', ...labels });
    expect(requests({ site: 'shop.example', protocol: 'h2' })).toBe(1);
    expect(requests({ site: 'docs.example:8443', protocol: 'http1.1' })).toBe(1);
    expect(requests({ site: `${LOOPBACK}:${gateway.sitePort}`, protocol: 'http1.1' })).toBe(1);
    expect(requests({ site: 'plain.example', protocol: 'http1.1' })).toBe(1);
    expect(requests({ site: '-', protocol: 'http1.1' })).toBe(1);
    expect(requests({ site: 'h2c.example:8080', protocol: 'h2c' })).toBe(1);
    expect(requests({})).toBe(6);
    expect(metricValue(metrics, 'gateway_response_bytes_total', { path: 'direct' })).toBe(6 * 1500);
    expect(metricValue(metrics, 'gateway_requests_total', { path: 'proxy' })).toBe(0);
    // Handshakes carry the SNI name alone (no request has named a port yet), '-' without SNI.
    expect(metricValue(metrics, 'gateway_tls_handshakes_total', { site: 'shop.example', path: 'direct', alpn: 'h2' })).toBe(1);
    expect(metricValue(metrics, 'gateway_tls_handshakes_total', { site: 'docs.example', path: 'direct', alpn: 'http/1.1' })).toBe(1);
    expect(metricValue(metrics, 'gateway_tls_handshakes_total', { site: '-', path: 'direct', alpn: 'none' })).toBe(1);
    expect(metricValue(metrics, 'gateway_tunnels_total', {})).toBe(0);
    expect(metricValue(metrics, 'gateway_wire_bytes_total', { path: 'direct', direction: 'received' })).toBeGreaterThan(0);
    await stopCleanly(gateway);
  });

  test('nothing is proxied: absolute-form is answered as the origin, without authentication or rate limit; CONNECT gets 405 (HTTP/1.1 and HTTP/2); the proxy port keeps its rules', async () => {
    const gateway = await startGateway({ ...SITE, RATE_LIMIT_SHARE: '1', PROXY_USERNAME: 'alice', PROXY_PASSWORD: 'correct horse', PAGE_SIZES: '900' });
    const auth = { 'proxy-authorization': `Basic ${Buffer.from('alice:correct horse').toString('base64')}` };

    // The URL's host names the page and the site (RFC 9112, 3.2.2), as at any origin server.
    const absolute = await proxyRequest(gateway.sitePort, 'http://other.example/abs');
    expect([absolute.status, absolute.body.length, absolute.headers['proxy-authenticate']]).toEqual([200, 900, undefined]);
    expect(absolute.body.toString()).toContain('<title>other.example/abs</title>');
    // The same request to the proxy port: 407 without credentials, 429 with them (every one is refused).
    expect((await proxyRequest(gateway.port, 'http://other.example/abs')).status).toBe(407);
    expect((await proxyRequest(gateway.port, 'http://other.example/abs', auth)).status).toBe(429);

    const refused = await connect(gateway.sitePort, 'shop.example:443', auth);
    expect(refused.status).toBe(405);
    expect(refused.headers.allow).toContain('GET');
    // The connection just ends: nothing of a TLS server behind it.
    expect((await readToEnd(refused.socket)).length).toBe(0);
    const h2Connect = await h2Get(await connectTcp(gateway.sitePort), 'http://shop.example', '', { ':method': 'CONNECT', ':authority': 'shop.example:443' });
    expect(h2Connect.status).toBe(405);

    // An HTTP/2 answer is counted when its stream closes, which the client may see after the response.
    const metrics = await scrapeUntil(gateway.metricsPort, (text) => metricValue(text, 'gateway_requests_total', { path: 'direct' }) >= 3, 'the three site-port answers counted');
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'other.example', path: 'direct', protocol: 'http1.1', code: '200' })).toBe(1);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'shop.example', path: 'direct', protocol: 'connect', code: '405' })).toBe(2);
    expect(metricValue(metrics, 'gateway_requests_total', { path: 'direct' })).toBe(3);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'other.example', path: 'proxy', code: '407' })).toBe(1);
    expect(metricValue(metrics, 'gateway_requests_total', { site: 'other.example', path: 'proxy', code: '429' })).toBe(1);
    expect(metricValue(metrics, 'gateway_tunnels_total', {})).toBe(0);
    expect(metricValue(metrics, 'gateway_tls_handshakes_total', {})).toBe(0);
    await stopCleanly(gateway);
    expect(gateway.stopLine()).toMatchObject({ paths: { direct: 3, proxy: 2 } });
  });
});
