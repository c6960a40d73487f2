import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { httpQueryClient, validate } from '../bin/validate';
import { RULE, RuleGroup } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { DashboardJson } from '../dashboards';
import { expandPanelQuery, panelQueries, resolveTopPods } from '../harness/grafana-variables';
import { CrawlerFlow } from '../harness/crawler-flows';
import { KubeObject } from '../harness/kube-object';
import { PrometheusApi } from '../harness/prometheus-api';
import { InstantSample, PrometheusProcess, freePort } from '../harness/prometheus-process';
import { SidecarSim } from '../harness/sidecar-sim';
import { VictoriaMetricsProcess, VmalertProcess, vmalertCheckRules } from '../harness/victoria-process';
import { MeshTelemetry } from '../lib/mesh-telemetry';
import { MetricsStack } from '../lib/metrics-stack';
import { renderGlobalRuleFile } from '../lib/prometheus/global-tier';
import { VendorCrawler } from '../lib/vendor-crawler';
import { site, tlsSite, viaGateway } from './support/fleet';
import { injectedPodTargets } from './support/pod-discovery';
import { checkRules, editConfigFile, materializeConfig, productPrometheusArgs } from './support/prometheus-config';
import { FleetPod, contractIntent, expectClose, startSplitSimulator } from './support/simulated-stack';
import { findObject } from './support/synth';
import { tempDir } from './support/temp-dir';

/**
 * VictoriaMetrics as the global tier, with real processes on 127.0.0.1: two Prometheus shards (the rendered shard
 * configurations and rules) scrape the simulated sidecars and remote-write what the global rules read to a real
 * single-node `victoria-metrics`; `vmalert` evaluates the global rules (the rendered rule file, MetricsQL) against it
 * and writes the results back. Beside it, the same shards also write to a global Prometheus with the product's global
 * configuration: the reference engine. Every global rule, every dashboard panel, the top lists and `validate` run
 * against VictoriaMetrics' Prometheus API and must equal the ground truth (A–D within 2%) and what Prometheus says.
 */

const NS = 'crawlers';
const SHARDS = 2;
const HISTORY_SECONDS = 420;
const SPEEDUP = 20;
/** Listed destinations per vendor and protocol: small, so that vendor-b's third host goes to (other). */
const MAX_PER_VENDOR = 2;

const GATEWAY = 'gw.vendor-a.example:8000';
const http = (host: string, perSecond: number, responseCode = 200) => site(host, perSecond, { responseCode, upBytes: 400, downBytes: 15_000, durationMs: 150 });
const pod = (name: string, ip: string, vendor: string | undefined, flows: CrawlerFlow[]): FleetPod => ({ name, namespace: NS, vendor, ip, flows });
const PODS: FleetPod[] = [
  pod('crawler-vendor-a-7d9c6b5f4-a1', '127.21.0.1', 'vendor-a', [http('example.com', 8), viaGateway(GATEWAY, 'https', 'www.example.com', 5, { upBytes: 4_000, downBytes: 160_000 })]),
  pod('crawler-vendor-a-7d9c6b5f4-a2', '127.21.0.2', 'vendor-a', [http('example.com', 12)]),
  pod('crawler-vendor-a-7d9c6b5f4-a3', '127.21.0.3', 'vendor-a', [http('example.org', 4)]),
  pod('crawler-vendor-b-7d9c6b5f4-b1', '127.21.0.4', 'vendor-b', [http('example.com', 30), http('example.org', 6, 404)]),
  pod('crawler-vendor-b-7d9c6b5f4-b2', '127.21.0.5', 'vendor-b', [http('example.com', 20), http('example.io', 2)]),
  pod('crawler-vendor-b-7d9c6b5f4-b3', '127.21.0.6', 'vendor-b', [http('example.net', 10), tlsSite('www.wikipedia.org', 3, { upBytes: 700, downBytes: 100_000 })]),
  pod('batch-job-7d9c6b5f4-zz9yy', '127.21.0.9', undefined, [http('example.net', 7)]),
];
const VENDORED = PODS.filter(p => p.vendor);
const VENDORS = ['vendor-a', 'vendor-b'];
const TIER_WRITE_URL = 'http://vminsert.vm.svc:8480/insert/0/prometheus/api/v1/write';
const TIER_QUERY_URL = 'http://vmselect.vm.svc:8481/select/0/prometheus';

