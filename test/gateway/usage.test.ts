import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { GATEWAY_USAGE_PATH } from '../../gateway';
import { GatewayMetrics } from '../../gateway/src/metrics';
import { USAGE_RETENTION_SECONDS, UsageApi, UsageRecord, UsageResponse, UsageStore, bucketSecondsProblem, parseInstant } from '../../gateway/src/usage';
import {
  GatewayRun,
  LOOPBACK,
  OUTBOUND_MARK,
  cleanup,
  connect,
  connectTcp,
  metricValue,
  proxyRequest,
  rawHttp1,
  readToEnd,
  removeTemporaryFiles,
  startGateway,
  startTls,
} from './helpers';

afterEach(cleanup);
afterAll(removeTemporaryFiles);

const HOUR_MS = 3_600_000;
const T0 = Date.parse('2026-12-06T12:00:00Z');

/** A clock the test moves. */
function clock(start = T0): { now: () => number; set(ms: number): void } {
  let now = start;
  return { now: () => now, set: (ms) => (now = ms) };
}

describe('UsageStore', () => {
  test('adds to the account\'s bucket of the moment, aligned to the epoch; records oldest first, accounts by name', () => {
    const time = clock(T0 + 59 * 60_000);
    const store = new UsageStore(3600, time.now);
    store.add('zoe', 100, 1);
    store.add('adam', 50, 0);
    store.add('zoe', 20, 2);
    time.set(T0 + HOUR_MS);
    store.add('zoe', 7, 0);
    // Nothing to add makes no record.
    store.add('nobody', 0, 0);
    expect(store.query(0, Number.MAX_SAFE_INTEGER)).toEqual([
      { account: 'adam', hour: '2026-12-06T12:00:00.000Z', bytes: 50, requests: 0 },
      { account: 'zoe', hour: '2026-12-06T12:00:00.000Z', bytes: 120, requests: 3 },
      { account: 'zoe', hour: '2026-12-06T13:00:00.000Z', bytes: 7, requests: 0 },
    ]);
  });

  test('short buckets: a minute', () => {
    const time = clock(T0 + 90_000);
    const store = new UsageStore(60, time.now);
    store.add('a', 1, 1);
    expect(store.query(0, Number.MAX_SAFE_INTEGER)).toEqual([{ account: 'a', hour: '2026-12-06T12:01:00.000Z', bytes: 1, requests: 1 }]);
  });

  test('a query returns the buckets that overlap [from, to], ends included', () => {
    const time = clock();
    const store = new UsageStore(3600, time.now);
    for (let h = 0; h < 4; h++) {
      time.set(T0 + h * HOUR_MS + 1000);
      store.add('a', h + 1, 0);
    }
    const hours = (from: number, to: number): number[] => store.query(from, to).map((r) => r.bytes - 1);
    expect(hours(T0, T0 + 4 * HOUR_MS)).toEqual([0, 1, 2, 3]);
    // A bucket ending at `from` does not overlap; one ending a millisecond after does.
    expect(hours(T0 + HOUR_MS, T0 + 4 * HOUR_MS)).toEqual([1, 2, 3]);
    expect(hours(T0 + HOUR_MS - 1, T0 + 4 * HOUR_MS)).toEqual([0, 1, 2, 3]);
    // A bucket starting at `to` overlaps.
    expect(hours(T0, T0 + 2 * HOUR_MS)).toEqual([0, 1, 2]);
    expect(hours(T0, T0 + 2 * HOUR_MS - 1)).toEqual([0, 1]);
    // Inside one bucket.
    expect(hours(T0 + 2.5 * HOUR_MS, T0 + 2.6 * HOUR_MS)).toEqual([2]);
    expect(hours(T0 - 5 * HOUR_MS, T0 - 1)).toEqual([]);
    expect(hours(T0 + 5 * HOUR_MS, T0 + 6 * HOUR_MS)).toEqual([]);
  });

  test('a clock set back puts its bucket in order', () => {
    const time = clock(T0 + 2 * HOUR_MS);
    const store = new UsageStore(3600, time.now);
    store.add('a', 3, 0);
    time.set(T0);
    store.add('a', 1, 0);
    expect(store.query(0, Number.MAX_SAFE_INTEGER).map((r) => r.hour)).toEqual(['2026-12-06T12:00:00.000Z', '2026-12-06T14:00:00.000Z']);
  });

  test('keeps 7 days: a bucket that ended longer ago is dropped', () => {
    const time = clock();
    const store = new UsageStore(3600, time.now);
    store.add('a', 1, 1);
    time.set(T0 + HOUR_MS);
    store.add('a', 2, 1);
    // The first bucket ends exactly 7 days ago: dropped; the second still overlaps the week.
    time.set(T0 + HOUR_MS + USAGE_RETENTION_SECONDS * 1000);
    expect(store.query(0, Number.MAX_SAFE_INTEGER).map((r) => r.bytes)).toEqual([2]);
    time.set(T0 + 2 * HOUR_MS + USAGE_RETENTION_SECONDS * 1000);
    store.add('a', 3, 1);
    expect(store.query(0, Number.MAX_SAFE_INTEGER).map((r) => r.bytes)).toEqual([3]);
  });

  test('bucket lengths: 1 to 86400 seconds, dividing a day', () => {
    for (const ok of [1, 2, 60, 300, 900, 3600, 7200, 43_200, 86_400]) expect({ ok, problem: bucketSecondsProblem(ok) }).toEqual({ ok, problem: undefined });
    expect(bucketSecondsProblem(0)).toBe('must be an integer from 1 to 86400');
    expect(bucketSecondsProblem(86_401)).toBe('must be an integer from 1 to 86400');
    expect(bucketSecondsProblem(1.5)).toBe('must be an integer from 1 to 86400');
    expect(bucketSecondsProblem(7)).toBe('must divide 86400 (a day), e.g. 60, 300, 900 or 3600');
    expect(bucketSecondsProblem(3601)).toContain('must divide 86400');
    expect(() => new UsageStore(7)).toThrow('UsageStore: bucketSeconds=7 must divide 86400');
  });
});

