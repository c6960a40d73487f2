import * as fs from 'fs';
import { DashboardJson } from '../dashboards';
import * as path from 'path';
import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { MeshTelemetry } from '../lib/mesh-telemetry';
import { MetricsStack } from '../lib/metrics-stack';
import { shardPartial } from '../core/metric-contract';
import { RULE } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { VendorCrawler } from '../lib/vendor-crawler';
import { injectedPodTargets } from './support/pod-discovery';
import { editConfigFile, materializeConfig, productPrometheusArgs } from './support/prometheus-config';
import { expandPanelQuery, panelQueries } from '../harness/grafana-variables';
import { PrometheusProcess } from '../harness/prometheus-process';
import { KubeObject } from '../harness/kube-object';
import { CrawlerFlow } from '../harness/crawler-flows';
import { site, tlsSite, viaGateway } from './support/fleet';
import { SidecarSim } from '../harness/sidecar-sim';
import { FleetPod, contractIntent, expectClose, expectRulesHealthy, startSplitSimulator } from './support/simulated-stack';
import { tempDir } from './support/temp-dir';

/**
 * Scale-out with real processes: two shard Prometheus servers with the rendered shard configurations scrape the
 * simulated sidecars and remote-write to the global Prometheus (rendered config and rules, started with the
 * product's flags, i.e. its remote-write receiver), and all three write to two stores standing in for Mimir
 * (everything, and contract only). Every target must be scraped by exactly one shard, and the global
 * rules and the stores' totals must equal the simulator's ground truth.
 */

const NS = 'crawlers';
const SHARDS = 2;
const HISTORY_SECONDS = 420;
const SPEEDUP = 20;
const STORE_URL = 'http://store.example/api/v1/write';
const CONTRACT_STORE_URL = 'http://contract-store.example/api/v1/write';

const GATEWAY = 'gw.vendor-a.example:8000';
const http = (host: string, perSecond: number, responseCode = 200) => site(host, perSecond, { responseCode, upBytes: 400, downBytes: 15_000, durationMs: 150 });
const pod = (name: string, ip: string, vendor: string | undefined, flows: CrawlerFlow[]): FleetPod => ({ name, namespace: NS, vendor, ip, flows });
const PODS: FleetPod[] = [
  pod('crawler-vendor-a-7d9c6b5f4-a1', '127.20.0.1', 'vendor-a', [http('example.com', 8), viaGateway(GATEWAY, 'https', 'www.example.com', 5, { upBytes: 4_000, downBytes: 160_000 })]),
  pod('crawler-vendor-a-7d9c6b5f4-a2', '127.20.0.2', 'vendor-a', [http('example.com', 12)]),
  pod('crawler-vendor-a-7d9c6b5f4-a3', '127.20.0.3', 'vendor-a', [http('example.org', 4)]),
  // The only pod with errors: vendor-b's error ratio is 6 / 66 overall, but 0 or more than 6 / 66 on a shard.
  pod('crawler-vendor-b-7d9c6b5f4-b1', '127.20.0.4', 'vendor-b', [http('example.com', 30), http('example.org', 6, 404)]),
  pod('crawler-vendor-b-7d9c6b5f4-b2', '127.20.0.5', 'vendor-b', [http('example.com', 20)]),
  pod('crawler-vendor-b-7d9c6b5f4-b3', '127.20.0.6', 'vendor-b', [http('example.net', 10), tlsSite('www.wikipedia.org', 3, { upBytes: 700, downBytes: 100_000 })]),
  pod('batch-job-7d9c6b5f4-zz9yy', '127.20.0.9', undefined, [http('example.net', 7)]),
];
const VENDORED = PODS.filter(p => p.vendor);
const VENDORS = ['vendor-a', 'vendor-b'];

let sim: SidecarSim;
let shards: PrometheusProcess[] = [];
let global: PrometheusProcess;
let store: PrometheusProcess;
let contractStore: PrometheusProcess;
/** Shard of each pod, as hashmod of its target address predicts. */
let shardOf: Map<string, number>;
let objects: KubeObject[];
/** A time (ms) by which every sample up to it has reached the stores. */
let AT: number;
let dashboards: DashboardJson[];


