/**
 * Cardinality, rule-evaluation and query-cost benchmark: a real Prometheus holding hours of a crawler fleet's series.
 *
 *   npm run bench:cardinality -- --pods 100,1000,5000
 *   npm run bench:cardinality -- --pods 1000 --destinations 10000
 *
 * Per scale: the fleet's series (realistic sidecars shaped by the product's Telemetry and both crawler jobs'
 * keep-lists, see bench/support/fleet.ts) are written into the head of a fresh Prometheus 2.42 through its
 * remote-write receiver, at the 15 s scrape interval, as if it had scraped them for the dashboards' default range.
 * The recording rules' history is computed by `promtool tsdb create-blocks-from rules` against that server and
 * loaded as blocks; so are the last few minutes of the flat rules the layered ones replaced (bench/baseline/), renamed
 * `flat_*`. Before anything is timed, both rule sets' totals per vendor are checked against the fleet's ground
 * truth; the run stops there if they differ by more than 2%. Then: one evaluation cycle of each rule set (every
 * recording rule as an instant query at the end, median of shuffled rounds), every dashboard panel query over the
 * dashboards' default range (shuffled rounds, with Prometheus' own time and the samples read), head series, series in
 * blocks, TSDB size and memory.
 * With --destinations N the pods crawl N distinct hosts between them and the destination rule's series are
 * counted with and without the destination guard.
 *
 * Results: bench/results/cardinality-<pods>.json (or destinations-<N>.json); bench/report.ts prints the tables.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as YAML from 'yaml';
import { DashboardJson, VARIABLES, proxyDashboards } from '../dashboards';
import { expandVariables, panelQueries, resolveTopPods } from '../harness/grafana-variables';
import { DESTINATION_SCRAPE_JOB, LABEL, SCRAPE_JOB } from '../core/metric-contract';
import { destinationRuleExprs, INTERMEDIATE, RULE } from '../core/rules';
import { UNBOUNDED_DESTINATIONS } from '../core/destinations';
import { resolveDestinationGuard } from '../lib/prometheus/destinations';
import { BASELINE_PREFIX, baselineRuleGroups } from '../harness/baseline-rules';
import { PrometheusProcess } from '../harness/prometheus-process';
import { Fleet, VENDORS, benchVendors, buildFleet, hostPool, product } from './support/fleet';
import { inlineRules, shuffle } from './support/panels';
import { RemoteWriter, encodeLabels } from './support/remote-write';
import { RuleGroupYaml, backfillRules } from '../harness/rule-backfill';

const STEP_S = 15;
const RUNS = 11;
/**
 * History of the flat rules: they read raw series (even their 1 h cost rules), and other flat rules only at the
 * evaluation time, so the last few minutes are all that one evaluation at the end of the range needs.
 */
const FLAT_HISTORY_MIN = 3;
/** History of the destination-guard runs: the destination rule's series over an hour are counted. */
const GUARD_HISTORY_MIN = 65;
/** Tolerance of the ground-truth check. */
const TRUTH_TOLERANCE = 0.02;

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '100,1000' },
    // Broad crawler pods (2,000 sites each); default one per 500 pods, at least one.
    broad: { type: 'string' },
    // Range of the panel queries; default the dashboards' own default range.
    'range-hours': { type: 'string' },
    destinations: { type: 'string' },
    runs: { type: 'string', default: String(RUNS) },
    // Rounds of the rule-evaluation timing (groups in a new random order each round).
    'rule-rounds': { type: 'string', default: '7' },
    // Also time each panel on raw series (its rules inlined), stopped after --raw-timeout.
    raw: { type: 'boolean', default: false },
    'raw-timeout': { type: 'string', default: '2m' },
    out: { type: 'string', default: path.join(__dirname, 'results') },
  },
});

const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round1 = (x: number) => Math.round(x * 10) / 10;

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

