/**
 * Usage collector benchmark: what one poll of a large usage answer costs the collector. A vendor with many sub-users
 * (one per crawler pod, say) answers `accounts × lookback` hourly records on every poll; the collector parses the whole
 * answer and applies it to its ledger. Measures, per size, the answer's bytes, the time of one poll (parse + apply,
 * median of the runs), the ledger's heap, and the resident memory of the real collector bundle polling that answer
 * (what the pod's memory limit must hold).
 *
 *   npx ts-node --transpile-only bench/collector.ts
 *
 * BENCH_ACCOUNTS (default 100,1000,10000) and BENCH_RUNS (default 5) adjust a run. Before anything is timed, each
 * poll's increments are checked against the usage the benchmark itself added (growth of the open hour for every
 * account, a late bucket for every tenth), and the bundle's billed counter against one more round: a ledger that
 * miscounts is not measured.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { COLLECTOR_CONFIG_FILE_VARIABLE, bundleCollector, parseUsageConfig } from '../collector';
import { Ledger } from '../collector/src/ledger';
import { freePort } from '../harness/prometheus-process';
import { readJson } from '../collector/src/records';

const ACCOUNTS = (process.env.BENCH_ACCOUNTS ?? '100,1000,10000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const LOOKBACK_HOURS = 48;
const HOUR_MS = 3_600_000;

/** The demo gateways' answer format, mapped as the default app maps it. */
const SOURCE = parseUsageConfig({
  sources: [{
    vendor: 'bench', kind: 'http', url: 'http://usage.bench.invalid/v1/usage?from={from}&to={to}', lookbackHours: LOOKBACK_HOURS,
    mapping: { records: 'usage', account: 'account', start: 'hour', bytes: 'bytes', requests: 'requests' },
  }],
}).sources[0];

interface Bucket { account: string; hour: number; bytes: number; requests: number }

/** The vendor's side: every account's buckets of the lookback, the newest open. */
class VendorUsage {
  readonly buckets: Bucket[] = [];
  /** The open hour. */
  private readonly open: number;
  constructor(accounts: number, now: number) {
    const open = this.open = Math.floor(now / HOUR_MS) * HOUR_MS;
    for (let a = 0; a < accounts; a++) {
      // Every tenth account has a gap two hours back: the late bucket a later poll reports.
      for (let h = LOOKBACK_HOURS - 1; h >= 0; h--) if (!(a % 10 === 0 && h === 2)) this.buckets.push({ account: `sub-${a}`, hour: open - h * HOUR_MS, bytes: 1_000_000 + a + h, requests: 100 + h });
    }
  }

  /** The open hour grows for every account, and each tenth account's late bucket appears; returns what was added. */
  advance(round: number): { bytes: number; requests: number } {
    let bytes = 0;
    let requests = 0;
    const open = this.open;
    for (const b of this.buckets) {
      if (b.hour !== open) continue;
      const grow = 1000 + round;
      b.bytes += grow;
      b.requests += 1;
      bytes += grow;
      requests += 1;
    }
    if (round === 1) {
      const accounts = new Set(this.buckets.map(b => b.account));
      for (const account of accounts) {
        if (Number(account.slice(4)) % 10 !== 0) continue;
        this.buckets.push({ account, hour: open - 2 * HOUR_MS, bytes: 777, requests: 7 });
        bytes += 777;
        requests += 7;
      }
    }
    return { bytes, requests };
  }

  answer(): string {
    return JSON.stringify({ vendor: 'bench', bucketSeconds: 3600, usage: this.buckets.map(b => ({ ...b, hour: new Date(b.hour).toISOString() })) });
  }
}

/** One poll as the collector does it: parse the whole answer, apply it; the increments summed over accounts. */
function poll(ledger: Ledger, text: string, now: number): { bytes: number; requests: number } {
  const update = ledger.apply(readJson(text, SOURCE.mapping), now);
  let bytes = 0;
  let requests = 0;
  for (const d of update.accounts.values()) {
    bytes += d.billedBytes - d.withdrawnBytes;
    requests += d.billedRequests - d.withdrawnRequests;
  }
  return { bytes, requests };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The counters and gauges of a metrics text, by name and exact label text (`name{...}`). */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && !line.startsWith('#')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => http.get(url, res => {
    let body = '';
    res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
  }).on('error', reject));
}

/**
 * The real collector bundle polling `vendor`'s answer every second from a local usage API: its resident memory at every
 * scrape (the most seen, over `polls` polls), after checking that one round of growth is billed exactly.
 */