let sim: SidecarSim;
const shards: PrometheusProcess[] = [];
/** The reference: a global Prometheus with the product's global configuration and rules. */
let reference: PrometheusProcess;
let vm: VictoriaMetricsProcess;
let vmalert: VmalertProcess;
let objects: KubeObject[];
let dashboards: DashboardJson[];
let globalRules: RuleGroup[];
let tierRuleFile: string;
let datasourceUrl: string | undefined;

/** What a query API must answer for the checks below: PrometheusProcess and VictoriaMetricsProcess both do. */
type QueryApi = PrometheusApi;


/**
 * The rule file with the groups' own intervals shortened, so that every group evaluates within this test. The
 * destination group keeps production's ratio to vmalert's remote-write flush (1 m to 5 s): its rules read the rules
 * before them, which vmalert's results reach only after a flush (see the README), so it runs every 5 s against a 1 s
 * flush here, on both engines alike.
 */
function everySecond(rulesYaml: string): string {
  const rules = YAML.parse(rulesYaml);
  for (const group of rules.groups) if (group.interval) group.interval = group.name === 'proxy-telemetry.destinations' ? '5s' : '1s';
  return YAML.stringify(rules, { lineWidth: 0 });
}

async function byLabels(api: QueryApi, expr: string, at: number, ...labels: string[]): Promise<Map<string, number>> {
  return new Map((await api.query(expr, at)).map(s => [labels.map(l => s.metric[l] ?? '').join('/'), s.value]));
}

/**
 * A time every sample up to which has reached both engines: the shards' queues to them are separate and send every
 * 5 s (batch deadline), so at `now` one engine may lack a batch the other has.
 */
const settled = () => Date.now() - 12_000;

const key = (m: Record<string, string>) => JSON.stringify(Object.entries(m).filter(([k]) => k !== '__name__').sort());