/** The dashboards' default time range (`now-6h` → 6). */
function dashboardRangeHours(): number {
  const from = (proxyDashboards({ vendors: benchVendors(), job: SCRAPE_JOB, ruleIntervalSeconds: 30 }) as any[])[0].time?.from as string | undefined;
  const m = /^now-(\d+)h$/.exec(from ?? '');
  if (!m) throw new Error(`dashboards' default range '${from}' is not now-<N>h`);
  return Number(m[1]);
}

/**
 * Grafana's query step for a full-width panel (about 1,000 points, rounded as Grafana rounds), at least the scrape
 * interval and the panel's own minimum interval.
 */
function grafanaStepSeconds(rangeSeconds: number, minInterval?: string): number {
  const raw = rangeSeconds / 1000;
  const rounded = [[15, 10], [35, 20], [75, 60], [210, 120], [450, 300], [750, 600]].find(([limit]) => raw < limit)?.[1] ?? 600;
  return Math.max(STEP_S, rounded, minInterval ? parseDuration(minInterval) : 0);
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

/** Writes the fleet's history into the head, in 5-minute runs of samples (time order, so the head accepts all). */
async function ingest(prom: PrometheusProcess, fleet: Fleet, startMs: number, endMs: number): Promise<{ seconds: number; samples: number }> {
  const started = Date.now();
  const labels = fleet.series.map(s => encodeLabels(s.labels));
  const base = startMs - 60_000;
  // Whole counts, as Envoy's counters are, each counter with its own phase: with one phase for all, the 2,000 equal
  // sites of a broad crawler would all round alike, and their 5-minute rates would err alike (2% of a vendor's sum).
  const phase = fleet.series.map((_, i) => ((i * 2654435761) >>> 0) / 2 ** 32);
  const writer = new RemoteWriter(`${prom.url}/api/v1/write`);
  let logged = 0;
  for (let t0 = startMs; t0 <= endMs; t0 += 20 * STEP_S * 1000) {
    const ts: number[] = [];
    for (let t = t0; t < t0 + 20 * STEP_S * 1000 && t <= endMs; t += STEP_S * 1000) ts.push(t);
    await writer.write(labels, ts, (i, t) => fleet.series[i].gauge ?? Math.floor(fleet.series[i].rate * (t - base) / 1000 + phase[i]));
    if (Date.now() - logged > 30_000 || t0 + 20 * STEP_S * 1000 > endMs) {
      logged = Date.now();
      log(`  ingested up to ${new Date(ts[ts.length - 1]).toISOString().slice(11, 19)} (${(writer.samples / 1e6).toFixed(1)}M samples)`);
    }
  }
  return { seconds: (Date.now() - started) / 1000, samples: writer.samples };
}

/** Waits until the block count has not changed for a minute (reloads and compactions of the new blocks done). */
async function settled(prom: PrometheusProcess): Promise<void> {
  const dataDir = path.join(prom.dir, 'data');
  let last = -1;
  let since = Date.now();
  for (const deadline = Date.now() + 600_000; Date.now() < deadline;) {
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
  log('  blocks still changing after 10 minutes; measuring anyway');
}

/**
 * The rules' totals per vendor at the end of the range against the fleet's ground truth: requests, connections,
 * upload and download, and the destination rule's sum (nothing lost by the bound). Throws on any difference
 * above 2%: timings of wrong results are no evidence.
 */
async function checkTruth(prom: PrometheusProcess, fleet: Fleet, at: number, prefix = ''): Promise<Record<string, number>> {
  const failures: string[] = [];
  const worst: Record<string, number> = {};
  const byVendor = async (expr: string) => new Map((await prom.query(expr, at)).map(s => [s.metric.proxy_vendor, s.value]));
  // A rule's series of its last evaluation only. Backfilled history has no stale markers, so a series that left a top
  // list would stay visible for 5 minutes and be counted twice; the rule manager would have marked it stale.
  const last = (selector: string) => `(${selector} and timestamp(${selector}) == scalar(max(timestamp(${selector}))))`;
  const checks: Array<[string, string, (t: ReturnType<Fleet['truth']['get']> & {}) => number]> = [
    ['requests', `sum by (proxy_vendor) (${last(`${prefix}${RULE.requests}{request_protocol="http"}`)})`, t => t.requests],
    ['connections', `sum by (proxy_vendor) (${last(`${prefix}${RULE.requests}{request_protocol="tcp"}`)})`, t => t.connections],
    ['destination requests', `sum by (proxy_vendor) (${last(`${prefix}${RULE.destinationRequests}{request_protocol="http"}`)})`, t => t.requests],
    ['destination connections', `sum by (proxy_vendor) (${last(`${prefix}${RULE.destinationRequests}{request_protocol="tcp"}`)})`, t => t.connections],
    ['pod requests', `sum by (proxy_vendor) (${last(`${prefix}${RULE.podRequests}`)})`, t => t.requests + t.connections],
    ['upload', last(`${prefix}${RULE.vendorSentBytes}`), t => t.uploadBytes],
    ['download', last(`${prefix}${RULE.vendorReceivedBytes}`), t => t.downloadBytes],
  ];
  for (const [what, expr, want] of checks) {
    const got = await byVendor(expr);
    for (const [vendor, truth] of fleet.truth) {
      const value = got.get(vendor);
      const rel = value === undefined ? Infinity : Math.abs(value - want(truth)) / Math.max(want(truth), 1e-9);
      worst[what] = Math.max(worst[what] ?? 0, rel);
      if (!(rel <= TRUTH_TOLERANCE)) failures.push(`${prefix || 'layered '}${what} of ${vendor}: rules ${value ?? 'no result'}, truth ${want(truth).toFixed(3)}/s`);
    }
  }
  if (failures.length) throw new Error(`the rules do not report the fleet's ground truth (tolerance ${TRUTH_TOLERANCE * 100}%), nothing timed:\n  ${failures.join('\n  ')}`);
  return Object.fromEntries(Object.entries(worst).map(([k, v]) => [k, Number(v.toExponential(2))]));
}

interface Timing {
  medianMs: number;
  slowestMs: number;
  /** Prometheus' own time for the query (`stats.timings.execTotalTime`), median: no HTTP or JSON. */
  serverMs?: number;
  /** Samples the query read (`stats.samples.totalQueryableSamples`): the same in every run, or the run stops. */
  samples?: number;
  runs: number;
  series: number;
  error?: string;
}

interface PanelQuery { expr: string; instant: boolean; rangeS: number; stepS: number; timeout?: string }

/** One query as Grafana sends it (query_range over the range at its step, or instant at the end), with its stats. */
async function queryOnce(prom: PrometheusProcess, q: PanelQuery, endMs: number): Promise<{ ms: number; serverMs: number; samples: number; series: number }> {
  const t = process.hrtime.bigint();
  const params: Record<string, string> = q.instant
    ? { query: q.expr, time: String(endMs / 1000), stats: 'all' }
    : { query: q.expr, start: String((endMs - q.rangeS * 1000) / 1000), end: String(endMs / 1000), step: String(q.stepS), stats: 'all' };
  if (q.timeout) params.timeout = q.timeout;
  const res = await fetch(`${prom.url}/api/v1/${q.instant ? 'query' : 'query_range'}?${new URLSearchParams(params)}`);
  const body: any = await res.json();
  if (body.status !== 'success') throw new Error(`${body.errorType}: ${body.error}`);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const stats = body.data.stats;
  return { ms, serverMs: stats.timings.execTotalTime * 1000, samples: stats.samples.totalQueryableSamples, series: body.data.result.length };
}

/** Median and slowest of the runs; throws if the samples read differ between runs (the data changed under the bench). */
function summarize(runs: Array<{ ms: number; serverMs: number; samples: number; series: number }>): Timing {
  const samples = new Set(runs.map(r => r.samples));
  if (samples.size !== 1) throw new Error(`samples read differ between runs: ${[...samples].join(', ')}`);
  return {
    medianMs: round1(median(runs.map(r => r.ms))), slowestMs: round1(Math.max(...runs.map(r => r.ms))),
    serverMs: round1(median(runs.map(r => r.serverMs))), samples: runs[0].samples, runs: runs.length, series: runs[0].series,
  };
}

/**
 * Every panel query, each warmed once, then `runs` rounds with the queries in a new random order each round, so that a
 * slow moment of the server (a GC, a compaction) falls on any query alike, not on the few timed then.
 */
async function timePanels(prom: PrometheusProcess, queries: PanelQuery[], endMs: number, runs: number): Promise<Timing[]> {
  const results = queries.map(() => [] as Array<Awaited<ReturnType<typeof queryOnce>>>);
  const errors = new Map<number, string>();
  for (const [i, q] of queries.entries()) {
    try {
      await queryOnce(prom, q, endMs);
    } catch (err) {
      errors.set(i, (err as Error).message.slice(0, 300));
    }
  }
  for (let round = 0; round < runs; round++) {
    for (const i of shuffle(queries.map((_, j) => j)).filter(j => !errors.has(j))) results[i].push(await queryOnce(prom, queries[i], endMs));
    log(`  panel round ${round + 1}/${runs}`);
  }
  return results.map((r, i) => errors.has(i) ? { medianMs: NaN, slowestMs: NaN, runs: 0, series: 0, error: errors.get(i) } : summarize(r));
}

/** One query timed alone (the raw variants, which take seconds to minutes): fewer runs when slow. */
async function timeQuery(prom: PrometheusProcess, q: PanelQuery, endMs: number, runs: number): Promise<Timing> {
  try {
    const warm = await queryOnce(prom, q, endMs);
    const n = warm.ms > 30_000 ? 1 : warm.ms > 5_000 ? 3 : runs;
    const times = [];
    for (let i = 0; i < n; i++) times.push(await queryOnce(prom, q, endMs));
    return summarize(times);
  } catch (err) {
    return { medianMs: NaN, slowestMs: NaN, runs: 0, series: 0, error: (err as Error).message.slice(0, 300) };
  }
}

/** Median and slowest of `runs` calls after one warm-up. */
async function timeCall(call: () => Promise<unknown>, runs: number): Promise<Timing> {
  await call();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await call();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { medianMs: round1(median(times)), slowestMs: round1(Math.max(...times)), runs, series: 0 };
}

/**
 * The top pods panel on the candidates (the hidden variable, resolved as Grafana does) against the same query over
 * every pod: when it says it is complete, both lists must be equal. Throws otherwise; returns the candidates.
 */
async function checkTopPods(prom: PrometheusProcess, dashboards: DashboardJson[], endMs: number, rangeS: number): Promise<string[]> {
  const candidates = await resolveTopPods(prom, { rangeSeconds: rangeS }, endMs);
  const exprOf = (title: string) => panelQueries(dashboards).find(q => q.panel === title)!.expr;
  const run = async (expr: string, topPods: string[]) => prom.query(expandVariables(expr, { rangeSeconds: rangeS, topPods }), endMs);
  const onCandidates = await run(exprOf('Top pods over the range'), candidates);
  // '.*' as the only value: the panel takes the pipe format, which does not escape, so it matches every pod.
  const onAll = await run(exprOf('Top pods over the range'), ['.*']);
  const complete = (await run(exprOf('Top list complete'), candidates))[0]?.value;
  const bound = (await run(exprOf('Most a pod outside the top lists moved'), candidates))[0]?.value;
  // Equal lists: the same totals, and the same pods above the last total (pods tied there may differ, as in topk).
  const key = (xs: Array<{ metric: Record<string, string>; value: number }>) => {
    const last = Math.min(...xs.map(x => x.value));
    return `${xs.map(x => x.value).sort((a, b) => a - b).join(' ')} | ${xs.filter(x => x.value > last).map(x => x.metric.pod).sort().join(' ')}`;
  };
  log(`  top pods: ${candidates.length} candidates; list ${complete === 1 ? 'complete' : 'may miss pods'}; a pod outside moved at most ${bound} bytes`);
  if (complete === 1 && key(onCandidates) !== key(onAll)) {
    throw new Error(`top pods on the candidates differ from all pods although marked complete:\n${key(onCandidates)}\n${key(onAll)}`);
  }
  return candidates;
}


interface GroupCost { name: string; set: 'layered' | 'flat'; intervalSeconds: number; rules: number; medianMs: number; perRule: Record<string, number> }

/**
 * One evaluation cycle of rule groups: each group's recording rules in order, as instant queries `count(<expr>)` at
 * `at`: Prometheus evaluates the whole expression, and the answer is one number, so that encoding thousands of result
 * series as JSON (which rule evaluation does not do) does not count; appending the result to the head is not counted
 * either. `rounds` rounds, groups of both sets in a new random order each round; a group's cost is the median of its
 * rounds.
 */
async function cycleCosts(prom: PrometheusProcess, sets: Record<'layered' | 'flat', RuleGroupYaml[]>, at: number, rounds: number): Promise<GroupCost[]> {
  const all = Object.entries(sets).flatMap(([set, groups]) => groups.map(g => ({ set: set as 'layered' | 'flat', g })))
    .map(x => ({ ...x, rules: x.g.rules.filter(r => r.record) }))
    .filter(x => x.rules.length > 0);
  const times = new Map<string, number[]>();
  const perRule = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const { set, g, rules } of shuffle(all)) {
      let total = 0;
      for (const r of rules) {
        const t = process.hrtime.bigint();
        await prom.query(`count(${r.expr})`, at);
        const ms = Number(process.hrtime.bigint() - t) / 1e6;
        total += ms;
        perRule.set(`${set} ${r.record}`, [...perRule.get(`${set} ${r.record}`) ?? [], ms]);
      }
      times.set(`${set} ${g.name}`, [...times.get(`${set} ${g.name}`) ?? [], total]);
    }
    log(`  rule cycle round ${round + 1}/${rounds}`);
  }
  return all.map(({ set, g, rules }) => ({
    name: g.name, set, intervalSeconds: g.interval ? parseDuration(g.interval) : 30, rules: rules.length,
    medianMs: round1(median(times.get(`${set} ${g.name}`)!)),
    perRule: Object.fromEntries(rules.map(r => [r.record!, round1(median(perRule.get(`${set} ${r.record}`)!))])),
  }));
}

