/**
 * Loopback-only fixtures for the demo gateway: the bundled gateway as a
 * child process (on test/support/program-process, with a guard that kills it
 * on any outbound connection), a demo CA in a temporary folder, and small
 * proxy clients. The crawler side comes from test/crawler/helpers.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { bundleGateway, generateDemoCa } from '../../gateway';
import type { Gateway } from '../../gateway/src/gateway';
import type { Counts } from '../../gateway/src/stats';
import { LOOPBACK, metricValue, scrapeMetrics, unusedPort, waitUntil } from '../crawler/helpers';
import { Exit, ProgramRun, bundleFile, closeAfterTest, removeBundles, spawnProgram } from '../support/program-process';

export { LOOPBACK, metricValue, runCrawler, scrapeMetrics, thrownConfigError, waitUntil } from '../crawler/helpers';
export type { LogLine, StopLine } from '../crawler/helpers';
export { cleanup } from '../support/program-process';

/** Preloaded into every gateway: any outbound connection or DNS lookup prints a line and exits 99. */
export const NO_OUTBOUND_GUARD = path.join(__dirname, 'fixtures', 'no-outbound.js');
export const OUTBOUND_MARK = 'OUTBOUND ATTEMPT';

let tempDir: string | undefined;

function temporaryFolder(): string {
  tempDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-test-'));
  return tempDir;
}

/** For afterAll: deletes the bundles, CA files and other temporary files. */
export function removeTemporaryFiles(): void {
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
  caFiles = undefined;
  removeBundles();
}

/** Writes bundleGateway() to a temporary file once per test file. */
export function bundledGatewayPath(): string {
  return bundleFile('gateway.js', bundleGateway);
}

export interface CaFiles {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

let caFiles: CaFiles | undefined;

/** A demo CA written to the temporary folder (once per test file), as a Secret mount would provide it. */
export function demoCaFiles(): CaFiles {
  if (!caFiles) {
    const ca = generateDemoCa({ commonName: 'gateway test CA' });
    const certFile = path.join(temporaryFolder(), 'ca.crt');
    const keyFile = path.join(temporaryFolder(), 'ca.key');
    fs.writeFileSync(certFile, ca.certPem);
    fs.writeFileSync(keyFile, ca.keyPem, { mode: 0o600 });
    caFiles = { certFile, keyFile, certPem: ca.certPem, keyPem: ca.keyPem };
  }
  return caFiles;
}

/** Writes a file to the temporary folder; returns its path. */
export function temporaryFile(name: string, content: string): string {
  const file = path.join(temporaryFolder(), name);
  fs.writeFileSync(file, content);
  return file;
}

/** The gateway's `stop` line: its totals since start (gateway/src/stats.ts) and how the drain went. */
type GatewayTotals = Counts & Awaited<ReturnType<Gateway['drain']>>;

export class GatewayRun extends ProgramRun<GatewayTotals> {
  port = 0;
  metricsPort = 0;
  /** The site port from the start line; 0 when SITE_PORT is unset. */
  sitePort = 0;
  /** The usage API's port from the start line; 0 when USAGE_PORT is unset. */
  usagePort = 0;

  /** The proxy URL for the crawler's *_PROXY variables, with `credentials` (user:password) before the host if given. */
  proxyUrl(credentials?: string): string {
    return `http://${credentials ? `${credentials}@` : ''}${LOOPBACK}:${this.port}`;
  }

  metrics(): Promise<string> {
    return scrapeMetrics(this.metricsPort);
  }

  constructor(child: ChildProcess) {
    super(child, 'gateway');
  }

  /** SIGTERM, then the exit. */
  async stop(): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.waitForExit();
  }
}

/** Spawns the bundled gateway (environment built from scratch) without waiting for it. */
export function spawnGateway(env: Record<string, string>, nodeArgs: string[] = []): GatewayRun {
  const defaults = { VENDOR: 'demo-vendor', PORT: '0', HOST: LOOPBACK, METRICS_PORT: '0', LOG_INTERVAL_SECONDS: '1' };
  return spawnProgram(GatewayRun, bundledGatewayPath(), { ...defaults, ...env }, ['--require', NO_OUTBOUND_GUARD, ...nodeArgs]);
}

/**
 * Starts the bundled gateway with the demo CA and a metrics port, and waits
 * for its `start` line (which carries the proxy port it bound).
 */