beforeAll(async () => {
  const vendors = new VendorCatalog([{ name: 'vendor-a', endpoints: [GATEWAY] }, { name: 'vendor-b' }]);
  const chart = Testing.chart();
  const mesh = new MeshTelemetry(chart, 'mesh', { vendors, namespaces: [NS] });
  const destinations = { maxPerVendor: MAX_PER_VENDOR };
  const stack = new MetricsStack(chart, 'm', {
    vendors, crawlerNamespaces: [NS], destinations,
    prometheus: {
      shards: SHARDS, scrapeInterval: '1s', evaluationInterval: '1s',
      globalTier: { engine: 'victoriametrics', remoteWrite: { url: TIER_WRITE_URL }, queryUrl: TIER_QUERY_URL },
    },
  });
  // The reference engine: the same stack with a global Prometheus.
  const refChart = Testing.chart();
  const refStack = new MetricsStack(refChart, 'm', { vendors, crawlerNamespaces: [NS], destinations, prometheus: { shards: SHARDS, scrapeInterval: '1s', evaluationInterval: '1s' } });
  for (const vendor of VENDORS) new VendorCrawler(chart, vendor, { vendors, vendor, namespace: NS, replicas: 3, image: 'registry.example/crawler:1.0' });
  objects = Testing.synth(chart) as KubeObject[];
  const refObjects = Testing.synth(refChart) as KubeObject[];
  dashboards = stack.dashboards;
  datasourceUrl = YAML.parse(findObject(objects, 'ConfigMap', 'grafana-provisioning', 'monitoring')?.data?.['datasources.yaml'] ?? 'null')?.datasources?.[0]?.url;

  // The global rules as the stack places them for the evaluator (the same groups a global Prometheus gets).
  tierRuleFile = stack.renderRules('global-tier');
  globalRules = YAML.parse(tierRuleFile).groups;
  expect(renderGlobalRuleFile('victoriametrics', globalRules)).toBe(tierRuleFile);

  let targets: ReturnType<typeof injectedPodTargets>;
  ({ sim, targets } = await startSplitSimulator(PODS, objects, contractIntent(mesh, vendors), SHARDS, NS));

  // The stores first, so that nothing sent is lost: VictoriaMetrics (its /api/v1/rules proxied to vmalert, as
  // Grafana's alerting view and `validate` read it), vmalert, the reference Prometheus; then the shards.
  const vmalertPort = await freePort();
  vm = await VictoriaMetricsProcess.start({ args: [`-vmalert.proxyURL=http://127.0.0.1:${vmalertPort}`] });
  const ruleDir = tempDir('victoria-global-e2e');
  const ruleFile = path.join(ruleDir, 'global-rules.yaml');
  fs.writeFileSync(ruleFile, everySecond(tierRuleFile));
  vmalert = await VmalertProcess.start({
    ruleFiles: [ruleFile], datasourceUrl: vm.url, remoteWriteUrl: vm.url, evaluationInterval: '1s', port: vmalertPort,
    // Results written back every second, as the shards' batches arrive (production: 5 s, the default).
    args: ['-remoteWrite.flushInterval=1s'],
  });

  const refConfig = materializeConfig(refStack.renderPrometheusConfig('prometheus'), everySecond(refStack.renderRules('prometheus')), []);
  const refArgs = (findObject(refObjects, 'Deployment', 'prometheus', 'monitoring').spec.template.spec.containers[0].args as string[])
    .filter(a => !/^--(config\.file|storage\.tsdb\.path|web\.listen-address)=/.test(a));
  reference = await PrometheusProcess.start({ configFile: refConfig.configFile, args: refArgs });

  for (let i = 0; i < SHARDS; i++) {
    const name = `prometheus-shard-${i}`;
    const config = materializeConfig(stack.renderPrometheusConfig(name), everySecond(stack.renderRules(name)), targets);
    editConfigFile(config.configFile, c => {
      const tier = (c.remote_write ?? []).find((rw: any) => rw.url === TIER_WRITE_URL);
      if (!tier) throw new Error(`${name} does not remote-write to the global tier ${TIER_WRITE_URL}: ${JSON.stringify(c.remote_write)}`);
      tier.url = vm.writeUrl;
      // The same queue to the reference Prometheus: both engines get exactly the same samples.
      c.remote_write.push({ ...tier, name: 'reference', url: `${reference.url}/api/v1/write` });
    });
    shards.push(await PrometheusProcess.start({ configFile: config.configFile, args: productPrometheusArgs(objects, name) }));
  }

  await sim.waitForAllScraped(20_000);
  sim.startClock({ historySeconds: HISTORY_SECONDS, speedup: SPEEDUP });
  await sim.waitForCatchUp(15_000);
  // Count, don't race: wait until, at a time every batch has reached both engines (settled()), both have evaluated
  // every global rule on data of every pod after the clock caught up (rates then steady), the destination group
  // twice or more: vmalert's bound reads the list of the evaluation before (README: one evaluation late), so its
  // first evaluation puts every destination in (other).
  const caughtUpAt = Date.now();
  const after = (caughtUpAt + 12_000) / 1000;
  const ready = async (api: QueryApi): Promise<boolean> => {
    const at = settled();
    const [pods, requests, totals, listed] = await Promise.all([
      api.query(`count(${RULE.podSentBytes})`, at),
      api.query(`count(timestamp(${RULE.requests}) > ${after})`, at),
      api.query(`count(timestamp(${RULE.destinationTotal}) > ${after})`, at),
      api.query(`count(timestamp(${RULE.destinationRequests}) > ${after})`, at),
    ]);
    return pods[0]?.value === VENDORED.length && requests[0]?.value === 4 && totals[0]?.value === 4 && listed[0]?.value > 0;
  };
  await vm.waitFor(async () => {
    await vm.flush();
    return (await ready(vm)) && ready(reference);
  }, 120_000, 'every pod and the global rules on VictoriaMetrics and the reference Prometheus, evaluated on steady rates');
}, 240_000);

afterAll(async () => {
  await Promise.all([...shards, reference, vmalert, vm].filter(Boolean).map(p => p.stop()));
  await sim?.stop();
});

