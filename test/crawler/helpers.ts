/**
 * Loopback-only test fixtures for the crawler: target servers for each
 * protocol, a recording forward proxy, and a runner for the bundled crawler
 * (on test/support/program-process, as the gateway's tests run theirs).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { bundleCrawler } from '../../crawler';
import type { Counts } from '../../crawler/src/stats';
import { ConfigError } from '../../runtime/src/env';
import { LogLine, ProgramRun, bundleFile, closeAfterTest, removeBundles, spawnProgram } from '../support/program-process';

export { cleanup } from '../support/program-process';
export type { Exit, LogLine } from '../support/program-process';

export const LOOPBACK = '127.0.0.1';
export const FIXTURES = path.join(__dirname, 'fixtures');
export const CA_FILE = path.join(FIXTURES, 'cert.pem');
const KEY = fs.readFileSync(path.join(FIXTURES, 'key.pem'));
const CERT = fs.readFileSync(CA_FILE);
/** Body size of the default 200 answer, so byte counters can be checked. */
export const BODY_BYTES = 1000;

export interface SeenRequest {
  protocol: 'http1.1' | 'h2' | 'h2c';
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** TLS SNI, when TLS and sent. */
  servername?: string;
  at: number;
}

export interface TargetServer {
  port: number;
  requests: SeenRequest[];
  /** Responses fully sent. */
  completed: number;
  /** TLS or TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

export type ServerKind = 'http1.1' | 'https1.1' | 'h2' | 'h2c';

/**
 * A target server. Paths: `/status/NNN` answers NNN, `/slow/MS` answers 200
 * after MS milliseconds, anything else 200 with BODY_BYTES bytes.
 */
export async function startServer(kind: ServerKind): Promise<TargetServer> {
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  const state: Omit<TargetServer, 'port' | 'close'> = { requests: [], completed: 0, connections: 0 };

  const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    const isH2 = req.httpVersion === '2.0';
    const tlsSocket = (isH2 ? (req as http2.Http2ServerRequest).stream.session?.socket : req.socket) as tls.TLSSocket | undefined;
    state.requests.push({
      protocol: isH2 ? (kind === 'h2c' ? 'h2c' : 'h2') : 'http1.1',
      method: req.method ?? '',
      path: req.url ?? '',
      headers: { ...req.headers },
      servername: kind === 'h2' || kind === 'https1.1' ? (tlsSocket?.servername || undefined) : undefined,
      at: Date.now(),
    });
    const url = req.url ?? '/';
    const finish = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body, () => {
        state.completed++;
      });
    };
    const status = /^\/status\/(\d{3})/.exec(url);
    const slow = /^\/slow\/(\d+)/.exec(url);
    if (status) finish(Number(status[1]), `status ${status[1]}`);
    else if (slow) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        finish(200, 'slow');
      }, Number(slow[1]));
      timers.add(timer);
    } else finish(200, 'x'.repeat(BODY_BYTES));
  };

  let server: net.Server;
  if (kind === 'http1.1') server = http.createServer(handler);
  else if (kind === 'https1.1') server = https.createServer({ key: KEY, cert: CERT }, handler);
  else if (kind === 'h2') server = http2.createSecureServer({ key: KEY, cert: CERT, allowHTTP1: true }, handler);
  else server = http2.createServer(handler);

  server.on(kind === 'http1.1' || kind === 'h2c' ? 'connection' : 'secureConnection', (socket: net.Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  if (kind === 'h2c' || kind === 'h2') {
    server.on('session', (session: http2.Http2Session) => {
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
    });
  }
  const port = await listen(server);
  const close = async (): Promise<void> => {
    timers.forEach(clearTimeout);
    sessions.forEach((s) => s.destroy());
    sockets.forEach((s) => s.destroy());
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  closeAfterTest(close);
  return Object.assign(state, { port, close });
}

export interface ProxyRecord {
  method: string;
  /** CONNECT authority, or the absolute-form URL. */
  target: string;
  headers: http.IncomingHttpHeaders;
}

export interface TestProxy {
  port: number;
  seen: ProxyRecord[];
  /** Connections currently open (clients and upstreams). */
  openSockets(): number;
  url(credentials?: string): string;
  close(): Promise<void>;
}

/**
 * A forward proxy: CONNECT tunnels and absolute-form requests. Whatever host
 * a client names, it connects to 127.0.0.1 on the named port, so targets can
 * carry names that only the proxy "resolves". With `credentials` set
 * ("user:pass") it answers 407 to requests without the matching
 * Proxy-Authorization. A `silent` proxy accepts CONNECT and never answers.
 */
export async function startProxy(credentials?: string, mode: 'normal' | 'silent' = 'normal'): Promise<TestProxy> {
  const seen: ProxyRecord[] = [];
  const sockets = new Set<net.Socket>();
  const expected = credentials ? `Basic ${Buffer.from(credentials).toString('base64')}` : undefined;
  const authorized = (req: http.IncomingMessage): boolean => !expected || req.headers['proxy-authorization'] === expected;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };

  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', target: req.url ?? '', headers: { ...req.headers } });
    if (!authorized(req)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"', 'content-length': '0' });
      res.end();
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400, { 'content-length': '0' });
      res.end();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = http.request(
      { host: LOOPBACK, port: Number(url.port || 80), method: req.method, path: `${url.pathname}${url.search}`, headers, agent: false },
      (ures) => {
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        ures.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-length': '0' });
      res.end();
    });
    req.pipe(upstream);
  });
  server.on('connection', track);
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push({ method: 'CONNECT', target: req.url ?? '', headers: { ...req.headers } });
    if (mode === 'silent') {
      // Read (and drop) so the client's close is noticed.
      client.on('end', () => client.destroy()).on('error', () => client.destroy()).resume();
      return;
    }
    if (!authorized(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const port = Number(/:(\d+)$/.exec(req.url ?? '')?.[1]);
    const upstream = net.connect(port, LOOPBACK, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
    const fail = (): void => {
      upstream.destroy();
      client.destroy();
    };
    upstream.on('error', () => {
      if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
      fail();
    });
    client.on('error', fail);
  });
  const port = await listen(server);
  const close = async (): Promise<void> => {
    sockets.forEach((s) => s.destroy());
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  closeAfterTest(close);
  return {
    port,
    seen,
    openSockets: () => sockets.size,
    url: (creds?: string) => `http://${creds ? `${creds}@` : ''}${LOOPBACK}:${port}`,
    close,
  };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** A loopback port nothing listens on (for connection-refused cases). */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Writes bundleCrawler() to a temporary file once per test file; see removeBundle. */
export function bundledCrawlerPath(): string {
  return bundleFile('crawler.js', bundleCrawler);
}

/** For afterAll: deletes the temporary bundle. */
export const removeBundle = removeBundles;

/** The crawler's `stop` line: its totals since start (crawler/src/stats.ts). */
export type StopLine = LogLine & Counts;

export class CrawlerRun extends ProgramRun<Counts> {
  constructor(child: ChildProcess) {
    super(child, 'crawler');
  }
}

/**
 * Runs the bundled crawler with node. The environment is built from scratch
 * (no inherited proxy variables); logs summarise every second.
 */
export function runCrawler(env: Record<string, string>, nodeArgs: string[] = []): CrawlerRun {
  return spawnProgram(CrawlerRun, bundledCrawlerPath(), { PROXY_VENDOR: 'test-vendor', METRICS_PORT: '0', LOG_INTERVAL_SECONDS: '1', ...env }, nodeArgs);
}

/** The ConfigError `load` throws, for either program's configuration (other errors are thrown on). */
export function thrownConfigError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** Polls until `condition` holds. */
export async function waitUntil(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** GET http://127.0.0.1:port/metrics as text. */
export function scrapeMetrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: LOOPBACK, port, path: '/metrics', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** Sum of a metric's samples whose labels include all of `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? ([^ ]+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(match[4]);
  }
  return sum;
}
