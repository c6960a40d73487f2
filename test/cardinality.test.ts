import * as fs from 'fs';
import * as YAML from 'yaml';
import { MeshTelemetry, MetricTags } from '../lib/mesh-telemetry';
import { DESTINATION_SCRAPE_JOB, ISTIO, NOT_MEASURED_DESTINATION, SCRAPE_JOB, SCRAPED_SERIES } from '../core/metric-contract';
import { RULE } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { SidecarModel } from '../harness/istio-sidecar';
import { PanelQuery, expandPanelQuery, panelQueries } from '../harness/grafana-variables';
import { PrometheusProcess } from '../harness/prometheus-process';
import { MetricRelabel, applyMetricRelabel, broadPod, exposedSeries, floorSeriesPerPod, realisticPod } from '../harness/realistic-sidecar';
import { KubeObject } from '../harness/kube-object';
import { SidecarSim } from '../harness/sidecar-sim';
import { byLabels, expectClose, runAccelerated, startSimulatedStack } from './support/simulated-stack';
import { synthChart } from './support/synth';

/**
 * Series per crawler pod, scraped by a real Prometheus with the product's two crawler jobs, on realistic sidecar
 * expositions (Istio's full tag set, every histogram bucket, Envoy's own stats):
 * - pods reaching 20 destinations: before (Istio's standard tags, nothing dropped), with the keep-lists only, with
 *   MeshTelemetry's tag removal; dropping labels merges no series and totals equal the simulator's truth;
 * - a broad crawler reaching 8,000 HTTPS sites at 3 connections an hour each: its totals cost what a narrow pod's do,
 *   its A, C and D equal the truth, its destinations are measured and bounded;
 * - a crawler reaching 25,000 sites: over the destination sample limit, its destinations go unmeasured, visibly
 *   ("(not measured)"), while its totals stay exact;
 * - the control: the same broad crawler behind a sidecar that puts the server name on every TCP metric (how the
 *   stack was built before): its totals scrape exceeds the limit and its bytes are lost.
 */

const NS = 'crawlers';
const GATEWAY = 'gw.vendor-a.example:8000';
const vendors = new VendorCatalog([{ name: 'vendor-a', endpoints: [GATEWAY] }, { name: 'vendor-b' }, { name: 'broad' }, { name: 'huge' }, { name: 'control' }]);
const BROAD_SITES = 8_000;
const HUGE_SITES = 25_000;

const meshObjects = (metricTags: MetricTags) => synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors, metricTags }));
/** Crawler sidecars as MeshTelemetry's synthesized objects configure them. */
const sidecar = (metricTags: MetricTags) => SidecarModel.fromObjects(meshObjects(metricTags), NS);
/** The control's sidecars: destination_sni on every TCP metric, as the stack's Telemetry had it before. */
function sniOnEveryTcpMetric(): SidecarModel {
  const objects = meshObjects('minimal').map((o: KubeObject) => o.kind !== 'Telemetry' ? o : {
    ...o,
    spec: {
      metrics: o.spec.metrics.map((m: any) => ({
        ...m,
        overrides: [...m.overrides, ...['TCP_OPENED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES'].map(metric => ({
          match: { metric, mode: 'CLIENT' }, tagOverrides: { destination_sni: { operation: 'UPSERT', value: 'connection.requested_server_name' } },
        }))],
      })),
    },
  });
  return SidecarModel.fromObjects(objects, NS);
}

const hosts = (v: string) => Array.from({ length: 19 }, (_, i) => `www.site${i}-${v}.example.com`);
const minimal = sidecar('minimal');
const PODS = [
  realisticPod({ name: 'crawler-vendor-a-7d9c6b5f4-min01', vendor: 'vendor-a', ip: '127.30.0.1', destinations: hosts('a'), gateway: GATEWAY, sidecar: minimal }),
  realisticPod({ name: 'crawler-vendor-b-7d9c6b5f4-min02', vendor: 'vendor-b', ip: '127.30.0.2', destinations: hosts('b'), scale: 2, sidecar: minimal }),
  realisticPod({ name: 'crawler-vendor-a-7d9c6b5f4-std01', vendor: 'vendor-a', ip: '127.30.0.3', destinations: hosts('a'), gateway: GATEWAY, scale: 3, sidecar: sidecar('standard') }),
  realisticPod({ name: 'crawler-vendor-b-7d9c6b5f4-std02', vendor: 'vendor-b', ip: '127.30.0.4', destinations: hosts('b'), sidecar: sidecar('standard') }),
  broadPod({ name: 'crawler-broad-7d9c6b5f4-brd01', vendor: 'broad', ip: '127.30.0.5', sites: BROAD_SITES, connectionsPerHour: 3, sidecar: minimal }),
  broadPod({ name: 'crawler-huge-7d9c6b5f4-hug01', vendor: 'huge', ip: '127.30.0.6', sites: HUGE_SITES, connectionsPerHour: 3, sidecar: minimal }),
  broadPod({ name: 'crawler-control-7d9c6b5f4-ctl01', vendor: 'control', ip: '127.30.0.7', sites: BROAD_SITES, connectionsPerHour: 3, sidecar: sniOnEveryTcpMetric() }),
];
const [MIN_A, MIN_B, STD_A, , BROAD, HUGE, CONTROL] = PODS;
const NARROW = [MIN_A, MIN_B, STD_A, PODS[3]];
const COLLISION_JOB = 'labeldrop-control';