describe('parseInstant', () => {
  test.each<[string, string | undefined]>([
    ['1796558400', '2026-12-06T12:00:00.000Z'],
    ['1796558400.25', '2026-12-06T12:00:00.250Z'],
    ['0', '1970-01-01T00:00:00.000Z'],
    ['2026-12-06T12:00:00Z', '2026-12-06T12:00:00.000Z'],
    ['2026-12-06t12:00z', '2026-12-06T12:00:00.000Z'],
    ['2026-12-06T12:00:00.5Z', '2026-12-06T12:00:00.500Z'],
    ['2026-12-06T12:00:00.123456789Z', '2026-12-06T12:00:00.123Z'],
    ['2026-12-06T13:00:00+01:00', '2026-12-06T12:00:00.000Z'],
    ['2026-12-06T07:30:00-0430', '2026-12-06T12:00:00.000Z'],
    ['2026-12-06', '2026-12-06T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    // No time zone: ambiguous.
    ['2026-12-06T12:00:00', undefined],
    ['2026-02-29', undefined],
    ['2026-12-06T24:00:00Z', undefined],
    ['2026-12-06T12:60:00Z', undefined],
    ['2026-12-06T12:00:00+24:00', undefined],
    ['yesterday', undefined],
    ['-1', undefined],
    ['1e9', undefined],
    ['', undefined],
  ])('%j', (raw, iso) => {
    const ms = parseInstant(raw);
    expect(ms === undefined ? undefined : new Date(ms).toISOString()).toBe(iso);
  });
});

describe('UsageApi answers (no sockets)', () => {
  const TOKEN = 'usage-token-1234';
  const setup = (): { api: UsageApi; store: UsageStore; flushes: () => number } => {
    const time = clock(T0 + 30 * 60_000);
    const store = new UsageStore(3600, time.now);
    let flushes = 0;
    const api = new UsageApi({ store, token: TOKEN, vendor: 'vendor-a', flush: () => flushes++, now: time.now });
    return { api, store, flushes: () => flushes };
  };
  const bearer = `Bearer ${TOKEN}`;

  test('200: the records of the window, after bringing the counts up to now; JSON as vendors answer', () => {
    const { api, store, flushes } = setup();
    store.add('crawler', 1234, 5);
    const answer = api.answer('GET', `${GATEWAY_USAGE_PATH}?from=2026-12-06T00:00:00Z&to=1796563800`, bearer);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(flushes()).toBe(1);
    expect(JSON.parse(answer.body)).toEqual({
      vendor: 'vendor-a',
      bucketSeconds: 3600,
      generatedAt: '2026-12-06T12:30:00.000Z',
      usage: [{ account: 'crawler', hour: '2026-12-06T12:00:00.000Z', bytes: 1234, requests: 5 }],
    });
    // Defaults: the last 48 hours. Other parameters are ignored; `+` unencoded is an offset, not a space.
    expect(JSON.parse(api.answer('GET', GATEWAY_USAGE_PATH, bearer).body).usage).toHaveLength(1);
    expect(JSON.parse(api.answer('GET', `${GATEWAY_USAGE_PATH}?page=2&from=2026-12-06T13:59:59+02:00`, bearer).body).usage).toHaveLength(1);
    expect(JSON.parse(api.answer('GET', `${GATEWAY_USAGE_PATH}?to=2026-12-06T11:59:59Z`, bearer).body).usage).toEqual([]);
    // The scheme is case-insensitive.
    expect(api.answer('GET', GATEWAY_USAGE_PATH, `bearer  ${TOKEN}`).status).toBe(200);
  });

  test('401 without a token or with a wrong one, before anything else', () => {
    const { api, flushes } = setup();
    const none = api.answer('GET', '/anything', undefined);
    expect([none.status, none.headers['www-authenticate']]).toEqual([401, 'Bearer realm="vendor-a usage API"']);
    for (const authorization of [`Bearer ${TOKEN}x`, 'Bearer ', `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`, TOKEN]) {
      const wrong = api.answer('GET', GATEWAY_USAGE_PATH, authorization);
      expect({ authorization, status: wrong.status, challenge: wrong.headers['www-authenticate'] })
        .toEqual({ authorization, status: 401, challenge: 'Bearer realm="vendor-a usage API", error="invalid_token"' });
    }
    expect(flushes()).toBe(0);
  });

  test('404 other paths, 405 other methods, 400 names the parameter', () => {
    const { api } = setup();
    expect(api.answer('GET', '/v1/usage/', bearer).status).toBe(404);
    expect(api.answer('GET', '/metrics', bearer).status).toBe(404);
    const post = api.answer('POST', GATEWAY_USAGE_PATH, bearer);
    expect([post.status, post.headers.allow]).toEqual([405, 'GET']);
    const bad = (query: string): unknown => {
      const answer = api.answer('GET', `${GATEWAY_USAGE_PATH}?${query}`, bearer);
      expect(answer.status).toBe(400);
      return JSON.parse(answer.body);
    };
    expect(bad('from=yesterday')).toEqual({ parameter: 'from', error: 'from="yesterday": must be ISO 8601 with a time zone (2026-12-06T12:00:00Z) or Unix seconds' });
    expect(bad('to=2026-12-06T12:00:00')).toMatchObject({ parameter: 'to' });
    expect(bad('from=')).toMatchObject({ parameter: 'from' });
    expect(bad('from=1&from=2')).toEqual({ parameter: 'from', error: 'from is given more than once' });
    expect(bad('from=2026-12-07T00:00:00Z&to=2026-12-06T00:00:00Z')).toEqual({
      parameter: 'to', error: 'to (2026-12-06T00:00:00.000Z) is before from (2026-12-07T00:00:00.000Z)',
    });
    expect(bad('from=%E0%A4%A')).toMatchObject({ parameter: 'from' });
  });
});

/** A socket stand-in whose byte counters the test sets. */
class FakeSocket extends EventEmitter {
  bytesRead = 0;
  bytesWritten = 0;
  move(read: number, written: number): void {
    this.bytesRead += read;
    this.bytesWritten += written;
  }
}

describe('billing a proxy-port connection', () => {
  const setup = (): { metrics: GatewayMetrics; store: UsageStore; value(name: string, labels?: Record<string, string>): Promise<number> } => {
    const metrics = new GatewayMetrics('vendor-a', 10);
    const store = new UsageStore(3600);
    metrics.attachUsage(store);
    return { metrics, store, value: async (name, labels = {}) => metricValue(await metrics.registry.metrics(), name, labels) };
  };
  const track = (metrics: GatewayMetrics, path: 'proxy' | 'direct' = 'proxy'): FakeSocket & net.Socket => {
    const socket = new FakeSocket() as FakeSocket & net.Socket;
    metrics.trackWireBytes(socket, path);
    return socket;
  };

  test('keep-alive: each request pays from its head to the end of its answer; a 407 and an unfinished head are nobody\'s', async () => {
    const { metrics, store, value } = setup();
    metrics.showAccount('alice');
    expect(await value('gateway_billed_bytes_total', { account: 'alice' })).toBe(0);
    const socket = track(metrics);
    socket.move(100, 0); // the head, read before anyone knows who sends it
    const first = metrics.billRequest(socket, 'alice');
    socket.move(0, 500);
    first();
    socket.move(80, 0);
    const refused = metrics.billRequest(socket, undefined);
    socket.move(0, 200);
    refused();
    socket.move(70, 0);
    const second = metrics.billRequest(socket, 'alice');
    socket.move(30, 300); // a body, and the answer
    second();
    second(); // once only
    socket.move(50, 0); // a head the client never finished
    socket.emit('close');
    expect(await value('gateway_billed_bytes_total', { account: 'alice' })).toBe(100 + 500 + 70 + 30 + 300);
    expect(await value('gateway_billed_requests_total', { account: 'alice' })).toBe(2);
    expect(await value('gateway_wire_bytes_total', { path: 'proxy' })).toBe(100 + 500 + 80 + 200 + 70 + 30 + 300 + 50);
    expect(store.query(0, Number.MAX_SAFE_INTEGER)).toEqual([expect.objectContaining({ account: 'alice', bytes: 1000, requests: 2 })]);
  });

  test('pipelined requests: the first pays until its answer is out, then the next one', async () => {
    const { metrics, value } = setup();
    const socket = track(metrics);
    socket.move(200, 0);
    const a = metrics.billRequest(socket, 'alice');
    const b = metrics.billRequest(socket, 'bob');
    socket.move(0, 400);
    a();
    socket.move(0, 300);
    b();
    expect(await value('gateway_billed_bytes_total', { account: 'alice' })).toBe(600);
    expect(await value('gateway_billed_bytes_total', { account: 'bob' })).toBe(300);
  });

  test('CONNECT: its account pays for the whole connection from the head on, up to each scrape; a refused CONNECT for nothing', async () => {
    const { metrics, store, value } = setup();
    const tunnel = track(metrics);
    tunnel.move(120, 0);
    metrics.billTunnel(tunnel, 'alice');
    tunnel.move(0, 39);
    tunnel.move(5000, 60_000);
    expect(await value('gateway_billed_bytes_total', { account: 'alice' })).toBe(65_159);
    expect(store.query(0, Number.MAX_SAFE_INTEGER)).toEqual([expect.objectContaining({ bytes: 65_159, requests: 1 })]);
    // The tunnel is billed for good: requests seen inside it change nothing.
    metrics.billRequest(tunnel, undefined)();
    tunnel.move(1, 1);
    tunnel.emit('close');
    expect(await value('gateway_billed_bytes_total', { account: 'alice' })).toBe(65_161);

    const refused = track(metrics);
    refused.move(120, 0);
    metrics.billTunnel(refused, undefined);
    refused.move(0, 150);
    refused.emit('close');
    const site = track(metrics, 'direct');
    site.move(1000, 1000);
    site.emit('close');
    expect(await value('gateway_billed_bytes_total')).toBe(65_161);
    expect(await value('gateway_billed_requests_total')).toBe(1);
    expect(await value('gateway_wire_bytes_total', { path: 'proxy' })).toBe(65_161 + 270);
  });
});

// ---- the bundled gateway ----

const TOKEN = 'Zm9vYmFyLXVzYWdlLXRva2Vu';
const USER = 'crawler';
const AUTH = { 'proxy-authorization': `Basic ${Buffer.from(`${USER}:pw`).toString('base64')}` };
const CREDENTIALS = { PROXY_USERNAME: USER, PROXY_PASSWORD: 'pw' };

interface ApiAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET on the usage API; `authorization` null sends none. */
function usageGet(gateway: GatewayRun, query = '', authorization: string | null = `Bearer ${TOKEN}`, path = GATEWAY_USAGE_PATH): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const headers = authorization === null ? {} : { authorization };
    http.get({ host: LOOPBACK, port: gateway.usagePort, path: `${path}${query}`, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

async function usage(gateway: GatewayRun): Promise<UsageResponse> {
  const answer = await usageGet(gateway);
  expect(answer.status).toBe(200);
  return JSON.parse(answer.body) as UsageResponse;
}

const total = (records: UsageRecord[], key: 'bytes' | 'requests', account = USER): number =>
  records.filter((r) => r.account === account).reduce((sum, r) => sum + r[key], 0);

/** Bytes the test client moved on its sockets to the gateway, both directions. */
class ClientBytes {
  private readonly counts: Array<() => number> = [];
  /** All the socket moves. */
  add<S extends net.Socket>(socket: S): S {
    this.counts.push(() => socketBytes(socket));
    return socket;
  }
  /** A part of a socket's bytes. */
  addCount(count: () => number): void {
    this.counts.push(count);
  }
  get total(): number {
    return this.counts.reduce((sum, count) => sum + count(), 0);
  }
}

const socketBytes = (socket: net.Socket): number => socket.bytesRead + socket.bytesWritten;

/**
 * Asks until `value()` equals `expected()` (both read anew each time), and returns the last value: the client and the
 * gateway see the same bytes once the last ones have been read at both ends, which no fixed wait can promise.
 */
async function settle(value: () => Promise<number>, expected: () => number, timeoutMs = 20_000): Promise<{ value: number; expected: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = { value: await value(), expected: expected() };
    if (got.value === got.expected || Date.now() > deadline) return got;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One GET on an HTTP/2 session, which stays open. */
function h2Get(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path });
    let status = 0;
    let bytes = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c: Buffer) => (bytes += c.length));
    stream.on('end', () => resolve({ status, bytes }));
    stream.on('error', reject);
  });
}

