import * as fs from 'fs';
import * as YAML from 'yaml';
import { MeshTelemetry, MetricTags } from '../lib/mesh-telemetry';
import { ISTIO, RULE } from '../lib/metric-contract';
import { KEPT_METRICS } from '../lib/prometheus/scrape-config';
import { VendorCatalog } from '../lib/vendor';
import { SidecarModel } from './support/istio-sidecar';
import { PrometheusProcess } from './support/prometheus-process';
import { MetricRelabel, applyMetricRelabel, exposedSeries, floorSeriesPerPod, realisticPod } from './support/realistic-sidecar';
import { SidecarSim } from './support/sidecar-sim';
import { expectClose, runAccelerated, startSimulatedStack } from './support/simulated-stack';
import { synthChart } from './support/synth';

/**
 * Series per crawler pod on a realistic sidecar exposition (Istio's full tag set, 20 destinations, several
 * response codes, every histogram bucket, Envoy's own stats), scraped by a real Prometheus with the product's
 * config: before (Istio's standard tags, nothing dropped), with the scrape keep-list only, and with the keep-list
 * plus MeshTelemetry's tag removal. Proves that dropping labels merges no series and that totals per vendor,
 * pod and destination still equal the simulator's truth.
 */

const NS = 'crawlers';
const GATEWAY = 'gw.vendor-a.example:8000';
const vendors = new VendorCatalog([{ name: 'vendor-a', endpoints: [GATEWAY] }, { name: 'vendor-b' }]);

/** Crawler sidecars as MeshTelemetry's synthesized objects configure them. */
function sidecar(metricTags: MetricTags): SidecarModel {
  return SidecarModel.fromObjects(synthChart(chart => new MeshTelemetry(chart, 'mesh', { vendors, metricTags })), NS);
}

const hosts = (v: string) => Array.from({ length: 19 }, (_, i) => `www.site${i}-${v}.example.com`);
const PODS = [
  realisticPod({ name: 'crawler-vendor-a-7d9c6b5f4-min01', vendor: 'vendor-a', ip: '127.30.0.1', destinations: hosts('a'), gateway: GATEWAY, sidecar: sidecar('minimal') }),
  realisticPod({ name: 'crawler-vendor-b-7d9c6b5f4-min02', vendor: 'vendor-b', ip: '127.30.0.2', destinations: hosts('b'), scale: 2, sidecar: sidecar('minimal') }),
  realisticPod({ name: 'crawler-vendor-a-7d9c6b5f4-std01', vendor: 'vendor-a', ip: '127.30.0.3', destinations: hosts('a'), gateway: GATEWAY, scale: 3, sidecar: sidecar('standard') }),
  realisticPod({ name: 'crawler-vendor-b-7d9c6b5f4-std02', vendor: 'vendor-b', ip: '127.30.0.4', destinations: hosts('b'), sidecar: sidecar('standard') }),
];
const [MIN_A, , STD_A] = PODS;
const CONTROL_JOB = 'labeldrop-control';

let sim: SidecarSim;
let prom: PrometheusProcess;
let configDir: string;
let metricRelabel: MetricRelabel[];
let rulesYaml: string;

beforeAll(async () => {
  const started = await startSimulatedStack(PODS, { vendors, namespace: NS });
  sim = started.sim;
  configDir = started.config.dir;
  rulesYaml = started.stack.renderRules();
  // A control job over the same targets that drops the labels which tell hosts apart (destination_service and
  // destination_host):
  // the checks below must see its collisions. Its series are renamed so that no rule reads them.
  const config = YAML.parse(fs.readFileSync(started.config.configFile, 'utf8'));
  const job = config.scrape_configs.find((j: any) => j.job_name === 'crawler-sidecars');
  metricRelabel = job.metric_relabel_configs;
  config.scrape_configs.push({
    ...job, job_name: CONTROL_JOB,
    metric_relabel_configs: [
      ...job.metric_relabel_configs,
      { regex: 'destination_service|destination_host', action: 'labeldrop' },
      { source_labels: ['__name__'], regex: '(.*)', target_label: '__name__', replacement: 'control_$1', action: 'replace' },
    ],
  });
  fs.writeFileSync(started.config.configFile, YAML.stringify(config));
  prom = await runAccelerated(sim, started.config.configFile);
}, 90_000);

afterAll(async () => {
  await prom?.stop();
  await sim?.stop();
  if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
});

async function perPod(expr: string): Promise<Map<string, number>> {
  return new Map((await prom.query(expr)).map(s => [s.metric.pod, s.value]));
}

test('series per pod: before, keep-list only, keep-list + Istio tag removal, and the floor; after ≤ 2 × floor', async () => {
  const scraped = await perPod('scrape_samples_scraped{job="crawler-sidecars"}');
  const kept = await perPod('scrape_samples_post_metric_relabeling{job="crawler-sidecars"}');
  const floor = floorSeriesPerPod(MIN_A, sim.intent);
  const figures = {
    floor,
    before: scraped.get(STD_A.name)!,
    keepListOnly: kept.get(STD_A.name)!,
    sidecarMinimal: scraped.get(MIN_A.name)!,
    after: kept.get(MIN_A.name)!,
  };
  // eslint-disable-next-line no-console
  console.log(`series per crawler pod (${MIN_A.flows.filter(f => f.kind === 'http').length} HTTP host×code flows, ${MIN_A.flows.filter(f => f.kind !== 'http').length} TLS and tunnel flows, 20 destinations): `
    + `before ${figures.before}, keep-list only ${figures.keepListOnly}, sidecar with minimal tags ${figures.sidecarMinimal}, `
    + `after ${figures.after} (+5 scrape series), floor ${floor}, after/floor ${(figures.after / floor).toFixed(2)}`);

  // The floor of this pod: 20 destinations (12 HTTP, 6 SNI, "unknown", the gateway) × 3 counters.
  expect(floor).toBe(60);
  expect(figures.after).toBeLessThanOrEqual(2 * floor);
  expect(figures.after).toBeGreaterThanOrEqual(floor);
  // The sidecar with standard tags exposes the same traffic in many more series.
  expect(figures.before).toBeGreaterThan(10 * figures.after);
  expect(figures.keepListOnly).toBeLessThan(figures.before);
  // Same flows, same series count once the scrape job has filtered: the tag removal only merges what the keep-list then needs.
  expect(exposedSeries(MIN_A).length).toBe(figures.sidecarMinimal);
});

