import * as fs from 'fs';
import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { buildDefaultApp } from '../main';
import { RULE } from '../lib/metric-contract';
import { ContractIntent } from './support/crawler-flows';
import { SidecarModel } from './support/istio-sidecar';
import { injectedPodTargets } from './support/pod-discovery';
import { materializeConfig } from './support/prometheus-config';
import { PrometheusProcess } from './support/prometheus-process';
import { KubeObject } from './support/schemas';
import { SidecarSim, SimPod } from './support/sidecar-sim';
import { byLabels, expectClose, runAccelerated } from './support/simulated-stack';
import { syntheticCrawlerFlows } from './support/synthetic-crawler';

/**
 * The default app, as `dist/` deploys it, on a minimal-profile mesh (only istiod in istio-system): its crawler
 * Deployments' synthetic crawlers do what their environment says, the sidecar model decides from the app's own
 * mesh objects what each sidecar reports, and the app's own Prometheus configuration and rules (intervals
 * shortened for the accelerated clock) must give A (requests), B (HTTP hosts and HTTPS server names), C and D
 * within 2% of the truth. (test/blind-sidecars-e2e.test.ts shows the same checks failing on sidecars built without
 * the port-80 ServiceEntry or the TLS inspector.)
 */

const NS = 'crawlers';

const app = Testing.app();
buildDefaultApp(app);
const OBJECTS = app.charts.flatMap(c => Testing.synth(c)) as KubeObject[];
const CRAWLERS = OBJECTS.filter(o => o.kind === 'Deployment' && o.metadata.namespace === NS);
const VENDORS = CRAWLERS.map(d => d.spec.template.metadata.labels['proxy-vendor'] as string);
const mesh = OBJECTS.filter(o => o.metadata.namespace === NS || o.kind === 'Namespace');
const httpPorts = mesh.filter(o => o.kind === 'ServiceEntry' && o.metadata.name.startsWith('proxy-telemetry-http-')).map(o => o.spec.ports[0].number);
const INTENT: ContractIntent = { httpPorts: new Set(httpPorts), inspectedGateways: new Set() };

/** The app's sidecars, on a mesh whose istio-system holds only istiod. */
const SIDECAR = SidecarModel.fromObjects(OBJECTS, NS, { profile: 'minimal' });

const PODS: Array<SimPod & { deployment: KubeObject }> = CRAWLERS.flatMap((d, i) => Array.from({ length: d.spec.replicas }, (_, j) => ({
  name: `${d.metadata.name}-6b8f9c7d5-p${j}`, namespace: NS, vendor: d.spec.template.metadata.labels['proxy-vendor'] as string,
  ip: `127.12.${i}.${j + 1}`, flows: syntheticCrawlerFlows(d), sidecar: SIDECAR, deployment: d,
})));

let sim: SidecarSim;
let prom: PrometheusProcess;
let configDir: string;

beforeAll(async () => {
  sim = await SidecarSim.start(PODS, { scrapeIntervalMs: 1000, intent: INTENT });
  const configMap = OBJECTS.find(o => o.kind === 'ConfigMap' && o.metadata.name === 'prometheus-config')!;
  // The app's configuration and rules, on the accelerated clock: scrape and evaluate every second.
  const config = YAML.parse(configMap.data['prometheus.yml']);
  config.global = { ...config.global, scrape_interval: '1s', evaluation_interval: '1s' };
  for (const job of config.scrape_configs) {
    delete job.scrape_interval;
    delete job.scrape_timeout;
  }
  const rules = YAML.parse(configMap.data['rules.yml']);
  for (const group of rules.groups) delete group.interval;
  const materialized = materializeConfig(YAML.stringify(config), YAML.stringify(rules, { lineWidth: 0 }),
    PODS.flatMap(p => injectedPodTargets(p.deployment, { name: p.name, ip: p.ip }, sim.port)));
  configDir = materialized.dir;
  prom = await runAccelerated(sim, materialized.configFile);
}, 90_000);

afterAll(async () => {
  await prom?.stop();
  await sim?.stop();
  if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
});



describe('the default app on a minimal-profile mesh', () => {
  test('its crawlers speak plain HTTP and HTTPS directly, so both the HTTP listener and the TLS inspector matter', () => {
    const kinds = new Set(PODS.flatMap(p => p.flows.map(f => f.kind)));
    expect([...kinds].sort()).toEqual(['http', 'tls']);
    expect(httpPorts).toEqual([80]);
    expect(SIDECAR.virtualOutbound.tlsInspector).toBe(true);
  });

  test('A: HTTP requests and TLS connections per vendor equal the truth', async () => {
    const requests = await byLabels(prom, RULE.requests, 'proxy_vendor', 'request_protocol');
    for (const vendor of VENDORS) {
      expectClose(requests.get(`${vendor}/http`), sim.rates({ vendor, protocol: 'http' }).requests, `${vendor} HTTP requests/s`);
      expectClose(requests.get(`${vendor}/tcp`), sim.rates({ vendor, protocol: 'tcp' }).connections, `${vendor} TLS connections/s`);
    }
  });

  test('B: every HTTP host and every HTTPS server name per vendor, at its rate', async () => {
    const destinations = await byLabels(prom, RULE.destinationRequests, 'proxy_vendor', 'destination', 'request_protocol');
    for (const vendor of VENDORS) {
      const truth = sim.perDestination({ vendor });
      const seen = new Map([...destinations].filter(([k]) => k.startsWith(`${vendor}/`)).map(([k, v]) => [k.slice(vendor.length + 1), v]));
      expect([...seen.keys()].sort()).toEqual([...truth.keys()].sort());
      for (const [key, value] of truth) expectClose(seen.get(key), value, `${vendor} ${key}`);
      // Hosts of both schemes are named: none is "unknown".
      expect([...truth.keys()].filter(k => k.startsWith('unknown/'))).toEqual([]);
      expect([...truth.keys()].some(k => k.endsWith('/http'))).toBe(true);
      expect([...truth.keys()].some(k => k.endsWith('/tcp'))).toBe(true);
    }
  });

  test('C and D: upload and download per pod and per vendor equal the truth', async () => {
    const sent = await byLabels(prom, RULE.podSentBytes, 'pod');
    const received = await byLabels(prom, RULE.podReceivedBytes, 'pod');
    for (const pod of PODS) {
      expectClose(sent.get(pod.name), sim.rates({ pod: pod.name }).uploadBytes, `${pod.name} upload bytes/s`);
      expectClose(received.get(pod.name), sim.rates({ pod: pod.name }).downloadBytes, `${pod.name} download bytes/s`);
    }
    const vendorSent = await byLabels(prom, RULE.vendorSentBytes, 'proxy_vendor');
    for (const vendor of VENDORS) expectClose(vendorSent.get(vendor), sim.rates({ vendor }).uploadBytes, `${vendor} upload bytes/s`);
  });
});
