/**
 * Crawler throughput benchmark: requests/s one bundled crawler process
 * sustains on one core, per protocol, against local servers running in a
 * separate process on the other core.
 *
 *   npx ts-node --transpile-only bench/crawler.ts
 *
 * BENCH_SECONDS (default 5) and BENCH_CONCURRENCY (default 64) adjust a run.
 * Everything stays on 127.0.0.1.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleCrawler } from '../crawler';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const FIXTURES = path.resolve(__dirname, '..', 'test', 'crawler', 'fixtures');

// Target servers: HTTP/1.1, HTTPS (HTTP/1.1 only), h2c and h2 over TLS, each
// answering 200 with a 1 KiB body. Prints its ports as one JSON line.
const SERVER_SCRIPT = `
const fs = require('fs'), http = require('http'), https = require('https'), http2 = require('http2');
const tlsOpts = { key: fs.readFileSync(process.argv[1] + '/key.pem'), cert: fs.readFileSync(process.argv[1] + '/cert.pem') };
const body = Buffer.alloc(1024, 120);
const handler = (req, res) => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }); res.end(body); };
const h2settings = { settings: { maxConcurrentStreams: 1000 } };
// HTTP/2 servers use the core stream API: the compatibility layer costs the
// single server core more than the crawler spends per request.
const onStream = (stream) => { stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': body.length }); stream.end(body); };
const servers = {
  http1: http.createServer({ keepAliveTimeout: 60000 }, handler),
  https1: https.createServer({ ...tlsOpts, keepAliveTimeout: 60000 }, handler),
  h2c: http2.createServer(h2settings).on('stream', onStream),
  h2: http2.createSecureServer({ ...tlsOpts, ...h2settings }).on('stream', onStream),
};
const ports = {};
let pending = Object.keys(servers).length;
for (const [name, server] of Object.entries(servers)) {
  server.listen(0, '127.0.0.1', () => {
    ports[name] = server.address().port;
    if (--pending === 0) process.stdout.write(JSON.stringify(ports) + '\\n');
  });
}
process.on('SIGTERM', () => process.exit(0));
`;

interface Scenario {
  name: string;
  protocol: string;
  target: (ports: Record<string, number>) => string;
  env?: Record<string, string>;
}

const SCENARIOS: Scenario[] = [
  { name: 'HTTP/1.1 plaintext', protocol: 'http1.1', target: (p) => `http://127.0.0.1:${p.http1}/` },
  { name: 'HTTP/1.1 over TLS', protocol: 'http1.1', target: (p) => `https://127.0.0.1:${p.https1}/` },
  { name: 'HTTP/2 h2c', protocol: 'h2c', target: (p) => `http://127.0.0.1:${p.h2c}/`, env: { H2C: 'true' } },
  { name: 'HTTP/2 over TLS (ALPN)', protocol: 'h2', target: (p) => `https://127.0.0.1:${p.h2}/` },
];

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs `node args` pinned to `cpu` when taskset exists. */
function spawnNode(args: string[], cpu: number, pinned: boolean, env: NodeJS.ProcessEnv): ChildProcess {
  const [command, argv] = pinned ? ['taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args];
  return spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end >= 0) resolve(buffer.slice(0, end));
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

interface Result {
  scenario: string;
  okPerSecond: number;
  requests: number;
  errors: number;
  skipped: number;
  /** Crawler CPU time over wall time: near 1 means its core was the limit. */
  cpuShare: number;
  maxRssMiB: number;
}

async function runScenario(bundle: string, scenario: Scenario, ports: Record<string, number>, pinned: boolean): Promise<Result> {
  const child = spawnNode([bundle], 0, pinned, {
    PATH: process.env.PATH,
    PROXY_VENDOR: 'bench',
    TARGETS: scenario.target(ports),
    REQUESTS_PER_SECOND: '1000000',
    CONCURRENCY: String(CONCURRENCY),
    DURATION_SECONDS: String(SECONDS),
    CA_FILE: path.join(FIXTURES, 'cert.pem'),
    METRICS_PORT: '0',
    LOG_INTERVAL_SECONDS: '3600',
    ...scenario.env,
  });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stop = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .find((l) => l.msg === 'stop');
  if (code !== 0 || !stop) throw new Error(`crawler failed (exit ${code}):\n${stdout}`);
  const ok = stop.codes['200'] ?? 0;
  return {
    scenario: scenario.name,
    okPerSecond: Math.round(ok / stop.elapsedSeconds),
    requests: stop.requests,
    errors: stop.requests - ok,
    skipped: stop.skipped,
    cpuShare: Math.round((stop.cpuSeconds / stop.elapsedSeconds) * 100) / 100,
    maxRssMiB: Math.round((stop.maxRssBytes / 1024 / 1024) * 10) / 10,
  };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crawler-bench-'));
  const bundle = path.join(dir, 'crawler.js');
  fs.writeFileSync(bundle, bundleCrawler());
  const pinned = hasTaskset() && os.cpus().length >= 2;
  const server = spawnNode(['-e', SERVER_SCRIPT, FIXTURES], 1, pinned, { PATH: process.env.PATH });
  try {
    const ports = JSON.parse(await firstLine(server)) as Record<string, number>;
    console.log(`node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}`);
    console.log(`crawler ${pinned ? 'pinned to CPU 0, servers to CPU 1' : 'not pinned (taskset missing)'}; CONCURRENCY=${CONCURRENCY}, ${SECONDS} s per protocol\n`);
    const results: Result[] = [];
    for (const scenario of SCENARIOS) results.push(await runScenario(bundle, scenario, ports, pinned));
    const header = ['protocol', 'ok req/s', 'requests', 'errors', 'crawler CPU', 'peak RSS MiB'];
    const rows = results.map((r) => [r.scenario, String(r.okPerSecond), String(r.requests), String(r.errors), `${Math.round(r.cpuShare * 100)}%`, String(r.maxRssMiB)]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log(line(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    rows.forEach((row) => console.log(line(row)));
  } finally {
    server.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
