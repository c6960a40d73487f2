/**
 * Cardinality and query-cost benchmark: a real Prometheus holding one hour of a crawler fleet's series.
 *
 *   npm run bench:cardinality -- --pods 100,1000,5000
 *   npm run bench:cardinality -- --pods 1000 --destinations 10000
 *
 * Per scale: the fleet's series (realistic sidecars shaped by the product's Telemetry and keep-list, see
 * bench/support/fleet.ts) are written into the head of a fresh Prometheus 2.42 through its remote-write
 * receiver, 65 minutes at the 15 s scrape interval, as if it had scraped them; the recording rules' history is
 * computed by `promtool tsdb create-blocks-from rules` against that server and loaded as blocks. Then every
 * dashboard panel query runs over the last hour (query_range, 15 s step, median of 5 after a warm-up) on the
 * recording rules and, inlined, on raw series; head series, series in blocks, TSDB size and memory are read.
 * With --destinations N the pods crawl N distinct hosts between them and the destination rules' series are
 * counted with and without the destination guard.
 *
 * Results: bench/results/cardinality-<pods>.json (or destinations-<N>.json) and a Markdown table on stdout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as YAML from 'yaml';
import { expandVariables, panelQueries, proxyDashboards } from '../dashboards';
import { DESTINATION_SCRAPE_JOB, RECORDING_EXPR, RULE, SCRAPE_JOB, UNBOUNDED_DESTINATIONS, destinationRuleExprs } from '../lib/metric-contract';
import { resolveDestinationGuard } from '../lib/prometheus/destinations';
import { PrometheusProcess } from '../test/support/prometheus-process';
import { benchVendors, buildFleet, hostPool, product } from './support/fleet';
import { inlineRules } from './support/panels';
import { RemoteWriter, encodeLabels } from './support/remote-write';

const STEP_S = 15;
const HISTORY_MIN = 65;
const RUNS = 5;

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '100,1000' },
    destinations: { type: 'string' },
    runs: { type: 'string', default: String(RUNS) },
    // Server-side timeout of each raw-series query (Prometheus' default is 2m).
    'raw-timeout': { type: 'string', default: '2m' },
    // Without panels: no rule backfill and no panel timing (head, memory and one rule evaluation only).
    'no-panels': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(__dirname, 'results') },
  },
});

const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function metric(prom: PrometheusProcess, name: string): Promise<number> {
  const text = await (await fetch(`${prom.url}/metrics`)).text();
  const line = text.split('\n').find(l => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ').pop());
}

function procStatus(pid: number): { rssMiB: number; peakRssMiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(/(\d+) kB/.exec(status.split('\n').find(l => l.startsWith(key)) ?? '')?.[1] ?? NaN);
  return { rssMiB: Math.round(kib('VmRSS:') / 1024), peakRssMiB: Math.round(kib('VmHWM:') / 1024) };
}

function duBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

/** Series per block, from `promtool tsdb list`. */
function blockSeries(dataDir: string): { blocks: number; series: number } {
  const out = execFileSync('promtool', ['tsdb', 'list', dataDir], { encoding: 'utf8' });
  const rows = out.trim().split('\n').slice(1).filter(Boolean);
  return { blocks: rows.length, series: rows.reduce((n, r) => n + Number(r.trim().split(/\s+/)[6]), 0) };
}

/** Highest-cardinality metric names of the newest block, from `promtool tsdb analyze`. */
function analyze(dataDir: string): string[] {
  const r = spawnSync('promtool', ['tsdb', 'analyze', dataDir], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) return []; // no block (head only)
  const out = r.stdout;
  const start = out.indexOf('Highest cardinality metric names:');
  return start < 0 ? [] : out.slice(start).split('\n').slice(1, 16).map(l => l.trim()).filter(Boolean);
}

async function startPrometheus(dir: string): Promise<PrometheusProcess> {
  // No scrape job: the history arrives by remote write, and a sample at wall time would make the head refuse
  // samples older than an hour before it.
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, YAML.stringify({ global: { scrape_interval: `${STEP_S}s`, evaluation_interval: '30s' } }));
  return PrometheusProcess.start({
    configFile,
    args: ['--web.enable-remote-write-receiver', '--storage.tsdb.retention.time=30d', '--query.max-samples=100000000', '--query.timeout=10m'],
  });
}