/** Points the in-cluster URLs of the rendered remote_write entries at local processes. */
function localRemoteWrite(config: any, urls: Record<string, string>): void {
  for (const rw of config.remote_write ?? []) {
    if (!urls[rw.url]) throw new Error(`no local process for remote_write ${rw.url}`);
    rw.url = urls[rw.url];
  }
}

async function startReceiver(): Promise<PrometheusProcess> {
  const dir = tempDir('sharded-e2e');
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, YAML.stringify({ global: { scrape_interval: '1s' } }));
  return PrometheusProcess.start({ configFile, args: ['--web.enable-remote-write-receiver'] });
}

/** The rule file with the cost group's 5-minute interval shortened, so that it evaluates within this test. */
function everySecond(rulesYaml: string): string {
  const rules = YAML.parse(rulesYaml);
  for (const group of rules.groups) if (group.interval) group.interval = '1s';
  return YAML.stringify(rules, { lineWidth: 0 });
}

async function byLabels(p: PrometheusProcess, expr: string, ...labels: string[]): Promise<Map<string, number>> {
  return new Map((await p.query(expr)).map(s => [labels.map(l => s.metric[l] ?? '').join('/'), s.value]));
}

beforeAll(async () => {
  const vendors = new VendorCatalog([{ name: 'vendor-a', endpoints: [GATEWAY] }, { name: 'vendor-b' }]);
  const chart = Testing.chart();
  const mesh = new MeshTelemetry(chart, 'mesh', { vendors, namespaces: [NS] });
  const stack = new MetricsStack(chart, 'm', {
    vendors, crawlerNamespaces: [NS],
    prometheus: {
      shards: SHARDS, scrapeInterval: '1s', evaluationInterval: '1s',
      remoteWrite: [{ url: STORE_URL, name: 'store' }, { url: CONTRACT_STORE_URL, name: 'contract-store', contractOnly: true }],
    },
  });
  for (const vendor of VENDORS) new VendorCrawler(chart, vendor, { vendors, vendor, namespace: NS, replicas: 3, image: 'registry.example/crawler:1.0' });
  objects = Testing.synth(chart) as KubeObject[];
  dashboards = stack.dashboards;

  // Hashing depends on the simulator's port: take a port that splits the pods so that both vendors span both
  // shards and vendor-b's error pod shares its shard with at most one other vendor-b pod.
  let targets: ReturnType<typeof injectedPodTargets>;
  ({ sim, shardOf, targets } = await startSplitSimulator(PODS, objects, contractIntent(mesh, vendors), SHARDS, NS));

  // The stores first, so that nothing sent is lost; then the global Prometheus, then the shards.
  store = await startReceiver();
  contractStore = await startReceiver();
  const storeUrls = { [STORE_URL]: `${store.url}/api/v1/write`, [CONTRACT_STORE_URL]: `${contractStore.url}/api/v1/write` };

  const globalConfig = materializeConfig(stack.renderPrometheusConfig('prometheus'), everySecond(stack.renderRules('prometheus')), []);
  editConfigFile(globalConfig.configFile, c => localRemoteWrite(c, storeUrls));
  global = await PrometheusProcess.start({ configFile: globalConfig.configFile, args: productPrometheusArgs(objects, 'prometheus') });
  const globalWriteUrl = 'http://prometheus.monitoring.svc:9090/api/v1/write';

  for (let i = 0; i < SHARDS; i++) {
    const name = `prometheus-shard-${i}`;
    const config = materializeConfig(stack.renderPrometheusConfig(name), everySecond(stack.renderRules(name)), targets);
    editConfigFile(config.configFile, c => localRemoteWrite(c, { ...storeUrls, [globalWriteUrl]: `${global.url}/api/v1/write` }));
    shards.push(await PrometheusProcess.start({ configFile: config.configFile, args: productPrometheusArgs(objects, name) }));
  }
  const shardsReadyAt = Date.now();
  // The global Prometheus scrapes the shards' own metrics under their in-cluster names: point it at the local ones.
  editConfigFile(global.configFile, c => {
    const job = c.scrape_configs.find((j: any) => j.job_name === 'prometheus-shards');
    job.static_configs[0].targets = job.static_configs[0].targets.map((t: string) => {
      const i = Number(/^prometheus-shard-(\d+)\./.exec(t)![1]);
      return `127.0.0.1:${shards[i].port}`;
    });
  });
  await global.reload();

  await sim.waitForAllScraped(20_000);
  sim.startClock({ historySeconds: HISTORY_SECONDS, speedup: SPEEDUP });
  // Rates settle when the clock catches up; the global sums then lag by a remote-write hop (batch deadline 5 s)
  // and an evaluation, the stores' copies of them by one more hop.
  await sim.waitForCatchUp(15_000);
  // Remote write sends only samples newer than the sender's start: wait until the store holds raw samples of
  // every pod from after the shards started (at most one sample grid step later), 10 s in the past so that
  // every sample up to then has arrived (scrape, then the remote-write batch deadline of 5 s).
  await store.waitFor(async () => {
    const at = Date.now() - 10_000;
    const oldest = await store.query('min(timestamp(istio_requests_total))', at);
    const pods = await store.query('count(count by (pod) (istio_requests_total))', at);
    if (!(oldest[0]?.value * 1000 > shardsReadyAt && pods[0]?.value === PODS.length)) return false;
    AT = at;
    return true;
  }, 90_000, 'raw samples of every pod in the store');
}, 180_000);