let sim: SidecarSim;
let prom: PrometheusProcess;
let metricRelabel: Record<string, MetricRelabel[]>;
let rulesYaml: string;
let sampleLimits: Record<string, number>;
let panels: PanelQuery[];

beforeAll(async () => {
  const started = await startSimulatedStack(PODS, { vendors, namespace: NS });
  sim = started.sim;
  rulesYaml = started.stack.renderRules();
  panels = panelQueries(started.stack.dashboards);
  const config = YAML.parse(fs.readFileSync(started.config.configFile, 'utf8'));
  const job = (name: string) => config.scrape_configs.find((j: any) => j.job_name === name);
  metricRelabel = Object.fromEntries([SCRAPE_JOB, DESTINATION_SCRAPE_JOB].map(name => [name, job(name).metric_relabel_configs]));
  sampleLimits = Object.fromEntries([SCRAPE_JOB, DESTINATION_SCRAPE_JOB].map(name => [name, job(name).sample_limit]));
  // A control job over the same targets that drops the labels which tell hosts apart: the checks below must see
  // its collisions. Its series are renamed so that no rule reads them.
  config.scrape_configs.push({
    ...job(DESTINATION_SCRAPE_JOB), job_name: COLLISION_JOB, sample_limit: 100_000,
    metric_relabel_configs: [
      ...job(DESTINATION_SCRAPE_JOB).metric_relabel_configs,
      { regex: 'destination_service|destination_host|destination_sni', action: 'labeldrop' },
      { source_labels: ['__name__'], regex: '(.*)', target_label: '__name__', replacement: 'control_$1', action: 'replace' },
    ],
  });
  fs.writeFileSync(started.config.configFile, YAML.stringify(config));
  prom = await runAccelerated(sim, started.config.configFile);
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await sim?.stop();
});

const perPod = (expr: string) => byLabels(prom, expr, 'pod');

test('series per pod: before, keep-lists only, with Istio tag removal, and the floor; above the floor only fixed extras', async () => {
  const scraped = await perPod(`scrape_samples_scraped{job="${SCRAPE_JOB}"}`);
  const totals = await perPod(`scrape_samples_post_metric_relabeling{job="${SCRAPE_JOB}"}`);
  const destinations = await perPod(`scrape_samples_post_metric_relabeling{job="${DESTINATION_SCRAPE_JOB}"}`);
  const kept = (pod: string) => totals.get(pod)! + destinations.get(pod)!;
  const floor = floorSeriesPerPod(MIN_A, sim.intent);
  const figures = {
    floor,
    before: scraped.get(STD_A.name)!,
    keepListOnly: kept(STD_A.name),
    sidecarMinimal: scraped.get(MIN_A.name)!,
    after: kept(MIN_A.name),
  };
  // eslint-disable-next-line no-console
  console.log(`series per crawler pod (${MIN_A.flows.filter(f => f.kind === 'http').length} HTTP host×code flows, ${MIN_A.flows.filter(f => f.kind !== 'http').length} TLS and tunnel flows, 20 destinations): `
    + `before ${figures.before}, keep-lists only ${figures.keepListOnly}, sidecar with minimal tags ${figures.sidecarMinimal}, `
    + `after ${figures.after} = totals ${totals.get(MIN_A.name)} + destinations ${destinations.get(MIN_A.name)} (+5 scrape series per job), `
    + `floor ${floor}, after/floor ${(figures.after / floor).toFixed(2)}`);

  // The floor of this pod: 20 destinations (12 HTTP, 6 SNI, "unknown", the gateway), 2 protocols, upload, download.
  expect(floor).toBe(24);
  expect(figures.after).toBeGreaterThanOrEqual(floor);
  // Above the floor only fixed extras, whatever the destinations: 20 latency buckets, a request count and size per
  // response code (6 codes), TCP totals per destination_service ("unknown" and the gateway).
  expect(figures.after - floor).toBeLessThanOrEqual(20 + 2 * 6 + 3 * 2);
  // Per destination exactly one series: HTTP hosts in istio_requests_total, TLS, gateway and "unknown" in closed connections.
  expect(destinations.get(MIN_A.name)).toBe(20);
  // The sidecar with standard tags exposes the same traffic in many more series.
  expect(figures.before).toBeGreaterThan(10 * figures.after);
  expect(figures.keepListOnly).toBeLessThan(figures.before);
  // Same flows, same series count once the scrape jobs have filtered: the tag removal only merges what the keep-lists then need.
  expect(exposedSeries(MIN_A).length).toBe(figures.sidecarMinimal);
});