export async function startGateway(env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<GatewayRun> {
  const ca = demoCaFiles();
  const metricsPort = await unusedPort();
  const run = spawnGateway(
    { CA_CERT_FILE: ca.certFile, CA_KEY_FILE: ca.keyFile, METRICS_PORT: String(metricsPort), METRICS_HOST: LOOPBACK, ...env },
    nodeArgs,
  );
  let exited = false;
  void run.exited.then(() => (exited = true));
  await waitUntil(() => exited || run.stdout.includes('"msg":"start"'), 20_000, 'the gateway start line');
  const start = run.lines().find((l) => l.msg === 'start');
  if (!start) throw new Error(`gateway did not start; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  run.port = start.port as number;
  run.metricsPort = metricsPort;
  run.sitePort = (start.sitePort as number | null) ?? 0;
  run.usagePort = (start.usagePort as number | null) ?? 0;
  return run;
}

/** Sum of a gateway metric over every sample matching `labels`, scraped now. */
export async function gatewayValue(run: GatewayRun, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await run.metrics(), name, labels);
}

export interface ProxyResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request to the proxy port; `target` is the request target as sent (absolute URL or origin-form path). */
export function proxyRequest(port: number, target: string, headers: Record<string, string> = {}, agent: http.Agent | false = false): Promise<ProxyResponse & { reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: LOOPBACK, port, path: target, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface ConnectResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  socket: net.Socket;
}

/** Sends `CONNECT authority` and returns the answer with the (possibly tunnelled) socket. */
export function connect(port: number, authority: string, headers: Record<string, string> = {}): Promise<ConnectResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: LOOPBACK, port, method: 'CONNECT', path: authority, headers: { host: authority, ...headers }, agent: false });
    req.once('connect', (res, socket, head) => {
      if (head.length > 0) socket.unshift(head);
      closeAfterTest(() => {
        socket.destroy();
      });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, socket });
    });
    req.once('error', reject);
    req.end();
  });
}

/** A plain TCP connection to `port` on loopback (e.g. the site port), closed after the test. */
export function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK, port }, () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
    closeAfterTest(() => {
      socket.destroy();
    });
  });
}

export interface TlsOptions {
  /** SNI; '' sends none. */
  servername: string;
  alpn?: string[];
  /** Trust the demo CA (default) or skip verification. */
  verify?: boolean;
}

/** TLS over an open tunnel (or a connection to the site port), trusting the demo CA. */
export function startTls(socket: net.Socket, opts: TlsOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      servername: opts.servername,
      ALPNProtocols: opts.alpn,
      ca: demoCaFiles().certPem,
      rejectUnauthorized: opts.verify ?? true,
      // Names are checked by the tests themselves, against what they asked for.
      checkServerIdentity: () => undefined,
    });
    secure.once('secureConnect', () => resolve(secure));
    secure.once('error', reject);
    closeAfterTest(() => {
      secure.destroy();
    });
  });
}

/** Reads a socket to its end. */
export function readToEnd(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** Sends a raw HTTP/1.1 request on a socket and reads one response with a Content-Length. */
export function rawHttp1(socket: net.Socket, request: string): Promise<{ status: number; head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      socket.removeListener('data', onData);
      resolve({ status: Number(head.split(' ')[1]), head, body: buffer.subarray(end + 4, end + 4 + length) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(request);
  });
}

export interface HoldServer {
  port: number;
  /** Requests received (none answered until release()). */
  received(): number;
  /** Answers every held request, and every later one at once. */
  release(): void;
}

/**
 * A direct (NO_PROXY) target that holds its requests until released. A
 * crawler with one of these among its targets cannot finish its run, so its
 * metrics can be scraped after every gateway request is done.
 */
export async function startHoldServer(): Promise<HoldServer> {
  const held: http.ServerResponse[] = [];
  let released = false;
  const server = http.createServer((req, res) => {
    req.resume();
    if (released) res.end('ok');
    else held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  closeAfterTest(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  let count = 0;
  server.on('request', () => count++);
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => count,
    release: () => {
      released = true;
      held.splice(0).forEach((res) => res.end('ok'));
    },
  };
}

/** Scrapes `port` until `condition` holds on the metrics text; returns that text. */
export async function scrapeUntil(port: number, condition: (metrics: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await scrapeMetrics(port).catch(() => '');
    if (condition(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last scrape:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export { unusedPort };