test('the global rule file is what vmalert loads (MetricsQL parses every expression) and what promtool accepts', () => {
  const file = path.join(tempDir('victoria-rules'), 'global.yaml');
  fs.writeFileSync(file, tierRuleFile);
  const vmCheck = vmalertCheckRules(file);
  expect({ status: vmCheck.status, errors: vmCheck.output.split('\n').filter(l => /\berror\b|fatal/.test(l)) }).toEqual({ status: 0, errors: [] });
  expect(checkRules(tierRuleFile).status).toBe(0);
  // The groups of a global Prometheus: every record and alert there is here.
  expect(globalRules.map(g => g.name)).toEqual(expect.arrayContaining(['proxy-telemetry.rules', 'proxy-telemetry.destinations', 'proxy-telemetry.alerts']));
  // Grafana reads the engine's query API.
  expect(datasourceUrl).toBe(TIER_QUERY_URL);
});

test('vmalert evaluates every global rule without error', async () => {
  const groups = await vmalert.rules();
  expect(groups.map(g => g.name).sort()).toEqual(globalRules.map(g => g.name).sort());
  for (const group of groups) {
    for (const rule of group.rules) expect({ rule: rule.name, error: rule.lastError || undefined }).toEqual({ rule: rule.name, error: undefined });
  }
  const { iterations, failingRules } = await vmalert.evaluations();
  expect(iterations).toBeGreaterThan(globalRules.length);
  expect(failingRules).toBe(0);
});

test('A–D on VictoriaMetrics equal the ground truth per vendor and per pod', async () => {
  const at = Date.now();
  const requests = await byLabels(vm, RULE.requests, at, 'proxy_vendor', 'request_protocol');
  const sent = await byLabels(vm, RULE.vendorSentBytes, at, 'proxy_vendor');
  const received = await byLabels(vm, RULE.vendorReceivedBytes, at, 'proxy_vendor');
  const destinations = await byLabels(vm, `sum by (proxy_vendor, request_protocol) (${RULE.destinationRequests})`, at, 'proxy_vendor', 'request_protocol');
  const crawlerPods = await byLabels(vm, RULE.crawlerPods, at, 'proxy_vendor');
  for (const vendor of VENDORS) {
    const http = sim.rates({ vendor, protocol: 'http' }).requests;
    expectClose(requests.get(`${vendor}/http`), http, `A: ${vendor} HTTP requests/s`);
    expectClose(destinations.get(`${vendor}/http`), http, `B: ${vendor} destination requests/s (listed + other)`);
    expectClose(sent.get(vendor), sim.rates({ vendor }).uploadBytes, `C: ${vendor} upload bytes/s`);
    expectClose(received.get(vendor), sim.rates({ vendor }).downloadBytes, `D: ${vendor} download bytes/s`);
    expect(crawlerPods.get(vendor)).toBe(3);
  }
  expectClose(requests.get('vendor-a/tcp'), sim.rates({ vendor: 'vendor-a', protocol: 'tcp' }).connections, 'A: vendor-a connections/s');
  const podSent = await byLabels(vm, RULE.podSentBytes, at, 'pod');
  const podReceived = await byLabels(vm, RULE.podReceivedBytes, at, 'pod');
  expect([...podSent.keys()].sort()).toEqual(VENDORED.map(p => p.name).sort());
  for (const p of VENDORED) {
    expectClose(podSent.get(p.name), sim.rates({ pod: p.name }).uploadBytes, `C: ${p.name} upload bytes/s`);
    expectClose(podReceived.get(p.name), sim.rates({ pod: p.name }).downloadBytes, `D: ${p.name} download bytes/s`);
  }
  const ratio = await byLabels(vm, RULE.errorRatio, at, 'proxy_vendor');
  const truth = sim.rates({ vendor: 'vendor-b', destination: 'example.org' }).requests / sim.rates({ vendor: 'vendor-b', protocol: 'http' }).requests;
  expectClose(ratio.get('vendor-b'), truth, 'vendor-b error ratio');
});