/** Writes the fleet's hour into the head, in 5-minute runs of samples (time order, so the head accepts all). */
async function ingest(prom: PrometheusProcess, fleet: ReturnType<typeof buildFleet>, endMs: number): Promise<{ seconds: number; samples: number }> {
  const started = Date.now();
  const labels = fleet.series.map(s => encodeLabels(s.labels));
  const startMs = endMs - HISTORY_MIN * 60_000;
  const base = startMs - 60_000;
  const writer = new RemoteWriter(`${prom.url}/api/v1/write`);
  for (let t0 = startMs; t0 <= endMs; t0 += 20 * STEP_S * 1000) {
    const ts: number[] = [];
    for (let t = t0; t < t0 + 20 * STEP_S * 1000 && t <= endMs; t += STEP_S * 1000) ts.push(t);
    await writer.write(labels, ts, (i, t) => fleet.series[i].gauge ?? Math.round(fleet.series[i].rate * (t - base) / 1000));
    log(`  ingested up to ${new Date(ts[ts.length - 1]).toISOString().slice(11, 19)} (${(writer.samples / 1e6).toFixed(1)}M samples)`);
  }
  return { seconds: (Date.now() - started) / 1000, samples: writer.samples };
}

/** Recording-rule history with promtool, one pass per dependency level (a pass reads the blocks of earlier ones). */
async function backfillRules(prom: PrometheusProcess, rulesYaml: string, startMs: number, endMs: number, work: string, windowMs: number): Promise<number> {
  const started = Date.now();
  const groups: any[] = YAML.parse(rulesYaml).groups;
  const records = groups.flatMap(g => g.rules.filter((r: any) => r.record));
  const names = new Set(records.map((r: any) => r.record));
  const level = new Map<string, number>();
  const levelOf = (r: any): number => {
    if (level.has(r.record)) return level.get(r.record)!;
    const deps = records.filter((o: any) => o.record !== r.record && names.has(o.record) && r.expr.includes(o.record));
    const l = deps.length ? 1 + Math.max(...deps.map(levelOf)) : 0;
    level.set(r.record, l);
    return l;
  };
  records.forEach(levelOf);
  const dataDir = path.join(prom.dir, 'data');
  for (let l = 0; l <= Math.max(...level.values()); l++) {
    const passGroups = groups
      .map(g => ({ ...g, rules: g.rules.filter((r: any) => r.record && level.get(r.record) === l) }))
      .filter(g => g.rules.length > 0);
    const file = path.join(work, `rules-pass-${l}.yml`);
    fs.writeFileSync(file, YAML.stringify({ groups: passGroups }, { lineWidth: 0 }));
    const out = path.join(work, `blocks-${l}`);
    // One query_range per rule and window: windows bound the samples a query holds at large scales.
    for (let from = startMs; from < endMs; from += windowMs) {
      const to = Math.min(endMs, from + windowMs);
      const r = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'rules', `--start=${Math.floor(from / 1000)}`, `--end=${Math.floor(to / 1000)}`,
        `--url=${prom.url}`, `--output-dir=${out}`, '--eval-interval=30s', '--quiet', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`promtool create-blocks-from rules failed (${r.status}):\n${(r.stderr ?? '').slice(-2000)}`);
    }
    const blocks = fs.readdirSync(out).filter(d => fs.existsSync(path.join(out, d, 'meta.json')));
    for (const b of blocks) fs.renameSync(path.join(out, b), path.join(dataDir, b));
    // Prometheus loads new block directories on its next reload (once a minute), then compacts the overlapping ones.
    const probe = passGroups.flatMap(g => g.rules).find((r: any) => !r.expr.startsWith('vector(')) ?? passGroups[0].rules[0];
    await prom.waitFor(async () => (await prom.query(`count(count_over_time({__name__="${probe.record}"}[${HISTORY_MIN}m]))`, endMs)).length > 0,
      150_000, `rule blocks of pass ${l}`, 2000);
    log(`  rules pass ${l}: ${passGroups.flatMap(g => g.rules).length} rules, ${blocks.length} blocks`);
  }
  await settled(prom);
  return (Date.now() - started) / 1000;
}