function parseDuration(d: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(d);
  if (!m) throw new Error(`unsupported duration '${d}'`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}

/** Distinct series of a recorded rule over the range, in all and per vendor: what a range panel over it reads. */
async function seriesOverRange(prom: PrometheusProcess, record: string, endMs: number, rangeS: number): Promise<{ total: number; perVendor: Record<string, number> }> {
  const perVendor = await prom.query(`count by (${LABEL.vendor}) (count_over_time(${record}[${rangeS}s]))`, endMs);
  const counts = Object.fromEntries(perVendor.map(s => [s.metric[LABEL.vendor], s.value]));
  return { total: Object.values(counts).reduce((a, b) => a + b, 0), perVendor: counts };
}

async function scale(pods: number, runs: number): Promise<Record<string, unknown>> {
  log(`== ${pods} pods`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `bench-cardinality-${pods}-`));
  const prod = product();
  // At least one per vendor, so that every scale crawls the same destinations per vendor: the destination rule's
  // series are bounded by the guard per vendor, and a scale without a vendor's long tail would read fewer of them.
  const broadPods = args.broad !== undefined ? Number(args.broad) : Math.max(VENDORS.length, Math.round(pods / 500));
  const fleet = buildFleet(pods, prod, { broadPods });
  const rangeHours = args['range-hours'] !== undefined ? Number(args['range-hours']) : dashboardRangeHours();
  const rangeS = rangeHours * 3600;
  log(`  fleet: ${fleet.series.length} series (${fleet.keptPerPod.toFixed(1)} per pod stored, ${fleet.exposedPerPod.toFixed(0)} exposed; ${broadPods} broad pods), ${rangeHours} h`);
  const prom = await startPrometheus(work);
  try {
    const endMs = Math.floor(Date.now() / (STEP_S * 1000)) * STEP_S * 1000;
    // The range plus 5 minutes, so that the first 5-minute rates of the range are full.
    const startMs = endMs - rangeS * 1000 - 300_000;
    const ingestion = await ingest(prom, fleet, startMs, endMs);
    const layered: RuleGroupYaml[] = YAML.parse(prod.rulesYaml).groups;
    const flat: RuleGroupYaml[] = baselineRuleGroups('bench') as RuleGroupYaml[];
    const windowMs = (pods <= 100 ? 360 : pods <= 1000 ? 60 : 20) * 60_000;
    const layeredBackfill = await backfillRules(prom, layered, { startMs, endMs, work, windowMs, tag: 'layered', log });
    const flatBackfill = await backfillRules(prom, flat, { startMs: endMs - FLAT_HISTORY_MIN * 60_000, endMs, work, windowMs: FLAT_HISTORY_MIN * 60_000, tag: 'flat', log });
    await settled(prom);

    const truth = { layered: await checkTruth(prom, fleet, endMs), flat: await checkTruth(prom, fleet, endMs, BASELINE_PREFIX) };
    log(`  ground truth: both rule sets within ${TRUTH_TOLERANCE * 100}% for every vendor`);

    const groups = await cycleCosts(prom, { layered, flat }, endMs, Number(args['rule-rounds']));
    const perCycle = (set: string) => round1(groups.filter(g => g.set === set).reduce((n, g) => n + g.medianMs * 30 / g.intervalSeconds, 0));
    log(`  one 30 s cycle (cost group amortized): layered ${perCycle('layered')} ms, flat ${perCycle('flat')} ms`);

    const panels = [];
    const dashboards = proxyDashboards({ vendors: benchVendors(), job: SCRAPE_JOB, ruleIntervalSeconds: 30 });
    const topPods = await checkTopPods(prom, dashboards, endMs, rangeS);
    panels.push({ dashboard: 'proxy-bandwidth', panel: 'variable top_pods (label values)', refId: '-', expr: VARIABLES.topPods.query, instant: true, stepSeconds: 0,
      rules: await timeCall(() => resolveTopPods(prom, { rangeSeconds: rangeS }, endMs), runs), candidates: topPods.length });
    const viaSeries = await resolveTopPods(prom, { rangeSeconds: rangeS }, endMs, 'series');
    if (viaSeries.join() !== topPods.join()) throw new Error(`top_pods differs by endpoint: label values ${topPods.length} pods, series ${viaSeries.length}`);
    panels.push({ dashboard: 'proxy-bandwidth', panel: 'variable top_pods (series)', refId: '-', expr: VARIABLES.topPods.query, instant: true, stepSeconds: 0,
      rules: await timeCall(() => resolveTopPods(prom, { rangeSeconds: rangeS }, endMs, 'series'), runs), candidates: viaSeries.length });
    // All selected, the default range, the panel's step and Grafana's $__rate_interval for a 15 s scrape interval.
    const queries = panelQueries(dashboards).map(p => {
      const stepS = grafanaStepSeconds(rangeS, p.interval);
      return { p, q: { expr: expandVariables(p.expr, { rangeSeconds: rangeS, rateIntervalSeconds: Math.max(4 * STEP_S, stepS + STEP_S), topPods }), instant: p.instant, rangeS, stepS } };
    });
    // The worst case of the top pods panel: top lists that changed so often that every pod was a candidate.
    const everyPod = await prom.labelValues('pod', RULE.podBytes5m, endMs - rangeS * 1000, endMs);
    const worst = expandVariables(panelQueries(dashboards).find(q => q.panel === 'Top pods over the range')!.expr, { rangeSeconds: rangeS, topPods: everyPod });
    // The floor: what any query costs on this server, whatever it reads.
    const floor = { expr: 'vector(1)', instant: true, rangeS, stepS: 0 };
    const timings = await timePanels(prom, [...queries.map(x => x.q), { expr: worst, instant: true, rangeS, stepS: 0 }, floor], endMs, runs);
    for (const [i, { p, q }] of queries.entries()) {
      const onRules = timings[i];
      const raw = args.raw ? inlineRules(q.expr, SCRAPE_JOB) : undefined;
      const onRaw = raw && raw !== q.expr ? await timeQuery(prom, { ...q, expr: raw, timeout: args['raw-timeout'] }, endMs, runs) : undefined;
      log(`  ${p.dashboard} / ${p.panel} (${p.refId}): ${onRules.medianMs} ms (server ${onRules.serverMs} ms, ${onRules.samples} samples)${onRaw ? `, raw ${onRaw.medianMs} ms` : ''}${onRules.error ? ` ERROR ${onRules.error}` : ''}`);
      panels.push({ ...p, expr: q.expr, stepSeconds: q.stepS, rules: onRules, raw: onRaw });
    }
    panels.push({ dashboard: 'proxy-bandwidth', panel: 'Top pods over the range, every pod a candidate', refId: 'A', candidates: everyPod.length, expr: worst, instant: true, stepSeconds: 0,
      rules: timings[queries.length] });
    panels.push({ dashboard: '-', panel: 'any query (vector(1))', refId: '-', expr: floor.expr, instant: true, stepSeconds: 0, rules: timings[queries.length + 1] });
    const dataDir = path.join(prom.dir, 'data');
    const destinationSeries = await seriesOverRange(prom, RULE.destinationRequests, endMs, rangeS);
    log(`  ${RULE.destinationRequests}: ${destinationSeries.total} series over the range (${JSON.stringify(destinationSeries.perVendor)})`);
    return {
      pods,
      broadPods,
      vendors: benchVendors().names.length,
      rangeHours,
      stepSeconds: grafanaStepSeconds(rangeS),
      seriesPerPod: round1(fleet.keptPerPod),
      exposedPerPod: Math.round(fleet.exposedPerPod),
      headSeries: await metric(prom, 'prometheus_tsdb_head_series'),
      blocks: blockSeries(dataDir),
      tsdbBytes: duBytes(dataDir),
      memory: { ...procStatus(prom.pid!), heapInuseMiB: Math.round((await metric(prom, 'go_memstats_heap_inuse_bytes')) / 2 ** 20) },
      ingestion: { ...ingestion, samplesPerSecond: Math.round(ingestion.samples / ingestion.seconds) },
      ruleBackfillSeconds: { layered: Math.round(layeredBackfill), flat: Math.round(flatBackfill) },
      truthWorstRelativeError: truth,
      ruleCycleMs: { layered: perCycle('layered'), flat: perCycle('flat') },
      ruleGroups: groups,
      destinationSeries,
      panels,
    };
  } finally {
    await prom.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** N distinct hosts spread over the pods (20 each): the destination rule's series with and without the guard. */
async function destinations(pods: number, distinct: number): Promise<Record<string, unknown>> {
  log(`== ${pods} pods, ${distinct} distinct destinations`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `bench-destinations-${distinct}-`));
  const pool = hostPool(distinct, 'dest');
  const prod = product();
  const fleet = buildFleet(pods, prod, { destinationsFor: (_vendor, p) => Array.from({ length: 20 }, (_, j) => pool[(p * 20 + j) % pool.length]) });
  const prom = await startPrometheus(work);
  try {
    const endMs = Math.floor(Date.now() / (STEP_S * 1000)) * STEP_S * 1000;
    const startMs = endMs - GUARD_HISTORY_MIN * 60_000;
    const ingestion = await ingest(prom, fleet, startMs, endMs);
    const vendors = benchVendors();
    const guards = {
      'none': UNBOUNDED_DESTINATIONS,
      'top 200 (default)': resolveDestinationGuard(undefined, vendors),
      'registrable-domain': resolveDestinationGuard({ fold: 'registrable-domain', maxPerVendor: 0 }, vendors),
      'registrable-domain + top 200': resolveDestinationGuard({ fold: 'registrable-domain' }, vendors),
    };
    // Each guard's per-host sums recorded under their own name, then the bound over them, as Prometheus runs them.
    const layered: RuleGroupYaml[] = YAML.parse(prod.rulesYaml).groups;
    const podRules = layered.filter(g => g.rules.some(r => r.record === RULE.podRequests || Object.values(INTERMEDIATE).includes(r.record as any)));
    const perGuard = Object.entries(guards).map(([name, guard], i) => {
      const exprs = destinationRuleExprs(guard, DESTINATION_SCRAPE_JOB);
      const recorded = `${INTERMEDIATE.destinations}_guard${i}`;
      const listed = `${INTERMEDIATE.destinationsListed}_guard${i}`;
      const rename = (expr: string) => expr.split(INTERMEDIATE.destinationsListed).join(listed).split(INTERMEDIATE.destinations).join(recorded);
      return {
        name, recorded, listed: exprs.destinationsListed ? listed : undefined,
        exprs: { destinations: exprs.destinations, destinationsListed: exprs.destinationsListed && rename(exprs.destinationsListed), destinationRequests: rename(exprs.destinationRequests) },
      };
    });
    // backfillRules evaluates the top lists step by step, each step reading the previous step's list.
    const groups: RuleGroupYaml[] = [
      ...podRules.map(g => ({ ...g, rules: g.rules.filter(r => r.record && r.record !== INTERMEDIATE.destinations && !r.expr.includes(INTERMEDIATE.destinations)) })),
      { name: 'guards', rules: perGuard.map(g => ({ record: g.recorded, expr: g.exprs.destinations })) },
      { name: 'guard-lists', rules: perGuard.flatMap(g => g.listed ? [{ record: g.listed, expr: g.exprs.destinationsListed! }] : []) },
    ];
    await backfillRules(prom, groups, { startMs, endMs, work, windowMs: GUARD_HISTORY_MIN * 60_000, tag: 'guards', log });
    const rows: Record<string, unknown> = {};
    for (const g of perGuard) {
      const row: Record<string, unknown> = {};
      const range = await prom.queryRange(g.exprs.destinationRequests, endMs - 3_600_000, endMs, 30);
      const timed = async (expr: string) => {
        const times: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t = process.hrtime.bigint();
          await prom.query(expr, endMs);
          times.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
        return round1(median(times));
      };
      row.destinationRequests = { seriesOverHour: range.length, evaluationMs: await timed(g.exprs.destinationRequests) };
      row.perHostEvaluationMs = await timed(g.exprs.destinations);
      if (g.exprs.destinationsListed) row.listEvaluationMs = await timed(g.exprs.destinationsListed);
      rows[g.name] = row;
      log(`  ${g.name}: ${range.length} series over 1h, per-host sums ${row.perHostEvaluationMs} ms, top list ${row.listEvaluationMs ?? '-'} ms, bound ${(row.destinationRequests as any).evaluationMs} ms`);
    }
    return {
      pods, distinctDestinations: distinct, destinationsPerPod: 20,
      rawHeadSeries: await metric(prom, 'prometheus_tsdb_head_series'),
      rawSeriesPerPod: round1(fleet.keptPerPod),
      ingestion,
      memory: procStatus(prom.pid!),
      guards: rows,
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