afterAll(async () => {
  await Promise.all([...shards, global, store, contractStore].filter(Boolean).map(p => p.stop()));
  await sim?.stop();
});

test('every simulated target is up in exactly one shard, the one hashmod of its address picks', async () => {
  const scrapedBy = new Map<string, number[]>();
  for (const [i, shard] of shards.entries()) {
    const { activeTargets, droppedTargets } = await shard.targets();
    const sidecars = activeTargets.filter(t => t.labels.job === 'crawler-sidecars');
    // The destination job splits the targets alike.
    expect(activeTargets.filter(t => t.labels.job === 'crawler-destinations').map(t => t.labels.pod).sort()).toEqual(sidecars.map(t => t.labels.pod).sort());
    for (const t of sidecars) {
      expect({ pod: t.labels.pod, health: t.health }).toEqual({ pod: t.labels.pod, health: 'up' });
      scrapedBy.set(t.labels.pod, [...(scrapedBy.get(t.labels.pod) ?? []), i]);
    }
    // The other shard's sidecars are among the dropped targets, not lost to discovery.
    // (both crawler jobs drop them).
    expect(droppedTargets.filter(t => t.discoveredLabels.__meta_kubernetes_pod_container_port_name === 'http-envoy-prom')).toHaveLength(2 * (PODS.length - sidecars.length));
  }
  expect(Object.fromEntries(scrapedBy)).toEqual(Object.fromEntries(PODS.map(p => [p.name, [shardOf.get(p.name)]])));
  for (let i = 0; i < SHARDS; i++) expect([...shardOf.values()]).toContain(i);
});