/** Waits until the block count has not changed for a minute (reloads and compactions of the new blocks done). */
async function settled(prom: PrometheusProcess): Promise<void> {
  const dataDir = path.join(prom.dir, 'data');
  let last = -1;
  let since = Date.now();
  for (const deadline = Date.now() + 300_000; Date.now() < deadline;) {
    const loaded = await metric(prom, 'prometheus_tsdb_blocks_loaded');
    const dirs = fs.readdirSync(dataDir).filter(d => /^[0-9A-Z]{26}$/.test(d)).length;
    if (loaded !== last || dirs !== loaded) {
      last = loaded;
      since = Date.now();
    } else if (Date.now() - since > 65_000) {
      return;
    }
    await new Promise(r => setTimeout(r, 5000));
  }
  log('  blocks still changing after 5 minutes; measuring anyway');
}

interface Timing { medianMs: number; runs: number; series: number; error?: string }

/** A panel's query as Grafana sends it: query_range over the last hour at a 15 s step, or an instant query at the end. */
async function timeQuery(prom: PrometheusProcess, expr: string, endMs: number, runs: number, instant: boolean, timeout?: string): Promise<Timing> {
  const once = async () => {
    const t = process.hrtime.bigint();
    const params: Record<string, string> = instant
      ? { query: expr, time: String(endMs / 1000) }
      : { query: expr, start: String((endMs - 3_600_000) / 1000), end: String(endMs / 1000), step: String(STEP_S) };
    if (timeout) params.timeout = timeout;
    const res = await fetch(`${prom.url}/api/v1/${instant ? 'query' : 'query_range'}?${new URLSearchParams(params)}`);
    const body: any = await res.json();
    if (body.status !== 'success') throw new Error(`${body.errorType}: ${body.error}`);
    return { ms: Number(process.hrtime.bigint() - t) / 1e6, series: body.data.result.length };
  };
  try {
    const warm = await once();
    // Raw queries at large scales take seconds to minutes: fewer runs there.
    const n = warm.ms > 30_000 ? 1 : warm.ms > 5_000 ? 3 : runs;
    const times: number[] = [];
    for (let i = 0; i < n; i++) times.push((await once()).ms);
    return { medianMs: Math.round(median(times) * 10) / 10, runs: n, series: warm.series };
  } catch (err) {
    return { medianMs: NaN, runs: 0, series: 0, error: (err as Error).message.slice(0, 300) };
  }
}

async function instantMs(prom: PrometheusProcess, expr: string, at: number, runs = 3): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await prom.query(expr, at);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return Math.round(median(times) * 10) / 10;
}