test('no two scraped series collide: every series kept after relabeling is stored (and the control job shows a collision is seen)', async () => {
  const kept = await perPod('scrape_samples_post_metric_relabeling{job="crawler-sidecars"}');
  const stored = await perPod('count by (pod) ({job="crawler-sidecars", __name__=~"istio_.+"})');
  expect([...stored.keys()].sort()).toEqual(PODS.map(p => p.name).sort());
  for (const pod of PODS) expect({ pod: pod.name, stored: stored.get(pod.name) }).toEqual({ pod: pod.name, stored: kept.get(pod.name) });

  // The control job drops the host labels: series of different hosts become identical and are lost.
  const controlKept = await perPod(`scrape_samples_post_metric_relabeling{job="${CONTROL_JOB}"}`);
  const controlStored = await perPod(`count by (pod) ({job="${CONTROL_JOB}", __name__=~"control_istio_.+"})`);
  for (const pod of PODS) expect(controlStored.get(pod.name)!).toBeLessThan(controlKept.get(pod.name)!);
  const duplicates = await prom.query('sum(prometheus_target_scrapes_sample_duplicate_timestamp_total)');
  expect(duplicates[0].value).toBeGreaterThan(0);
});

test('the benchmark\'s model of the keep-list yields exactly the series the real Prometheus stores', async () => {
  for (const pod of [MIN_A, STD_A]) {
    const model = applyMetricRelabel(exposedSeries(pod), metricRelabel)
      .map(s => JSON.stringify([s.name, Object.entries(s.labels).sort()])).sort();
    const real = (await prom.query(`{job="crawler-sidecars", pod="${pod.name}", __name__=~"istio_.+"}`))
      .map(s => {
        const { __name__, job, instance, namespace, pod: p, proxy_vendor, ...rest } = s.metric;
        void job; void instance; void namespace; void p; void proxy_vendor;
        return JSON.stringify([__name__, Object.entries(rest).sort()]);
      }).sort();
    const onlyReal = real.filter(x => !model.includes(x));
    const onlyModel = model.filter(x => !real.includes(x));
    expect({ pod: pod.name, onlyReal: onlyReal.slice(0, 3), onlyModel: onlyModel.slice(0, 3), count: real.length }).toEqual({ pod: pod.name, onlyReal: [], onlyModel: [], count: model.length });
  }
});

test('the keep-list holds exactly the Istio series the rules read', () => {
  const rules = YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules.map((r: any) => r.expr as string)).join('\n');
  for (const name of KEPT_METRICS) expect({ name, read: rules.includes(name) }).toEqual({ name, read: true });
  const read = new Set(rules.match(/istio_[a-z_]+/g));
  expect([...read].sort()).toEqual([...KEPT_METRICS].sort());
  expect(KEPT_METRICS).not.toContain(ISTIO.tcpClosed);
});

test('totals per vendor, pod and destination still equal the truth, with and without the Istio tag removal', async () => {
  const at = Date.now();
  for (const pod of PODS) {
    const sent = await prom.query(`${RULE.podSentBytes}{pod="${pod.name}"}`, at);
    const received = await prom.query(`${RULE.podReceivedBytes}{pod="${pod.name}"}`, at);
    expectClose(sent[0]?.value, sim.rates({ pod: pod.name }).uploadBytes, `${pod.name} upload`);
    expectClose(received[0]?.value, sim.rates({ pod: pod.name }).downloadBytes, `${pod.name} download`);
  }
  const requests = await prom.query(RULE.destinationRequests, at);
  const sent = await prom.query(RULE.destinationSentBytes, at);
  const received = await prom.query(RULE.destinationReceivedBytes, at);
  let checked = 0;
  for (const vendor of vendors.names) {
    const destinations = new Set(sim.views({ vendor }).map(v => v.destination));
    for (const destination of destinations) {
      const match = (s: { metric: Record<string, string> }) => s.metric.proxy_vendor === vendor && s.metric.destination === destination;
      for (const protocol of ['http', 'tcp'] as const) {
        const truth = sim.rates({ vendor, destination, protocol });
        const count = protocol === 'http' ? truth.requests : truth.connections;
        if (count > 0) expectClose(requests.find(s => match(s) && s.metric.request_protocol === protocol)?.value, count, `${vendor} ${destination} ${protocol}`);
      }
      const truth = sim.rates({ vendor, destination });
      expectClose(sent.find(match)?.value, truth.uploadBytes, `${vendor} ${destination} upload`);
      expectClose(received.find(match)?.value, truth.downloadBytes, `${vendor} ${destination} download`);
      checked++;
    }
  }
  expect(checked).toBe(39);
  const perVendor = await prom.query(RULE.requests, at);
  for (const vendor of vendors.names) {
    expectClose(perVendor.find(s => s.metric.proxy_vendor === vendor && s.metric.request_protocol === 'http')?.value, sim.rates({ vendor, protocol: 'http' }).requests, `${vendor} HTTP requests/s`);
  }
});