test('the global Prometheus receives every shard: its rules equal the truth per vendor and per pod', async () => {
  const requests = await byLabels(global, RULE.requests, 'proxy_vendor', 'request_protocol');
  const sent = await byLabels(global, RULE.vendorSentBytes, 'proxy_vendor');
  const received = await byLabels(global, RULE.vendorReceivedBytes, 'proxy_vendor');
  const crawlerPods = await byLabels(global, RULE.crawlerPods, 'proxy_vendor');
  const inf = await byLabels(global, `${RULE.durationBuckets}{le="+Inf"}`, 'proxy_vendor');
  for (const vendor of VENDORS) {
    expectClose(requests.get(`${vendor}/http`), sim.rates({ vendor, protocol: 'http' }).requests, `${vendor} HTTP requests/s`);
    expectClose(sent.get(vendor), sim.rates({ vendor }).uploadBytes, `${vendor} upload bytes/s`);
    expectClose(received.get(vendor), sim.rates({ vendor }).downloadBytes, `${vendor} download bytes/s`);
    expectClose(inf.get(vendor), sim.rates({ vendor, protocol: 'http' }).requests, `${vendor} requests/s in the summed histogram`);
    // Pods of both shards are counted.
    expect(crawlerPods.get(vendor)).toBe(3);
  }
  expectClose(requests.get('vendor-a/tcp'), sim.rates({ vendor: 'vendor-a', protocol: 'tcp' }).connections, 'vendor-a connections/s');

  // Pod-level series come from the shard that scrapes the pod, labelled with it, once each.
  const podSent = await global.query(RULE.podSentBytes);
  expect(podSent.map(s => s.metric.pod).sort()).toEqual(VENDORED.map(p => p.name).sort());
  for (const s of podSent) {
    expect(s.metric.prometheus_shard).toBe(String(shardOf.get(s.metric.pod)));
    expectClose(s.value, sim.rates({ pod: s.metric.pod }).uploadBytes, `${s.metric.pod} upload bytes/s`);
  }
  const unattributed = await byLabels(global, RULE.unattributedBytes, 'namespace');
  const decoy = sim.rates({ vendor: null });
  expectClose(unattributed.get(NS), decoy.uploadBytes + decoy.downloadBytes, 'unattributed bytes/s');

  await expectRulesHealthy(global);
});

test('the error ratio is the ratio of global sums, which no sum of shard ratios gives', async () => {
  const truth = sim.rates({ vendor: 'vendor-b', destination: 'example.org' }).requests / sim.rates({ vendor: 'vendor-b', protocol: 'http' }).requests;
  const ratio = await byLabels(global, RULE.errorRatio, 'proxy_vendor');
  expectClose(ratio.get('vendor-b'), truth, 'vendor-b error ratio');
  expect(ratio.get('vendor-a')).toBe(0);

  // What each shard alone sees of vendor-b: one shard has all the errors, the other none.
  const partial = shardPartial(RULE.responseCodes);
  const shardRatios = await Promise.all(shards.map(async shard => {
    const codes = await shard.query(`sum by (response_code) (${partial}{proxy_vendor="vendor-b"})`);
    const total = codes.reduce((sum, s) => sum + s.value, 0);
    return total === 0 ? 0 : codes.filter(s => /^[45]/.test(s.metric.response_code)).reduce((sum, s) => sum + s.value, 0) / total;
  }));
  const sumOfShardRatios = shardRatios.reduce((a, b) => a + b, 0);
  expect(Math.abs(sumOfShardRatios - truth) / truth).toBeGreaterThan(0.1);
});

test('the store receives each raw series once, from its shard: cumulative totals per pod and vendor equal the truth', async () => {
  // All pods serve the same sample grid: at AT, every raw series' latest sample has one timestamp.
  const [first, last] = await Promise.all(['min', 'max'].map(f => store.query(`${f}(timestamp(istio_requests_total) or timestamp(istio_tcp_sent_bytes_total))`, AT)));
  expect(first[0].value).toBe(last[0].value);
  const sampledAt = first[0].value * 1000;
  for (const pod of PODS) {
    const sel = `pod="${pod.name}", reporter="source"`;
    const [requests] = await store.query(`sum(istio_requests_total{${sel}})`, AT);
    const [upload] = await store.query(`sum({__name__=~"istio_request_bytes_sum|istio_tcp_received_bytes_total", ${sel}})`, AT);
    const [download] = await store.query(`sum({__name__=~"istio_response_bytes_sum|istio_tcp_sent_bytes_total", ${sel}})`, AT);
    const truth = sim.totals({ pod: pod.name }, sampledAt);
    expectClose(requests?.value, truth.requests, `${pod.name} requests (total)`);
    expectClose(upload?.value, truth.uploadBytes, `${pod.name} upload bytes (total)`);
    expectClose(download?.value, truth.downloadBytes, `${pod.name} download bytes (total)`);
    // Sent by the pod's shard only.
    const shardLabels = await store.query(`count by (prometheus_shard) ({__name__=~"istio_.+", ${sel}})`, AT);
    expect(shardLabels.map(s => s.metric.prometheus_shard)).toEqual([String(shardOf.get(pod.name))]);
  }
  for (const vendor of VENDORS) {
    const [requests] = await store.query(`sum(istio_requests_total{proxy_vendor="${vendor}", reporter="source"})`, AT);
    const [upload] = await store.query(`sum({__name__=~"istio_request_bytes_sum|istio_tcp_received_bytes_total", proxy_vendor="${vendor}", reporter="source"})`, AT);
    expectClose(requests?.value, sim.totals({ vendor }, sampledAt).requests, `${vendor} requests (total)`);
    expectClose(upload?.value, sim.totals({ vendor }, sampledAt).uploadBytes, `${vendor} upload bytes (total)`);
  }
});