test('the destination top list with hysteresis (a rule reading its own output) lists the same destinations on both engines', async () => {
  const at = Date.now();
  const destinations = async (api: QueryApi) => new Map((await api.query(RULE.destinationRequests, at))
    .map(s => [`${s.metric.proxy_vendor}/${s.metric.request_protocol}/${s.metric.destination}`, s.value]));
  const [onVm, onProm] = await Promise.all([destinations(vm), destinations(reference)]);
  expect([...onVm.keys()].sort()).toEqual([...onProm.keys()].sort());
  // vendor-b's HTTP: the two busiest listed, the rest in (other), whose rate is the sum of the others.
  expect([...onVm.keys()].filter(k => k.startsWith('vendor-b/http/')).sort())
    .toEqual(['vendor-b/http/(other)', 'vendor-b/http/example.com', 'vendor-b/http/example.net']);
  const other = sim.rates({ vendor: 'vendor-b', destination: 'example.org' }).requests + sim.rates({ vendor: 'vendor-b', destination: 'example.io' }).requests;
  expectClose(onVm.get('vendor-b/http/(other)'), other, 'vendor-b (other) requests/s');
  for (const [k, v] of onVm) expectClose(v, onProm.get(k)!, `${k} on VictoriaMetrics vs Prometheus`);
  // The list itself (what the next evaluation reads back): the same names, scored alike.
  const listed = async (api: QueryApi) => (await api.query(`${RULE.destinationRequests} unless on (destination) ${RULE.destinationRequests}{destination="(other)"}`, at)).map(s => key(s.metric)).sort();
  expect(await listed(vm)).toEqual(await listed(reference));
});

test('every global rule gives on VictoriaMetrics (vmalert, MetricsQL) what it gives on the global Prometheus', async () => {
  const at = settled();
  // Rules over 1-hour windows of the evaluator's own earlier results (the cost group's averages, the top list's
  // rank score) weigh the minutes since each evaluator started, which differ by engine here: compared for their
  // series only. bench/global-tier.ts compares them over the same hour of history.
  const hourly = new Set(globalRules.flatMap(g => g.rules.flatMap(r => ('record' in r && r.record && /\[1h\]/.test(r.expr) ? [r.record] : []))));
  const records = [...new Set(globalRules.flatMap(g => g.rules.flatMap(r => ('record' in r && r.record ? [r.record] : []))))];
  expect(records.length).toBeGreaterThan(12);
  const differences: string[] = [];
  for (const record of records) {
    const [a, b] = await Promise.all([vm.query(record, at), reference.query(record, at)]);
    const mb = new Map(b.map(s => [key(s.metric), s.value]));
    const ma = new Map(a.map(s => [key(s.metric), s.value]));
    if ([...ma.keys()].sort().join() !== [...mb.keys()].sort().join()) {
      differences.push(`${record}: series differ: VictoriaMetrics ${[...ma.keys()].join(' ')} | Prometheus ${[...mb.keys()].join(' ')}`);
      continue;
    }
    if (hourly.has(record)) continue;
    for (const [k, v] of ma) {
      const w = mb.get(k)!;
      const tolerance = 0.02;
      if (!(Math.abs(v - w) <= tolerance * Math.max(Math.abs(w), 1e-9)) && !(v === 0 && w === 0)) differences.push(`${record} ${k}: VictoriaMetrics ${v}, Prometheus ${w}`);
    }
  }
  expect(differences).toEqual([]);
});

test('top pods: the hidden variable, the top list and its bound read the same on both engines', async () => {
  const at = Date.now();
  const values = { rangeSeconds: 60, rateIntervalSeconds: 10 };
  const [onVm, onProm] = await Promise.all([resolveTopPods(vm, values, at), resolveTopPods(reference, values, at)]);
  expect(onVm).toEqual(onProm);
  expect(onVm.sort()).toEqual(VENDORED.map(p => p.name).sort());
  for (const panel of ['Top pods over the range', 'Top list complete']) {
    const q = panelQueries(dashboards).find(x => x.panel === panel);
    expect(q).toBeDefined();
    const run = async (api: QueryApi) => (await api.query(await expandPanelQuery(api, q!.expr, values, at), at))
      .map(s => `${key(s.metric)}=${s.value.toPrecision(3)}`).sort();
    const [a, b] = await Promise.all([run(vm), run(reference)]);
    expect({ panel, series: a.length }).toEqual({ panel, series: b.length });
  }
});

