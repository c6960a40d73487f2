/**
 * The global tier side by side: VictoriaMetrics (single node, its query engine MetricsQL, as vmalert would query it)
 * and a global Prometheus 2.42 (remote-write receiver), holding what 10 shards send for a fleet of crawler pods.
 *
 *   npx ts-node --transpile-only bench/global-tier.ts --pods 10000
 *   npx ts-node --transpile-only bench/global-tier.ts --pods 100000      # needs about 10× the time and memory
 *
 * What the shards send is simulated, in time order, at the 30 s rule interval over `--minutes` (55) of history: per
 * pod its shard's pod-level rules (requests per protocol, bytes sent, received and both) and the crawler jobs' `up`,
 * sample count and scrape duration (both jobs); per shard the partial sums (requests, response codes, gateways, latency
 * buckets, unattributed bytes, scrape health) and the per-destination partials (`--destinations` distinct hosts per
 * vendor and protocol, the same hosts on every shard), and each shard's top-20 lists. Then each engine evaluates the
 * global rules (the rule file a global Prometheus gets, which is the file vmalert gets) over the history as range
 * queries, group by group in file order, and its results are written back into it: each engine's own history of the
 * global rules. (The destination top list, which reads its own output, is evaluated as one range query: its previous
 * list is then empty at every step, which costs the same ranking.)
 *
 * Before anything is timed, per vendor on both engines: HTTP requests/s, TCP connections/s, the destination rule's
 * sum (nothing lost by the bound), upload and download bytes/s must equal the simulated truth within 2%, or the run
 * stops. Then: the global rules' evaluation per 30 s cycle (every recording rule as an instant query `count(<expr>)` at
 * the end, groups amortized by their interval, median of shuffled rounds), every dashboard panel query over the range
 * (median of shuffled rounds; VictoriaMetrics with `nocache=1`, as it has a result cache that Prometheus lacks),
 * series held, ingestion rate (samples/s while receiving the history), resident memory and disk.
 *
 * Results: bench/results/global-tier-<pods>.json and a table on stdout.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { SHARD_LABEL, DESTINATION_SCRAPE_JOB, SCRAPE_JOB, shardPartial } from '../core/metric-contract';
import { INTERMEDIATE, RULE } from '../core/rules';
import { ALL_PODS, LABEL } from '../core/metric-contract';
import { proxyDashboards } from '../dashboards';
import { expandVariables, panelQueries } from '../harness/grafana-variables';
import { PrometheusProcess } from '../harness/prometheus-process';
import { VictoriaMetricsProcess, victoriaVersion } from '../harness/victoria-process';
import { MetricsStack } from '../lib/metrics-stack';
import { NAMESPACE, VENDORS, benchVendors } from './support/fleet';
import { RemoteWriter, encodeLabels } from './support/remote-write';
import { shuffle } from './support/panels';

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '10000' },
    shards: { type: 'string', default: '10' },
    minutes: { type: 'string', default: '55' },
    destinations: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '5' },
    out: { type: 'string', default: path.join(__dirname, 'results') },
  },
});

const STEP_S = 30;
const TOLERANCE = 0.02;
const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round1 = (x: number) => Math.round(x * 10) / 10;

interface Series { labels: Record<string, string>; value: number }
interface Truth { requests: number; connections: number; uploadBytes: number; downloadBytes: number }

/** What `shards` shards send the global tier for `pods` pods, and the per-vendor truth. */
function shardSeries(pods: number, shards: number, destinations: number): { series: Series[]; truth: Map<string, Truth> } {
  const series: Series[] = [];
  const truth = new Map<string, Truth>(VENDORS.map(v => [v, { requests: 0, connections: 0, uploadBytes: 0, downloadBytes: 0 }]));
  const perShard = Array.from({ length: shards }, () => new Map<string, { http: number; tcp: number; up: number; down: number; pods: Array<{ pod: string; bytes: number; up: number; down: number }> }>());
  const add = (name: string, labels: Record<string, string>, value: number) => series.push({ labels: { __name__: name, ...labels }, value });
  for (let i = 0; i < pods; i++) {
    const vendor = VENDORS[i % VENDORS.length];
    const shard = String(i % shards);
    const pace = 0.5 + ((i * 7919) % 1000) / 1000;
    const pod = `crawler-${vendor}-${(i * 2654435761 >>> 0).toString(36)}-${i.toString(36)}`;
    const r = { http: 10 * pace, tcp: 3 * pace, up: 20_000 * pace, down: 400_000 * pace };
    const base = { proxy_vendor: vendor, namespace: NAMESPACE, pod, [SHARD_LABEL]: shard };
    add(RULE.podRequests, { ...base, request_protocol: 'http' }, r.http);
    add(RULE.podRequests, { ...base, request_protocol: 'tcp' }, r.tcp);
    add(RULE.podSentBytes, base, r.up);
    add(RULE.podReceivedBytes, base, r.down);
    add(RULE.podBytes5m, { ...base, [LABEL.podSelection]: ALL_PODS }, r.up + r.down);
    for (const job of [SCRAPE_JOB, DESTINATION_SCRAPE_JOB]) {
      const target = { ...base, job, instance: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:15090` };
      add('up', target, 1);
      add('scrape_samples_post_metric_relabeling', target, job === SCRAPE_JOB ? 39 : 20);
      add('scrape_duration_seconds', target, 0.004);
    }
    const t = truth.get(vendor)!;
    t.requests += r.http; t.connections += r.tcp; t.uploadBytes += r.up; t.downloadBytes += r.down;
    const s = perShard[Number(shard)];
    const agg = s.get(vendor) ?? { http: 0, tcp: 0, up: 0, down: 0, pods: [] };
    agg.http += r.http; agg.tcp += r.tcp; agg.up += r.up; agg.down += r.down;
    agg.pods.push({ pod, bytes: r.up + r.down, up: r.up, down: r.down });
    s.set(vendor, agg);
  }
  // Destination weights: a long tail (1/sqrt(rank)), the same hosts on every shard.
  const weights = Array.from({ length: destinations }, (_, h) => 1 / Math.sqrt(h + 1));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const gateway = (vendor: string) => benchVendors().get(vendor)?.endpoints?.[0]?.host ?? `gw.${vendor}.example`;
  for (const [i, s] of perShard.entries()) {
    const shard = String(i);
    for (const [vendor, a] of s) {
      const v = { proxy_vendor: vendor, [SHARD_LABEL]: shard };
      add(shardPartial(RULE.requests), { ...v, request_protocol: 'http' }, a.http);
      add(shardPartial(RULE.requests), { ...v, request_protocol: 'tcp' }, a.tcp);
      add(shardPartial(RULE.responseCodes), { ...v, response_code: '200' }, a.http * 0.9);
      add(shardPartial(RULE.responseCodes), { ...v, response_code: '404' }, a.http * 0.1);
      add(shardPartial(RULE.gatewayRequests), { ...v, gateway: gateway(vendor), request_protocol: 'tcp' }, a.tcp);
      for (const [j, le] of ['1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000', '600000', '1800000', '3600000', '+Inf'].entries()) {
        add(shardPartial(RULE.durationBuckets), { ...v, le }, a.http * Math.min(1, (j + 1) / 12));
      }
      for (const protocol of ['http', 'tcp'] as const) {
        const total = protocol === 'http' ? a.http : a.tcp;
        for (let h = 0; h < destinations; h++) {
          add(shardPartial(INTERMEDIATE.destinations), { ...v, request_protocol: protocol, destination: `site-${h}.example` }, total * weights[h] / wsum);
        }
      }
      for (const job of [SCRAPE_JOB, DESTINATION_SCRAPE_JOB]) {
        add('proxy_vendor_job:proxy_scrape_targets_down:sum', { ...v, job }, 0);
        add('proxy_vendor_job:proxy_scrape_duration_seconds:max', { ...v, job }, 0.004);
        add('proxy_vendor_job:proxy_scrape_samples:max', { ...v, job }, 39);
      }
      const top = [...a.pods].sort((x, y) => y.bytes - x.bytes);
      for (const p of top.slice(0, 20)) {
        // The top lists carry the selection label the panels select them by (their rule's labels).
        const l = { ...v, namespace: NAMESPACE, pod: p.pod, [LABEL.podSelection]: ALL_PODS };
        add(RULE.topPodBytes5m, l, p.bytes);
        add(RULE.topPodSentBytes, l, p.up);
        add(RULE.topPodReceivedBytes, l, p.down);
      }
      add(RULE.unlistedPodBytesMax5m, { ...v, namespace: NAMESPACE, [LABEL.podSelection]: ALL_PODS }, top[20]?.bytes ?? 0);
    }
    add(shardPartial(RULE.unattributedBytes), { namespace: NAMESPACE, [SHARD_LABEL]: shard }, 0);
    // Each shard's own metrics, which a global tier's shards send (the health dashboard's Prometheus panels).
    const self = { job: 'prometheus', instance: 'localhost:9090', [SHARD_LABEL]: shard };
    add('up', self, 1);
    add('prometheus_tsdb_head_series', self, pods / shards * 60);
    add('prometheus_tsdb_head_samples_appended_total', self, 0);
  }
  return { series, truth };
}

interface Engine {
  name: string;
  url: string;
  writeUrl: string;
  pid: () => number | undefined;
  dataDir: string;
  /** Extra query parameters: VictoriaMetrics' `nocache=1`. */
  params: Record<string, string>;
  stop: () => Promise<void>;
  series: () => Promise<number>;
  /** Makes what was written searchable (VictoriaMetrics buffers new samples for a second or so; Prometheus at once). */
  flush: () => Promise<void>;
}

async function api(e: Engine, endpoint: string, params: Record<string, string>): Promise<any> {
  const body = new URLSearchParams({ ...params, ...e.params });
  // Label values are GET only in Prometheus 2.42; long queries go as POST bodies.
  const res = endpoint.startsWith('/api/v1/label/') ? await fetch(`${e.url}${endpoint}?${body}`) : await fetch(`${e.url}${endpoint}`, { method: 'POST', body });
  const answer: any = await res.json().catch(() => ({ status: 'error', error: `HTTP ${res.status}` }));
  if (answer.status !== 'success') throw new Error(`${e.name} ${endpoint} ${params.query?.slice(0, 200)}: ${answer.error}`);
  return answer.data;
}

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = process.hrtime.bigint();
  const value = await f();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, value };
}

function memory(pid: number): { rssMiB: number; peakRssMiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(/(\d+) kB/.exec(status.split('\n').find(l => l.startsWith(k)) ?? '')?.[1] ?? NaN);
  return { rssMiB: Math.round(kib('VmRSS:') / 1024), peakRssMiB: Math.round(kib('VmHWM:') / 1024) };
}

async function startEngines(work: string): Promise<Engine[]> {
  const promConfig = path.join(work, 'prometheus.yml');
  fs.writeFileSync(promConfig, YAML.stringify({ global: { scrape_interval: '15s', evaluation_interval: '30s' } }));
  const prom = await PrometheusProcess.start({
    configFile: promConfig,
    args: ['--web.enable-remote-write-receiver', '--storage.tsdb.retention.time=30d', '--query.max-samples=200000000', '--query.timeout=10m'],
  });
  const vm = await VictoriaMetricsProcess.start({ args: [// Grafana's expansion of the top_pods variable (every shard's top lists) exceeds the default 16 KiB.
    '-search.maxQueryLen=1048576', '-search.maxQueryDuration=10m', '-search.maxSamplesPerQuery=2000000000', '-search.maxUniqueTimeseries=10000000', '-search.maxSeries=10000000'] });
  const metric = async (url: string, name: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(text.split('\n').find(l => l.startsWith(`${name} `))?.split(' ').pop());
  };
  return [
    {
      name: 'VictoriaMetrics', url: vm.url, writeUrl: vm.writeUrl, pid: () => vm.pid, dataDir: path.join(vm.dir, 'data'), params: { nocache: '1' }, stop: () => vm.stop(), flush: () => vm.flush(),
      series: async () => {
        await vm.flush();
        const r = await fetch(`${vm.url}/api/v1/series/count`);
        return Number(((await r.json()) as any).data[0]);
      },
    },
    {
      name: 'Prometheus', url: prom.url, writeUrl: `${prom.url}/api/v1/write`, pid: () => prom.pid, dataDir: path.join(prom.dir, 'data'), params: {}, stop: () => prom.stop(), flush: async () => undefined,
      series: () => metric(prom.url, 'prometheus_tsdb_head_series'),
    },
  ];
}

async function writeHistory(e: Engine, series: Series[], startMs: number, endMs: number, values?: (i: number, t: number) => number): Promise<{ seconds: number; samples: number }> {
  const writer = new RemoteWriter(e.writeUrl);
  const labels = series.map(s => encodeLabels(s.labels));
  const started = Date.now();
  for (let t0 = startMs; t0 <= endMs; t0 += 10 * STEP_S * 1000) {
    const ts: number[] = [];
    for (let t = t0; t < t0 + 10 * STEP_S * 1000 && t <= endMs; t += STEP_S * 1000) ts.push(t);
    await writer.write(labels, ts, values ?? (i => series[i].value), 5000, 2);
  }
  return { seconds: (Date.now() - started) / 1000, samples: writer.samples };
}

/** Each global recording rule over the history as a range query on the engine, written back into it, in file order. */
async function recordGlobalRules(e: Engine, groups: any[], startMs: number, endMs: number): Promise<number> {
  let written = 0;
  for (const g of groups) {
    for (const r of g.rules.filter((x: any) => x.record)) {
      // A rule reads the rules before it.
      await e.flush();
      const data = await api(e, '/api/v1/query_range', { query: r.expr, start: String(startMs / 1000), end: String(endMs / 1000), step: String(STEP_S) });
      const out: Series[] = [];
      const points: Array<Map<number, number>> = [];
      for (const s of data.result) {
        out.push({ labels: { ...s.metric, ...(r.labels ?? {}), __name__: r.record }, value: 0 });
        points.push(new Map(s.values.map(([t, v]: [number, string]) => [Math.round(t * 1000), Number(v)])));
      }
      if (out.length === 0) continue;
      // Only the steps where the rule had a result (a NaN would be a staleness marker).
      const writer = new RemoteWriter(e.writeUrl);
      const labels = out.map(s => encodeLabels(s.labels));
      for (let i = 0; i < out.length; i += 1) {
        const ts = [...points[i].keys()].sort((a, b) => a - b);
        if (ts.length) await writer.write([labels[i]], ts, (_, t) => points[i].get(t)!, 1, 1);
      }
      written += writer.samples;
    }
  }
  return written;
}

async function checkTruth(e: Engine, truth: Map<string, Truth>, at: number): Promise<Record<string, number>> {
  const q = async (expr: string) => new Map(((await api(e, '/api/v1/query', { query: expr, time: String(at / 1000) })).result as any[]).map(s => [s.metric.proxy_vendor, Number(s.value[1])]));
  const checks: Array<[string, string, (t: Truth) => number]> = [
    ['requests', `sum by (proxy_vendor) (${RULE.requests}{request_protocol="http"})`, t => t.requests],
    ['connections', `sum by (proxy_vendor) (${RULE.requests}{request_protocol="tcp"})`, t => t.connections],
    ['destination requests', `sum by (proxy_vendor) (${RULE.destinationRequests}{request_protocol="http"})`, t => t.requests],
    ['destination connections', `sum by (proxy_vendor) (${RULE.destinationRequests}{request_protocol="tcp"})`, t => t.connections],
    ['upload', `sum by (proxy_vendor) (${RULE.vendorSentBytes})`, t => t.uploadBytes],
    ['download', `sum by (proxy_vendor) (${RULE.vendorReceivedBytes})`, t => t.downloadBytes],
  ];
  const failures: string[] = [];
  const worst: Record<string, number> = {};
  for (const [what, expr, want] of checks) {
    const got = await q(expr);
    for (const [vendor, t] of truth) {
      const v = got.get(vendor);
      const rel = v === undefined ? Infinity : Math.abs(v - want(t)) / Math.max(want(t), 1e-9);
      worst[what] = Math.max(worst[what] ?? 0, rel);
      if (!(rel <= TOLERANCE)) failures.push(`${e.name} ${what} of ${vendor}: ${v ?? 'no result'}, truth ${want(t)}`);
    }
  }
  if (failures.length) throw new Error(`the global rules do not report the truth (tolerance ${TOLERANCE * 100}%), nothing timed:\n  ${failures.join('\n  ')}`);
  return Object.fromEntries(Object.entries(worst).map(([k, v]) => [k, Number(v.toExponential(2))]));
}

async function main(): Promise<void> {
  const pods = Number(args.pods);
  const shards = Number(args.shards);
  const minutes = Number(args.minutes);
  const rounds = Number(args.rounds);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `bench-global-tier-${pods}-`));
  const vendors = benchVendors();
  // The global rules: what a sharded stack's global Prometheus loads, and what the global tier's evaluator gets.
  const chart = Testing.chart();
  const stack = new MetricsStack(chart, 'm', { vendors, crawlerNamespaces: [NAMESPACE], prometheus: { shards } });
  const groups = YAML.parse(stack.renderRules('prometheus')).groups.filter((g: any) => g.rules.some((r: any) => r.record));
  const dashboards = proxyDashboards({ vendors, job: SCRAPE_JOB, ruleIntervalSeconds: STEP_S });

  const { series, truth } = shardSeries(pods, shards, Number(args.destinations));
  log(`${pods} pods on ${shards} shards: ${series.length} series sent to the global tier (${(series.length / pods).toFixed(1)} per pod), ${minutes} min at ${STEP_S} s`);
  const endMs = Math.floor(Date.now() / (STEP_S * 1000)) * STEP_S * 1000;
  const startMs = endMs - minutes * 60_000;
  const engines = await startEngines(work);
  const results: Record<string, any> = {};
  try {
    for (const e of engines) {
      log(`${e.name}: ingesting`);
      const ingestion = await writeHistory(e, series, startMs, endMs);
      log(`  ${ingestion.samples} samples in ${ingestion.seconds.toFixed(1)} s: ${Math.round(ingestion.samples / ingestion.seconds)}/s`);
      const afterIngest = memory(e.pid()!);
      const recorded = await timed(() => recordGlobalRules(e, groups, startMs + 300_000, endMs));
      log(`  global rules recorded over the history: ${recorded.value} samples in ${(recorded.ms / 1000).toFixed(1)} s`);
      results[e.name] = { ingestion: { ...ingestion, samplesPerSecond: Math.round(ingestion.samples / ingestion.seconds) }, memoryAfterIngest: afterIngest, ruleHistorySamples: recorded.value };
    }
    for (const e of engines) await e.flush();
    for (const e of engines) {
      results[e.name].truthWorstRelativeError = await checkTruth(e, truth, endMs);
      log(`${e.name}: the global rules equal the truth within ${TOLERANCE * 100}% for every vendor`);
    }
    // Rule evaluation per 30 s cycle: every recording rule as count(<expr>) at the end, rounds in shuffled order.
    const rules: any[] = groups.flatMap((g: any) => g.rules.filter((r: any) => r.record).map((r: any) => ({ group: g.name, interval: g.interval ? parseDuration(g.interval) : STEP_S, ...r })));
    const topPods = (await api(engines[1], `/api/v1/label/pod/values`, { 'match[]': RULE.topPodBytes5m, start: String((endMs - 3_600_000) / 1000), end: String(endMs / 1000) })) as string[];
    const rangeS = (minutes - 5) * 60;
    const stepS = Math.max(STEP_S, Math.ceil(rangeS / 1000 / 15) * 15);
    const panels = panelQueries(dashboards).filter(p => p.dashboard !== 'proxy-cost').map(p => ({
      label: `${p.dashboard} / ${p.panel} / ${p.refId}`, instant: p.instant,
      expr: expandVariables(p.expr, { rangeSeconds: rangeS, rateIntervalSeconds: Math.max(4 * 15, stepS + 15), topPods }),
    }));
    for (const e of engines) {
      const ruleTimes = new Map<string, number[]>();
      for (let round = 0; round < rounds; round++) {
        for (const r of shuffle(rules)) {
          const { ms } = await timed(() => api(e, '/api/v1/query', { query: `count(${r.expr})`, time: String(endMs / 1000) }));
          ruleTimes.set(r.record + r.group, [...ruleTimes.get(r.record + r.group) ?? [], ms]);
        }
      }
      const cycleMs = rules.reduce((n: number, r: any) => n + median(ruleTimes.get(r.record + r.group)!) * STEP_S / r.interval, 0);
      const panelTimes = new Map<string, number[]>();
      const empty: string[] = [];
      for (const p of panels) {
        const data = p.instant ? await api(e, '/api/v1/query', { query: p.expr, time: String(endMs / 1000) })
          : await api(e, '/api/v1/query_range', { query: p.expr, start: String((endMs - rangeS * 1000) / 1000), end: String(endMs / 1000), step: String(stepS) });
        if (data.result.length === 0) empty.push(p.label);
      }
      for (let round = 0; round < rounds; round++) {
        for (const p of shuffle(panels)) {
          const { ms } = await timed(() => p.instant ? api(e, '/api/v1/query', { query: p.expr, time: String(endMs / 1000) })
            : api(e, '/api/v1/query_range', { query: p.expr, start: String((endMs - rangeS * 1000) / 1000), end: String(endMs / 1000), step: String(stepS) }));
          panelTimes.set(p.label, [...panelTimes.get(p.label) ?? [], ms]);
        }
      }
      const perPanel = panels.map(p => ({ panel: p.label, medianMs: round1(median(panelTimes.get(p.label)!)) }));
      const medians = perPanel.map(p => p.medianMs);
      Object.assign(results[e.name], {
        seriesHeld: await e.series(),
        ruleCycleMs: round1(cycleMs),
        perRuleMs: Object.fromEntries(rules.map((r: any) => [`${r.group} ${r.record}`, round1(median(ruleTimes.get(r.record + r.group)!))])),
        panels: { medianMs: round1(median(medians)), slowestMs: round1(Math.max(...medians)), slowest: perPanel.sort((a, b) => b.medianMs - a.medianMs).slice(0, 3), empty },
        memory: memory(e.pid()!),
        diskMiB: Math.round(Number(execFileSync('du', ['-sb', e.dataDir], { encoding: 'utf8' }).split('\t')[0]) / 2 ** 20),
      });
      log(`${e.name}: ${results[e.name].seriesHeld} series, rule cycle ${results[e.name].ruleCycleMs} ms, panels median ${results[e.name].panels.medianMs} ms / slowest ${results[e.name].panels.slowestMs} ms, RSS ${results[e.name].memory.rssMiB} MiB`);
    }
  } finally {
    for (const e of engines) await e.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const out = {
    pods, shards, minutes, stepSeconds: STEP_S, destinationsPerVendorAndProtocol: Number(args.destinations),
    seriesSent: series.length, seriesPerPod: round1(series.length / pods),
    versions: { victoriaMetrics: victoriaVersion(), prometheus: execFileSync('prometheus', ['--version'], { encoding: 'utf8' }).split('\n')[0] },
    machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30) },
    engines: results,
  };
  fs.mkdirSync(args.out!, { recursive: true });
  fs.writeFileSync(path.join(args.out!, `global-tier-${pods}.json`), JSON.stringify(out, null, 2) + '\n');
  const row = (name: string, f: (r: any) => string) => `| ${name} | ${f(results.VictoriaMetrics)} | ${f(results.Prometheus)} |`;
  console.log([
    `| ${pods.toLocaleString('en')} pods, ${shards} shards | VictoriaMetrics | Prometheus |`, '|---|---|---|',
    row('series held', r => r.seriesHeld.toLocaleString('en')),
    row('ingestion (samples/s)', r => r.ingestion.samplesPerSecond.toLocaleString('en')),
    row('RSS after ingestion / at the end (peak)', r => `${r.memoryAfterIngest.rssMiB} / ${r.memory.rssMiB} MiB (${r.memory.peakRssMiB} MiB)`),
    row('disk', r => `${r.diskMiB} MiB`),
    row('global rule evaluation per 30 s cycle', r => `${r.ruleCycleMs} ms`),
    row('panel queries: median / slowest', r => `${r.panels.medianMs} / ${r.panels.slowestMs} ms`),
  ].join('\n'));
}

function parseDuration(d: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(d);
  if (!m) throw new Error(`unsupported duration '${d}'`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