async function stopCleanly(gateway: GatewayRun): Promise<void> {
  expect(await gateway.stop()).toEqual({ code: 0, signal: null });
  expect(gateway.stderr).not.toContain(OUTBOUND_MARK);
  expect(gateway.lines().filter((l) => l.level === 'error')).toEqual([]);
  expect(gateway.stdout).not.toContain(TOKEN);
}

describe('demo gateway usage API (bundled)', () => {
  test('bills exactly the bytes the client\'s sockets moved, per account: CONNECT tunnels (TLS h2, TLS HTTP/1.1, plaintext) and absolute-form requests; 407s and the site port add nothing', async () => {
    const gateway = await startGateway({ ...CREDENTIALS, USAGE_PORT: '0', USAGE_TOKEN: TOKEN, SITE_PORT: '0', SITE_HOST: LOOPBACK, PAGE_SIZES: '3000=1,70000=1' });
    expect(gateway.usagePort).toBeGreaterThan(0);
    // Before any traffic: no records, the account's series at 0.
    expect((await usage(gateway)).usage).toEqual([]);
    expect(metricValue(await gateway.metrics(), 'gateway_billed_bytes_total', { vendor: 'demo-vendor', account: USER })).toBe(0);
    const billed = new ClientBytes();
    const unbilled = new ClientBytes();

    // N = 3 CONNECTs. TLS with h2, two pages on one session, which stays open.
    const h2Tunnel = await connect(gateway.port, 'shop.example:443', AUTH);
    expect(h2Tunnel.status).toBe(200);
    billed.add(h2Tunnel.socket);
    const h2Tls = await startTls(h2Tunnel.socket, { servername: 'shop.example', alpn: ['h2'] });
    const session = http2.connect('https://shop.example', { createConnection: () => h2Tls });
    session.on('error', () => undefined);
    expect(await h2Get(session, '/a')).toEqual({ status: 200, bytes: 3000 });
    expect(await h2Get(session, '/b')).toEqual({ status: 200, bytes: 70_000 });
    // TLS with HTTP/1.1, and plaintext HTTP/1.1, two pages each.
    const h1Tunnel = await connect(gateway.port, 'docs.example:443', AUTH);
    billed.add(h1Tunnel.socket);
    const h1Tls = await startTls(h1Tunnel.socket, { servername: 'docs.example', alpn: ['http/1.1'] });
    const plainTunnel = await connect(gateway.port, 'plain.example:80', AUTH);
    billed.add(plainTunnel.socket);
    for (const socket of [h1Tls, plainTunnel.socket]) {
      for (const page of ['/1', '/2']) expect((await rawHttp1(socket, `GET ${page} HTTP/1.1\r\nHost: x.example\r\n\r\n`)).status).toBe(200);
    }

    // M = 4 absolute-form requests: two on one keep-alive connection, a POST with a body, one that closes.
    const keepAlive = billed.add(await connectTcp(gateway.port));
    const auth = `Proxy-Authorization: ${AUTH['proxy-authorization']}\r\n`;
    for (const page of ['a', 'b']) {
      expect((await rawHttp1(keepAlive, `GET http://news.example/${page} HTTP/1.1\r\nHost: news.example\r\n${auth}\r\n`)).status).toBe(200);
    }
    // A body larger than the socket buffers: the answer is out before the body is read, and the request pays to its end.
    const post = await connectTcp(gateway.port);
    const body = 'x'.repeat(2 ** 21);
    expect((await rawHttp1(post, `POST http://forms.example/ HTTP/1.1\r\nHost: forms.example\r\n${auth}Content-Length: ${body.length}\r\n\r\n${body}`)).status).toBe(200);
    const postBytes = socketBytes(post);
    billed.addCount(() => postBytes);
    const read = await settle(async () => total((await usage(gateway)).usage, 'bytes'), () => billed.total);
    expect(read.value).toBe(read.expected);
    // Then a 407 on the same connection: nobody's.
    expect((await rawHttp1(post, 'GET http://forms.example/ HTTP/1.1\r\nHost: forms.example\r\n\r\n')).status).toBe(407);
    unbilled.addCount(() => socketBytes(post) - postBytes);
    const closing = billed.add(await connectTcp(gateway.port));
    const closed = readToEnd(closing);
    closing.write(`GET http://news.example/c HTTP/1.1\r\nHost: news.example\r\n${auth}Connection: close\r\n\r\n`);
    expect((await closed).toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);

    // Refused for authentication: a CONNECT (the connection closes) and an absolute-form request (a third above).
    const refusedConnect = await connect(gateway.port, 'shop.example:443', { 'proxy-authorization': 'Basic d3Jvbmc6d3Jvbmc=' });
    expect(refusedConnect.status).toBe(407);
    unbilled.add(refusedConnect.socket);
    await readToEnd(refusedConnect.socket);
    const refused = unbilled.add(await connectTcp(gateway.port));
    expect((await rawHttp1(refused, 'GET http://news.example/ HTTP/1.1\r\nHost: news.example\r\n\r\n')).status).toBe(407);

    // Straight to the site port: not the vendor's traffic.
    const direct = await connectTcp(gateway.sitePort);
    expect((await rawHttp1(direct, 'GET /d HTTP/1.1\r\nHost: shop.example\r\n\r\n')).status).toBe(200);

    // The connections stay open and idle: both ends have read everything once the counts agree.
    const api = await settle(async () => total((await usage(gateway)).usage, 'bytes'), () => billed.total);
    expect(api.value).toBe(api.expected);
    const answer = await usage(gateway);
    expect(answer).toMatchObject({ vendor: 'demo-vendor', bucketSeconds: 3600 });
    expect(answer.usage.map((r) => r.account)).toEqual([USER]);
    expect(answer.usage[0].hour).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/);
    expect(total(answer.usage, 'requests')).toBe(3 + 4);

    // The metrics say the same; the proxy path's wire bytes are the billed ones and the refused ones.
    const wire = await settle(async () => metricValue(await gateway.metrics(), 'gateway_wire_bytes_total', { path: 'proxy' }), () => billed.total + unbilled.total);
    expect(wire.value).toBe(wire.expected);
    const metrics = await gateway.metrics();
    expect(metricValue(metrics, 'gateway_billed_bytes_total', { account: USER })).toBe(billed.total);
    expect(metricValue(metrics, 'gateway_billed_bytes_total')).toBe(billed.total);
    expect(metricValue(metrics, 'gateway_billed_requests_total', { vendor: 'demo-vendor', account: USER })).toBe(7);
    expect(metricValue(metrics, 'gateway_wire_bytes_total', { path: 'direct' })).toBeGreaterThan(3000);
    expect(metricValue(metrics, 'gateway_requests_total', { code: '407' })).toBe(3);
    session.destroy();
    await stopCleanly(gateway);
  });

  test('429s are billed; without proxy credentials the account is `default`', async () => {
    const gateway = await startGateway({ USAGE_PORT: '0', USAGE_TOKEN: TOKEN, RATE_LIMIT_SHARE: '1' });
    expect(metricValue(await gateway.metrics(), 'gateway_billed_requests_total', { account: 'default' })).toBe(0);
    const billed = new ClientBytes();
    const tunnel = await connect(gateway.port, 'shop.example:443');
    expect(tunnel.status).toBe(429);
    billed.add(tunnel.socket);
    await readToEnd(tunnel.socket);
    const request = billed.add(await connectTcp(gateway.port));
    expect((await rawHttp1(request, 'GET http://news.example/ HTTP/1.1\r\nHost: news.example\r\n\r\n')).status).toBe(429);
    const api = await settle(async () => total((await usage(gateway)).usage, 'bytes', 'default'), () => billed.total);
    expect(api.value).toBe(api.expected);
    const records = (await usage(gateway)).usage;
    expect(records.map((r) => [r.account, r.requests])).toEqual([['default', 2]]);
    expect(metricValue(await gateway.metrics(), 'gateway_billed_bytes_total', { account: 'default' })).toBe(billed.total);
    await stopCleanly(gateway);
  });

  test('USAGE_BUCKET_SECONDS=1: a long tunnel spreads over the buckets it spans, which add up to what it moved', async () => {
    const gateway = await startGateway({ ...CREDENTIALS, USAGE_PORT: '0', USAGE_TOKEN: TOKEN, USAGE_BUCKET_SECONDS: '1', PAGE_SIZES: '2000' });
    const billed = new ClientBytes();
    const tunnel = await connect(gateway.port, 'slow.example:80', AUTH);
    billed.add(tunnel.socket);
    // Pages until the API shows three buckets with bytes: as many as the clock takes, whatever the machine's speed.
    let buckets = 0;
    const deadline = Date.now() + 30_000;
    while (buckets < 3 && Date.now() < deadline) {
      expect((await rawHttp1(tunnel.socket, 'GET / HTTP/1.1\r\nHost: slow.example\r\n\r\n')).status).toBe(200);
      buckets = (await usage(gateway)).usage.filter((r) => r.bytes > 0).length;
    }
    expect(buckets).toBeGreaterThanOrEqual(3);
    const api = await settle(async () => total((await usage(gateway)).usage, 'bytes'), () => billed.total);
    expect(api.value).toBe(api.expected);
    const answer = await usage(gateway);
    expect(answer.bucketSeconds).toBe(1);
    const starts = answer.usage.map((r) => Date.parse(r.hour));
    expect(starts.every((t) => t % 1000 === 0)).toBe(true);
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    // The CONNECT is one request, in the first bucket.
    expect(answer.usage.map((r) => r.requests)).toEqual([1, ...Array(answer.usage.length - 1).fill(0)]);
    // `from` and `to` select buckets: the first one alone.
    const first = await usageGet(gateway, `?from=${starts[0] / 1000}&to=${new Date(starts[0] + 999).toISOString()}`);
    expect(JSON.parse(first.body).usage).toEqual([answer.usage[0]]);
    await stopCleanly(gateway);
  });

  test('401 without the token or with a wrong one, 400 for a bad from, 404 elsewhere, GET only', async () => {
    const gateway = await startGateway({ USAGE_PORT: '0', USAGE_TOKEN: TOKEN });
    const none = await usageGet(gateway, '', null);
    expect([none.status, none.headers['www-authenticate'], none.headers['content-type']]).toEqual([401, 'Bearer realm="demo-vendor usage API"', 'application/json']);
    expect((await usageGet(gateway, '', `Bearer ${TOKEN.slice(0, -1)}`)).status).toBe(401);
    expect((await usageGet(gateway, '', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`)).status).toBe(401);
    const bad = await usageGet(gateway, '?from=last-week');
    expect([bad.status, JSON.parse(bad.body).parameter]).toEqual([400, 'from']);
    expect(JSON.parse(bad.body).error).toContain('from="last-week"');
    expect((await usageGet(gateway, '', `Bearer ${TOKEN}`, '/v1/other')).status).toBe(404);
    const post = await new Promise<number>((resolve, reject) => {
      http.request({ host: LOOPBACK, port: gateway.usagePort, method: 'POST', path: GATEWAY_USAGE_PATH, headers: { authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject).end();
    });
    expect(post).toBe(405);
    expect(gateway.lines().find((l) => l.msg === 'start')).toMatchObject({ usagePort: gateway.usagePort, usageBucketSeconds: 3600 });
    await stopCleanly(gateway);
    // Closed with the other listeners.
    await expect(usageGet(gateway)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  test('without USAGE_PORT there is no usage API, and billing is counted all the same', async () => {
    const gateway = await startGateway(CREDENTIALS);
    expect(gateway.usagePort).toBe(0);
    expect(gateway.lines().find((l) => l.msg === 'start')).toMatchObject({ usagePort: null, usageBucketSeconds: null });
    expect((await proxyRequest(gateway.port, 'http://news.example/', AUTH)).status).toBe(200);
    expect(metricValue(await gateway.metrics(), 'gateway_billed_requests_total', { account: USER })).toBe(1);
    await stopCleanly(gateway);
  });
});