test('every dashboard panel query returns data from VictoriaMetrics, and instant panels equal the global Prometheus\'s', async () => {
  const empty: string[] = [];
  const differ: string[] = [];
  const queries = panelQueries(dashboards.filter(d => d.uid !== 'proxy-cost'));
  expect(queries.length).toBeGreaterThan(30);
  const values = { rangeSeconds: 10, rateIntervalSeconds: 10 };
  for (const q of queries) {
    const now = settled();
    const expr = await expandPanelQuery(vm, q.expr, values, now);
    const last = (rs: Array<{ metric: Record<string, string>; values: Array<[number, number]> }>): InstantSample[] =>
      rs.map(r => ({ metric: r.metric, value: r.values.at(-1)?.[1] ?? NaN }));
    const run = async (api: QueryApi) => q.instant ? api.query(expr, now) : last(await api.queryRange(expr, now - 10_000, now, 2));
    const [result, ref] = await Promise.all([run(vm), run(reference)]);
    const label = `${q.dashboard} / ${q.panel} / ${q.refId}`;
    if ((result.length === 0 || result.every(r => Number.isNaN(r.value)))) empty.push(label);
    if (q.instant) {
      const mr = new Map(ref.map(s => [key(s.metric), s.value]));
      for (const s of result) {
        const w = mr.get(key(s.metric));
        if (w === undefined) differ.push(`${label}: ${key(s.metric)} only on VictoriaMetrics`);
        else if (!(Math.abs(s.value - w) <= 0.02 * Math.max(Math.abs(w), 1e-9)) && !(s.value === w)) differ.push(`${label}: ${key(s.metric)} VictoriaMetrics ${s.value}, Prometheus ${w}`);
      }
      if (result.length !== ref.length) differ.push(`${label}: ${result.length} series on VictoriaMetrics, ${ref.length} on Prometheus`);
    }
  }
  expect({ empty, differ }).toEqual({ empty: [], differ: [] });
});

test('validate against VictoriaMetrics\' Prometheus API: A–D pass with figures within 2% of the truth', async () => {
  const r = await validate(httpQueryClient(vm.url), { prometheus: vm.url, window: '1m', top: 3 });
  expect({ outcome: r.outcome, message: r.message }).toEqual({ outcome: 'checked', message: undefined });
  const { A, B, C, D } = r.checks!;
  expect([A.status, B.status, C.status, D.status]).toEqual(['PASS', 'PASS', 'PASS', 'PASS']);
  for (const vendor of VENDORS) {
    const truth = sim.rates({ vendor });
    const a = A.vendors.find(v => v.vendor === vendor)!;
    expectClose(a.httpRequestsPerSecond, truth.requests, `validate A: ${vendor} HTTP requests/s`);
    expectClose(C.vendors.find(v => v.vendor === vendor)?.bytesPerSecond, truth.uploadBytes, `validate C: ${vendor}`);
    expectClose(D.vendors.find(v => v.vendor === vendor)?.bytesPerSecond, truth.downloadBytes, `validate D: ${vendor}`);
    for (const p of PODS.filter(x => x.vendor === vendor)) {
      expectClose(C.vendors.find(v => v.vendor === vendor)?.perPod.find(x => x.pod === p.name)?.bytesPerSecond, sim.rates({ pod: p.name }).uploadBytes, `validate C: ${p.name}`);
    }
  }
  const dest = (vendor: string, destination: string) => B.vendors.find(v => v.vendor === vendor)?.destinations.find(x => x.destination === destination)?.perSecond;
  expectClose(dest('vendor-b', 'example.com'), sim.rates({ vendor: 'vendor-b', destination: 'example.com' }).requests, 'validate B: vendor-b example.com');
});

test('no sample was rejected on the way to either engine', async () => {
  for (const p of shards) {
    const [failed] = await p.query('sum(prometheus_remote_storage_samples_failed_total)');
    expect(failed?.value ?? 0).toBe(0);
  }
  // Every sample VictoriaMetrics received was stored: none too old, too new or malformed.
  for (const m of ['vm_rows_ignored_total', 'vm_too_long_label_values_total']) {
    const value = await vm.metric(m).catch(() => 0);
    expect({ m, value }).toEqual({ m, value: 0 });
  }
});