async function bundleRss(vendor: VendorUsage, polls: number): Promise<number> {
  let answer = vendor.answer();
  const api = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
  await new Promise<void>(resolve => api.listen(0, '127.0.0.1', resolve));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-collector-'));
  const script = path.join(dir, 'collector.js');
  fs.writeFileSync(script, bundleCollector());
  const config = path.join(dir, 'usage.json');
  fs.writeFileSync(config, JSON.stringify({ sources: [{ ...SOURCE, intervalSeconds: 1, url: `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1/usage` }] }));
  const metricsPort = await freePort();
  const child: ChildProcess = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH ?? '', [COLLECTOR_CONFIG_FILE_VARIABLE]: config, METRICS_PORT: String(metricsPort), METRICS_HOST: '127.0.0.1' },
    stdio: 'ignore',
  });
  try {
    let rss = 0;
    const scrape = async () => {
      const text = await get(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => '');
      rss = Math.max(rss, metric(text, 'collector_process_resident_memory_bytes'));
      return { polls: metric(text, 'proxy_usage_polls_total{proxy_vendor="bench",result="success"}'), billed: metric(text, 'proxy_usage_billed_bytes_total') };
    };
    const until = async (done: (s: { polls: number; billed: number }) => boolean, what: string) => {
      const deadline = Date.now() + 300_000;
      for (;;) {
        const s = await scrape();
        if (done(s)) return s;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise(resolve => setTimeout(resolve, 200));
      }
    };
    const first = await until(s => s.polls >= 1, 'the baseline poll');
    // Ground truth first: one round of growth, billed exactly.
    const added = vendor.advance(RUNS + 1);
    answer = vendor.answer();
    await until(s => s.polls >= first.polls + 2, 'two more polls');
    const billed = (await scrape()).billed;
    if (billed !== added.bytes) throw new Error(`the collector billed ${billed} bytes, the vendor added ${added.bytes}`);
    await until(s => s.polls >= first.polls + 2 + polls, `${polls} more polls`);
    return rss;
  } finally {
    child.kill('SIGKILL');
    api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results = [];
  for (const accounts of ACCOUNTS) results.push(await (async () => {
    const now = Date.now();
    // Ground truth first, untimed: every poll's increments are what the vendor added, and a re-read adds nothing.
    const checked = new VendorUsage(accounts, now);
    const checkLedger = new Ledger({ cumulative: false, onDecrease: SOURCE.onDecrease, lookbackMs: LOOKBACK_HOURS * HOUR_MS });
    const baseline = poll(checkLedger, checked.answer(), now);
    if (baseline.bytes !== 0 || baseline.requests !== 0) throw new Error(`${accounts} accounts: the baseline counted ${JSON.stringify(baseline)}`);
    for (let round = 1; round <= RUNS; round++) {
      const added = checked.advance(round);
      const text = checked.answer();
      const counted = poll(checkLedger, text, now);
      if (counted.bytes !== added.bytes || counted.requests !== added.requests) {
        throw new Error(`${accounts} accounts, poll ${round}: counted ${JSON.stringify(counted)}, the vendor added ${JSON.stringify(added)}`);
      }
      const again = poll(checkLedger, text, now);
      if (again.bytes !== 0 || again.requests !== 0) throw new Error(`${accounts} accounts, poll ${round}: a re-read counted ${JSON.stringify(again)}`);
    }

    // Then the same polls, timed, on a ledger of their own.
    const vendor = new VendorUsage(accounts, now);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const ledger = new Ledger({ cumulative: false, onDecrease: SOURCE.onDecrease, lookbackMs: LOOKBACK_HOURS * HOUR_MS });
    poll(ledger, vendor.answer(), now);
    const times: number[] = [];
    let answerBytes = 0;
    for (let round = 1; round <= RUNS; round++) {
      vendor.advance(round);
      const text = vendor.answer();
      answerBytes = Buffer.byteLength(text);
      const started = process.hrtime.bigint();
      poll(ledger, text, now);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    global.gc?.();
    const ledgerHeap = process.memoryUsage().heapUsed - heapBefore;
    const records = vendor.buckets.length;
    const rssMiB = (await bundleRss(vendor, RUNS)) / 2 ** 20;
    return { accounts, records, answerBytes, pollMsMedian: median(times), pollMsMax: Math.max(...times), recordsPerSecond: Math.round(records / (median(times) / 1000)), ledgerMiB: ledgerHeap / 2 ** 20, rssMiB };
  })());

  console.log(`One poll of a usage answer: ${LOOKBACK_HOURS} hourly buckets per account, parse + ledger, median of ${RUNS}; the ledger's heap after GC${global.gc ? '' : ' (run node with --expose-gc for it)'};`);
  console.log(`the real collector bundle's resident memory polling the same answer every second (the most seen over ${RUNS} polls).`);
  console.log('| accounts | records | answer | poll, median | poll, slowest | records/s | ledger heap | collector RSS |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.accounts.toLocaleString('en')} | ${r.records.toLocaleString('en')} | ${(r.answerBytes / 2 ** 20).toFixed(1)} MiB | ${r.pollMsMedian.toFixed(0)} ms | ${r.pollMsMax.toFixed(0)} ms | ${r.recordsPerSecond.toLocaleString('en')} | ${r.ledgerMiB.toFixed(0)} MiB | ${r.rssMiB.toFixed(0)} MiB |`);
  }
  const out = path.join(__dirname, 'results', 'collector.json');
  fs.writeFileSync(out, `${JSON.stringify({ node: process.version, lookbackHours: LOOKBACK_HOURS, runs: RUNS, results }, null, 2)}\n`);
  console.log(`written to ${path.relative(process.cwd(), out)}`);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