test('the store gets the global totals once and no shard partials; the contract store gets the contract only', async () => {
  for (const target of [store, contractStore]) {
    const requests = await target.query(RULE.requests);
    expect(requests.map(s => `${s.metric.proxy_vendor}/${s.metric.request_protocol}`).sort()).toEqual(['vendor-a/http', 'vendor-a/tcp', 'vendor-b/http', 'vendor-b/tcp']);
    for (const s of requests) {
      expect(s.metric.prometheus_shard).toBeUndefined();
      expectClose(s.value, sim.rates({ vendor: s.metric.proxy_vendor, protocol: s.metric.request_protocol as 'http' | 'tcp' })[s.metric.request_protocol === 'http' ? 'requests' : 'connections'], `stored ${s.metric.proxy_vendor} ${s.metric.request_protocol}`);
    }
    const podSent = await byLabels(target, RULE.podSentBytes, 'pod');
    expect([...podSent.keys()].sort()).toEqual(VENDORED.map(p => p.name).sort());
    for (const pod of VENDORED) expectClose(podSent.get(pod.name), sim.rates({ pod: pod.name }).uploadBytes, `stored ${pod.name} upload bytes/s`);
    expect(await target.query('count({__name__=~".+_shard:.+"})')).toEqual([]);
    expect((await target.query('count(up{job="crawler-sidecars"})'))[0].value).toBe(PODS.length);
  }
  expect(await contractStore.query('count({__name__=~"istio_.+"})')).toEqual([]);
  expect(await contractStore.query('count(up{job!~"crawler-sidecars|crawler-destinations"})')).toEqual([]);
  expect((await contractStore.query('count(up{job="crawler-destinations"})'))[0].value).toBe(PODS.length);
  expect((await store.query('count({__name__=~"istio_.+"})'))[0].value).toBeGreaterThan(0);
});

test('no sample was rejected on the way, and the global Prometheus sees both shards up', async () => {
  for (const p of [...shards, global]) {
    const [failed] = await p.query('sum(prometheus_remote_storage_samples_failed_total)');
    expect(failed?.value ?? 0).toBe(0);
  }
  const up = await global.query('up{job="prometheus-shards"}');
  expect(up.map(s => s.value)).toEqual(Array(SHARDS).fill(1));
  const alerts = (await global.rules()).flatMap(g => g.rules).filter(r => r.type === 'alerting' && r.state !== 'inactive').map(r => r.name);
  expect(alerts.filter(a => a.startsWith('Prometheus'))).toEqual([]);
});

test('every dashboard panel query returns data from the global Prometheus (the cost dashboard needs prices, which this model has none of)', async () => {
  const empty: string[] = [];
  const queries = panelQueries(dashboards.filter(d => d.uid !== 'proxy-cost'));
  expect(queries.length).toBeGreaterThan(30);
  for (const q of queries) {
    const now = Date.now();
    const expr = await expandPanelQuery(global, q.expr, { rangeSeconds: 10, rateIntervalSeconds: 10 }, now);
    const result = q.instant ? await global.query(expr, now) : (await global.queryRange(expr, Date.now() - 10_000, Date.now(), 2)).map(r => ({ value: r.values.at(-1)?.[1] ?? NaN }));
    if (result.length === 0 || result.every(r => Number.isNaN(r.value))) empty.push(`${q.dashboard} / ${q.panel} / ${q.refId}`);
  }
  expect(empty).toEqual([]);
});