test('a pod\'s totals cost the same whatever it crawls: 20, 8,000 or 25,000 destinations', async () => {
  const totals = await perPod(`scrape_samples_post_metric_relabeling{job="${SCRAPE_JOB}"}`);
  const destinations = await perPod(`scrape_samples_post_metric_relabeling{job="${DESTINATION_SCRAPE_JOB}"}`);
  // eslint-disable-next-line no-console
  console.log(`totals per pod: 20 destinations ${totals.get(MIN_B.name)}, ${BROAD_SITES} sites ${totals.get(BROAD.name)}, ${HUGE_SITES} sites ${totals.get(HUGE.name)}; `
    + `destination samples: ${destinations.get(MIN_B.name)}, ${destinations.get(BROAD.name)}, ${destinations.get(HUGE.name)} (limit ${sampleLimits[DESTINATION_SCRAPE_JOB]})`);
  expect(totals.get(BROAD.name)).toBe(totals.get(HUGE.name));
  expect(totals.get(BROAD.name)!).toBeLessThanOrEqual(totals.get(MIN_B.name)!);
  expect(totals.get(BROAD.name)!).toBeLessThan(50);
  // One destination series per site and HTTP host, plus "unknown".
  expect(destinations.get(BROAD.name)).toBe(BROAD_SITES + 3);
  expect(destinations.get(HUGE.name)).toBe(HUGE_SITES + 3);
});

/**
 * Waits for two successive evaluations of the destination rules that report the same sum for `vendor`: after the
 * accelerated start their 5-minute rates still rise for a few evaluations, and a busy machine stretches those.
 */
async function destinationRulesSettled(vendor: string): Promise<void> {
  const selector = `${RULE.destinationRequests}{proxy_vendor="${vendor}"}`;
  let last: { at: number; sum: number } | undefined;
  await prom.waitFor(async () => {
    const [sum] = await prom.query(`sum(${selector})`);
    const [at] = await prom.query(`max(timestamp(${selector}))`);
    if (!sum || !at || (last && at.value <= last.at)) return false;
    const settled = last !== undefined && Math.abs(sum.value - last.sum) <= 1e-3 * last.sum;
    last = { at: at.value, sum: sum.value };
    return settled;
  }, 60_000, `two equal evaluations of the destination rules of ${vendor}`, 250);
}