async function scale(pods: number, runs: number): Promise<Record<string, unknown>> {
  log(`== ${pods} pods`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `bench-cardinality-${pods}-`));
  const prod = product();
  const fleet = buildFleet(pods, prod);
  log(`  fleet: ${fleet.series.length} series (${fleet.keptPerPod} per pod after filtering, ${fleet.exposedPerPod} exposed)`);
  const prom = await startPrometheus(work);
  try {
    const endMs = Math.floor(Date.now() / (STEP_S * 1000)) * STEP_S * 1000;
    const ingestion = await ingest(prom, fleet, endMs);
    const withPanels = !args['no-panels'];
    const rulesSeconds = !withPanels ? 0 : await backfillRules(prom, prod.rulesYaml, endMs - HISTORY_MIN * 60_000, endMs, work, (pods <= 100 ? HISTORY_MIN : pods <= 1000 ? 15 : 5) * 60_000);

    const panels = [];
    const dashboards = proxyDashboards({ vendors: benchVendors(), job: SCRAPE_JOB, ruleIntervalSeconds: 30 });
    for (const p of withPanels ? panelQueries(dashboards) : []) {
      // All selected, a 1 h range, Grafana's $__rate_interval for a 15 s scrape interval.
      const rules = expandVariables(p.expr, { rangeSeconds: 3600, rateIntervalSeconds: 60 });
      const raw = inlineRules(rules, SCRAPE_JOB);
      const onRules = await timeQuery(prom, rules, endMs, runs, p.instant);
      const onRaw = raw && raw !== rules ? await timeQuery(prom, raw, endMs, runs, p.instant, args['raw-timeout']) : undefined;
      log(`  ${p.dashboard} / ${p.panel}: rules ${onRules.medianMs} ms, raw ${onRaw?.medianMs ?? '-'} ms`);
      panels.push({ ...p, expr: rules, rules: onRules, raw: onRaw, rawTimeout: args['raw-timeout'] });
    }
    // What one evaluation of the rule groups costs (instant queries of every recording rule at the end).
    const ruleEval: Record<string, number> = {};
    for (const g of YAML.parse(prod.rulesYaml).groups) {
      for (const r of g.rules.filter((x: any) => x.record && !x.expr.startsWith('vector('))) ruleEval[r.record] = (ruleEval[r.record] ?? 0) + await instantMs(prom, r.expr, endMs);
    }
    const dataDir = path.join(prom.dir, 'data');
    const result = {
      pods,
      vendors: benchVendors().names.length,
      seriesPerPod: fleet.keptPerPod,
      exposedPerPod: fleet.exposedPerPod,
      headSeries: await metric(prom, 'prometheus_tsdb_head_series'),
      blocks: blockSeries(dataDir),
      blockMetrics: analyze(dataDir),
      tsdbBytes: duBytes(dataDir),
      walBytes: duBytes(path.join(dataDir, 'wal')),
      memory: { ...procStatus(prom.pid!), heapInuseMiB: Math.round((await metric(prom, 'go_memstats_heap_inuse_bytes')) / 2 ** 20) },
      ingestion: { ...ingestion, samplesPerSecond: Math.round(ingestion.samples / ingestion.seconds) },
      ruleBackfillSeconds: Math.round(rulesSeconds),
      ruleEvaluationMs: Math.round(Object.values(ruleEval).reduce((a, b) => a + b, 0)),
      ruleEval,
      panels,
    };
    return result;
  } finally {
    await prom.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** N distinct hosts spread over the pods (20 each): destination rules' series with and without the guard. */
async function destinations(pods: number, distinct: number): Promise<Record<string, unknown>> {
  log(`== ${pods} pods, ${distinct} distinct destinations`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `bench-destinations-${distinct}-`));
  const pool = hostPool(distinct, 'dest');
  const prod = product();
  const fleet = buildFleet(pods, prod, (_vendor, p) => Array.from({ length: 20 }, (_, j) => pool[(p * 20 + j) % pool.length]));
  const prom = await startPrometheus(work);
  try {
    const endMs = Math.floor(Date.now() / (STEP_S * 1000)) * STEP_S * 1000;
    const ingestion = await ingest(prom, fleet, endMs);
    const vendors = benchVendors();
    const guards = {
      none: UNBOUNDED_DESTINATIONS,
      'top 200 (default)': resolveDestinationGuard(undefined, vendors),
      'registrable-domain': resolveDestinationGuard({ fold: 'registrable-domain', maxPerVendor: 0 }, vendors),
      'registrable-domain + top 200': resolveDestinationGuard({ fold: 'registrable-domain' }, vendors),
    };
    const rows: Record<string, unknown> = {};
    for (const [name, guard] of Object.entries(guards)) {
      const exprs = destinationRuleExprs(guard, DESTINATION_SCRAPE_JOB);
      const row: Record<string, unknown> = {};
      let total = 0;
      for (const [rule, expr] of Object.entries(exprs)) {
        // Series a recording rule evaluated every 30 s over the hour would create (top-N membership changes).
        const range = await prom.queryRange(expr, endMs - 3_600_000, endMs, 30);
        const evalMs = await instantMs(prom, expr, endMs);
        row[rule] = { seriesOverHour: range.length, evaluationMs: evalMs };
        total += range.length;
        log(`  ${name} / ${rule}: ${range.length} series over 1h, one evaluation ${evalMs} ms`);
      }
      rows[name] = { ...row, totalSeries: total };
    }
    return {
      pods, distinctDestinations: distinct, destinationsPerPod: 20,
      rawHeadSeries: await metric(prom, 'prometheus_tsdb_head_series'),
      rawSeriesPerPod: fleet.keptPerPod,
      ingestion,
      memory: procStatus(prom.pid!),
      guards: rows,
      unboundedRule: RECORDING_EXPR.destinationRequests === destinationRuleExprs(UNBOUNDED_DESTINATIONS, DESTINATION_SCRAPE_JOB).destinationRequests,
      rule: RULE.destinationRequests,
    };
  } finally {
    await prom.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  fs.mkdirSync(args.out!, { recursive: true });
  const podScales = args.pods!.split(',').map(Number);
  if (args.destinations) {
    const r = await destinations(podScales[0], Number(args.destinations));
    fs.writeFileSync(path.join(args.out!, `destinations-${args.destinations}.json`), JSON.stringify(r, null, 2) + '\n');
    return;
  }
  for (const pods of podScales) {
    const r = await scale(pods, Number(args.runs));
    fs.writeFileSync(path.join(args.out!, `cardinality-${pods}.json`), JSON.stringify(r, null, 2) + '\n');
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