test('the broad crawler (8,000 HTTPS sites): A, C and D equal the truth; its destinations are measured, bounded and add up', async () => {
  await destinationRulesSettled('broad');
  const at = Date.now();
  const truth = sim.rates({ pod: BROAD.name });
  const pod = `{pod="${BROAD.name}"}`;
  const requests = await byLabels(prom, `${RULE.podRequests}${pod}`, 'request_protocol');
  expectClose(requests.get('http'), truth.requests, 'broad HTTP requests/s');
  expectClose(requests.get('tcp'), truth.connections, 'broad TLS connections/s');
  expectClose((await prom.query(`${RULE.podSentBytes}${pod}`, at))[0]?.value, truth.uploadBytes, 'broad upload bytes/s');
  expectClose((await prom.query(`${RULE.podReceivedBytes}${pod}`, at))[0]?.value, truth.downloadBytes, 'broad download bytes/s');
  expect((await prom.query(`up{job="${DESTINATION_SCRAPE_JOB}", pod="${BROAD.name}"}`, at))[0]?.value).toBe(1);
  // The destination rule keeps the top 200 per vendor and protocol and sums the rest into "(other)": nothing lost.
  const destinations = await prom.query(`${RULE.destinationRequests}{proxy_vendor="broad"}`, at);
  const tcp = destinations.filter(s => s.metric.request_protocol === 'tcp');
  expect(tcp.length).toBe(201);
  expect(tcp.some(s => s.metric.destination === '(other)')).toBe(true);
  expectClose(tcp.reduce((n, s) => n + s.value, 0), truth.connections, 'broad TLS connections/s over its destinations');
  expectClose(destinations.filter(s => s.metric.request_protocol === 'http').reduce((n, s) => n + s.value, 0), truth.requests, 'broad HTTP requests/s over its destinations');
  // The Bandwidth dashboard shows its bytes, per vendor and per pod.
  const panel = (title: string, refId: string) => panels.find(q => q.panel === title && q.refId === refId)!.expr;
  const run = async (title: string, refId: string, values: Record<string, string[]>) =>
    (await prom.query(await expandPanelQuery(prom, panel(title, refId), { rangeSeconds: 60, rateIntervalSeconds: 10, ...values }, at), at));
  expectClose((await run('Bytes/s per vendor', 'B', { vendor: ['broad'] }))[0]?.value, truth.downloadBytes, 'Bandwidth: broad download bytes/s');
  const perPod = await run('Bytes/s per pod', 'A', { vendor: ['broad'] });
  expect(perPod.map(s => s.metric.pod)).toEqual([BROAD.name]);
  expectClose(perPod[0]?.value, truth.uploadBytes, 'Bandwidth: broad pod upload bytes/s');
});

test('25,000 sites: the destination scrape fails and says so ("(not measured)", the alert\'s condition); totals stay exact', async () => {
  await destinationRulesSettled('huge');
  const at = Date.now();
  const truth = sim.rates({ pod: HUGE.name });
  const pod = `{pod="${HUGE.name}"}`;
  expect((await prom.query(`up{job="${DESTINATION_SCRAPE_JOB}", pod="${HUGE.name}"}`, at))[0]?.value).toBe(0);
  expect((await prom.query(`up{job="${SCRAPE_JOB}", pod="${HUGE.name}"}`, at))[0]?.value).toBe(1);
  expectClose((await prom.query(`${RULE.podSentBytes}${pod}`, at))[0]?.value, truth.uploadBytes, 'huge upload bytes/s');
  expectClose((await prom.query(`${RULE.podReceivedBytes}${pod}`, at))[0]?.value, truth.downloadBytes, 'huge download bytes/s');
  const destinations = await byLabels(prom, `${RULE.destinationRequests}{proxy_vendor="huge"}`, 'destination', 'request_protocol');
  expect([...destinations.keys()].sort()).toEqual([`${NOT_MEASURED_DESTINATION}/http`, `${NOT_MEASURED_DESTINATION}/tcp`]);
  expectClose(destinations.get(`${NOT_MEASURED_DESTINATION}/tcp`), truth.connections, 'huge connections/s, not measured per destination');
  expectClose(destinations.get(`${NOT_MEASURED_DESTINATION}/http`), truth.requests, 'huge requests/s, not measured per destination');
  // CrawlerDestinationsNotMeasured's expression selects exactly this pod.
  const alert = YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === 'CrawlerDestinationsNotMeasured');
  expect((await prom.query(alert.expr, at)).map(s => s.metric.pod)).toEqual([HUGE.name]);
});

test('control: with the server name on every TCP metric, the same broad crawler\'s totals scrape exceeds the limit and its bytes are lost', async () => {
  const at = Date.now();
  const samples = await perPod(`scrape_samples_post_metric_relabeling{job="${SCRAPE_JOB}"}`);
  expect(samples.get(CONTROL.name)!).toBeGreaterThan(sampleLimits[SCRAPE_JOB]);
  expect((await prom.query(`up{job="${SCRAPE_JOB}", pod="${CONTROL.name}"}`, at))[0]?.value).toBe(0);
  const truth = sim.rates({ pod: CONTROL.name });
  const sent = (await prom.query(`${RULE.podSentBytes}{pod="${CONTROL.name}"}`, at))[0]?.value;
  expect(() => expectClose(sent, truth.uploadBytes, 'control upload bytes/s')).toThrow('no result');
  const alert = YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === 'CrawlerSidecarSampleLimitExceeded');
  expect((await prom.query(alert.expr, at)).map(s => s.metric.pod)).toEqual([CONTROL.name]);
});

test('no two scraped series collide: every series kept after relabeling is stored (and the control job shows a collision is seen)', async () => {
  for (const job of [SCRAPE_JOB, DESTINATION_SCRAPE_JOB]) {
    const kept = await perPod(`scrape_samples_post_metric_relabeling{job="${job}"}`);
    const stored = await perPod(`count by (pod) ({job="${job}", __name__=~"istio_.+"})`);
    for (const pod of NARROW) expect({ job, pod: pod.name, stored: stored.get(pod.name) }).toEqual({ job, pod: pod.name, stored: kept.get(pod.name) });
  }
  // The control job drops the host labels: series of different hosts become identical and are lost.
  const controlKept = await perPod(`scrape_samples_post_metric_relabeling{job="${COLLISION_JOB}"}`);
  const controlStored = await perPod(`count by (pod) ({job="${COLLISION_JOB}", __name__=~"control_istio_.+"})`);
  for (const pod of NARROW) expect(controlStored.get(pod.name)!).toBeLessThan(controlKept.get(pod.name)!);
  const duplicates = await prom.query('sum(prometheus_target_scrapes_sample_duplicate_timestamp_total)');
  expect(duplicates[0].value).toBeGreaterThan(0);
});

test('the benchmark\'s model of the keep-lists yields exactly the series the real Prometheus stores', async () => {
  for (const pod of [MIN_A, STD_A]) {
    for (const job of [SCRAPE_JOB, DESTINATION_SCRAPE_JOB]) {
      const model = applyMetricRelabel(exposedSeries(pod), metricRelabel[job])
        .map(s => JSON.stringify([s.name, Object.entries(s.labels).sort()])).sort();
      const real = (await prom.query(`{job="${job}", pod="${pod.name}", __name__=~"istio_.+"}`))
        .map(s => {
          const { __name__, job: j, instance, namespace, pod: p, proxy_vendor, ...rest } = s.metric;
          void j; void instance; void namespace; void p; void proxy_vendor;
          return JSON.stringify([__name__, Object.entries(rest).sort()]);
        }).sort();
      const onlyReal = real.filter(x => !model.includes(x));
      const onlyModel = model.filter(x => !real.includes(x));
      expect({ job, pod: pod.name, onlyReal: onlyReal.slice(0, 3), onlyModel: onlyModel.slice(0, 3), count: real.length })
        .toEqual({ job, pod: pod.name, onlyReal: [], onlyModel: [], count: model.length });
    }
  }
});

test('the keep-lists hold exactly the Istio series the rules read', () => {
  const rules = YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules.map((r: any) => r.expr as string)).join('\n');
  for (const name of SCRAPED_SERIES) expect({ name, read: rules.includes(name) }).toEqual({ name, read: true });
  const read = new Set(rules.match(/istio_[a-z_]+/g));
  expect([...read].sort()).toEqual([...SCRAPED_SERIES].sort());
  expect(SCRAPED_SERIES).toContain(ISTIO.tcpClosed);
});

test('totals per vendor, pod and destination still equal the truth, with and without the Istio tag removal', async () => {
  const at = Date.now();
  for (const pod of NARROW) {
    const sent = await prom.query(`${RULE.podSentBytes}{pod="${pod.name}"}`, at);
    const received = await prom.query(`${RULE.podReceivedBytes}{pod="${pod.name}"}`, at);
    expectClose(sent[0]?.value, sim.rates({ pod: pod.name }).uploadBytes, `${pod.name} upload`);
    expectClose(received[0]?.value, sim.rates({ pod: pod.name }).downloadBytes, `${pod.name} download`);
  }
  const requests = await prom.query(RULE.destinationRequests, at);
  let checked = 0;
  for (const vendor of ['vendor-a', 'vendor-b']) {
    for (const [key, value] of sim.perDestination({ vendor })) {
      const [destination, protocol] = key.split('/');
      expectClose(requests.find(s => s.metric.proxy_vendor === vendor && s.metric.destination === destination && s.metric.request_protocol === protocol)?.value, value, `${vendor} ${key}`);
      checked++;
    }
  }
  expect(checked).toBe(39);
  const perVendor = await prom.query(RULE.requests, at);
  for (const vendor of ['vendor-a', 'vendor-b']) {
    expectClose(perVendor.find(s => s.metric.proxy_vendor === vendor && s.metric.request_protocol === 'http')?.value, sim.rates({ vendor, protocol: 'http' }).requests, `${vendor} HTTP requests/s`);
  }
});
