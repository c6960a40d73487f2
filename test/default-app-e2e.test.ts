import { KNOWN_INJECTED_HEADERS } from '../gateway/src/injected';
import { Testing } from 'cdk8s';
import { DEMO_VENDORS, LEAK_NAMESPACE, buildDefaultApp } from '../main';
import { DEMO_GATEWAY_JOB, DEMO_GATEWAY_METRICS, USAGE_METRICS } from '../core/metric-contract';
import { RULE } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { ContractIntent, crawlerTruth } from '../harness/crawler-flows';
import { SidecarModel } from '../harness/istio-sidecar';
import { injectedPodTargets, plainPodTargets } from './support/pod-discovery';
import { appConfigOnFastClock } from './support/prometheus-config';
import { PanelQuery, expandPanelQuery, panelQueries } from '../harness/grafana-variables';
import { PrometheusProcess } from '../harness/prometheus-process';
import { KubeObject } from '../harness/kube-object';
import { SidecarSim, SimPod } from '../harness/sidecar-sim';
import { byLabels, expectClose, runAccelerated } from './support/simulated-stack';
import { demoGatewayAnswers, syntheticCrawlerFlows } from './support/synthetic-crawler';

/**
 * The default app, as `dist/` deploys it, on a minimal-profile mesh (only istiod in istio-system): its crawler
 * Deployments' synthetic crawlers do what their environment says (through their vendor's demo gateway, and vendor-c
 * also directly to in-cluster sites), the demo gateways answer as their Deployments say (a share of 429s, 407 for
 * the crawler with stale credentials), the sidecar model decides from the app's own mesh objects what each sidecar
 * reports, and the app's own Prometheus configuration and rules (intervals shortened for the accelerated clock) must
 * give A (requests), B (destinations), C and D within 2% of the truth; every panel of every dashboard returns data,
 * and what the gateways served equals what the sidecars measured.
 */

const NS = 'crawlers';
/** Raw-series rate window: the simulator's samples advance on a grid of simulated seconds (SidecarSim.gridMs). */
const RATE_WINDOW_SECONDS = 90;

const app = Testing.app();
const DASHBOARD_FILES = buildDefaultApp(app);
const OBJECTS = app.charts.flatMap(c => Testing.synth(c)) as KubeObject[];
const CRAWLERS = OBJECTS.filter(o => o.kind === 'Deployment' && o.metadata.namespace === NS);
const GATEWAYS = OBJECTS.filter(o => o.kind === 'Deployment' && o.metadata.namespace === 'proxy-demo');
const VENDORS = [...new Set(CRAWLERS.map(d => d.spec.template.metadata.labels['proxy-vendor'] as string))];
const httpPorts = OBJECTS.filter(o => o.kind === 'ServiceEntry' && o.metadata.name.startsWith('proxy-telemetry-http-')).map(o => o.spec.ports[0].number);
/** What the product promises, from the demo's vendor model (never from its manifests). */
const INTENT: ContractIntent = {
  httpPorts: new Set(httpPorts),
  inspectedGateways: new Set(new VendorCatalog(DEMO_VENDORS).vendors.filter(v => v.inspected).flatMap(v => v.endpoints.map(e => `${e.host}:${e.port}`))),
};

/** The app's sidecars, on a mesh whose istio-system holds only istiod. */
/** Each crawler Deployment's sidecar: its labels select EnvoyFilters, its annotations carry its ProxyConfig. */
const sidecarOf = (deployment: KubeObject): SidecarModel => SidecarModel.fromDeployment(OBJECTS, deployment, { profile: 'minimal' });
const answers = demoGatewayAnswers(OBJECTS);

const CRAWLER_PODS: Array<SimPod & { deployment: KubeObject }> = CRAWLERS.flatMap((d, i) => Array.from({ length: d.spec.replicas }, (_, j) => ({
  name: `${d.metadata.name}-6b8f9c7d5-p${j}`, namespace: NS, vendor: d.spec.template.metadata.labels['proxy-vendor'] as string,
  ip: `127.12.${i}.${j + 1}`, flows: syntheticCrawlerFlows(d, undefined, answers), sidecar: sidecarOf(d), deployment: d,
})));

/** The crawler outside the mesh on vendor-a's credentials: no sidecar measures it, vendor-a's gateway serves and bills it. */
const LEAK = OBJECTS.find(o => o.kind === 'Deployment' && o.metadata.namespace === LEAK_NAMESPACE)!;
const LEAK_FLOWS = syntheticCrawlerFlows(LEAK, undefined, answers);
/** Bytes/s both ways through each gateway's proxy port that the gateway bills: requests it authenticated (not 407s). */
const billed = new Map<string, number>();
/** Requests/s the gateway bills: authenticated absolute-form requests and CONNECTs. */
const billedRequests = new Map<string, number>();

/**
 * Each demo gateway's own count, from the flows that reach it: through its proxy port, or directly to its sites
 * (gateway/src/metrics.ts: wire bytes on client connections, `sent` to the crawlers).
 */
function gatewayStandIn(gateway: KubeObject, i: number): SimPod & { deployment: KubeObject } {
  const vendor = gateway.spec.template.spec.containers[0].env.find((e: any) => e.name === 'VENDOR').value;
  const selector = gateway.spec.template.metadata.labels;
  const hosts = OBJECTS.filter(o => o.kind === 'Service' && o.metadata.namespace === gateway.metadata.namespace
    && Object.entries(o.spec.selector).every(([k, v]) => selector[k] === v)).map(s => `${s.metadata.name}.${s.metadata.namespace}.svc.cluster.local`);
  const bytes = { proxy: { sent: 0, received: 0 }, direct: { sent: 0, received: 0 } };
  // Requests/s that arrive with a header the crawler did not send: what the sidecar model says each pod's sidecar adds.
  const injected = new Map<string, number>(KNOWN_INJECTED_HEADERS.map(h => [h, 0]));
  for (const pod of [...CRAWLER_PODS, { flows: LEAK_FLOWS, sidecar: undefined }]) {
    for (const flow of pod.flows) {
      const path = flow.kind === 'gateway' ? (hosts.includes(flow.gateway.split(':')[0]) ? 'proxy' : undefined) : (hosts.includes(flow.host) ? 'direct' : undefined);
      if (!path) continue;
      const t = crawlerTruth(flow);
      bytes[path].sent += t.downloadBytes;
      bytes[path].received += t.uploadBytes;
      if (path === 'proxy' && flow.kind === 'gateway' && flow.responseCode !== 407) {
        billed.set(vendor, (billed.get(vendor) ?? 0) + t.downloadBytes + t.uploadBytes);
        billedRequests.set(vendor, (billedRequests.get(vendor) ?? 0) + flow.perSecond);
      }
      for (const header of pod.sidecar?.deliver(flow).headersAdded ?? []) injected.set(header, (injected.get(header) ?? 0) + flow.perSecond);
    }
  }
  const counters = (['proxy', 'direct'] as const).flatMap(path => (['sent', 'received'] as const).map(direction => ({
    series: `${DEMO_GATEWAY_METRICS.wireBytes}{vendor="${vendor}",path="${path}",direction="${direction}"}`, perSecond: bytes[path][direction],
  })));
  for (const [header, perSecond] of injected) {
    counters.push({ series: `${DEMO_GATEWAY_METRICS.injectedHeaders}{vendor="${vendor}",header="${header}"}`, perSecond });
  }
  return {
    name: `${gateway.metadata.name}-5d4c8-q0`, namespace: gateway.metadata.namespace!, ip: `127.13.${i}.1`, flows: [], sidecar: sidecarOf(gateway), deployment: gateway,
    standIn: { path: '/metrics', counters },
  };
}
const GATEWAY_PODS = GATEWAYS.map(gatewayStandIn);
const LEAK_TRUTH = LEAK_FLOWS.reduce((sum, f) => sum + crawlerTruth(f).downloadBytes, 0);

/** The usage collector: what each gateway bills, per vendor and the demo's one account per vendor. */
const COLLECTOR = OBJECTS.find(o => o.kind === 'Deployment' && o.metadata.name === 'proxy-usage-collector')!;
const COLLECTOR_POD: SimPod & { deployment: KubeObject } = {
  name: 'proxy-usage-collector-7d9f8-xk2lp', namespace: COLLECTOR.metadata.namespace!, ip: '127.13.9.1', flows: [], sidecar: sidecarOf(COLLECTOR), deployment: COLLECTOR,
  standIn: {
    path: '/metrics',
    counters: [...billed].flatMap(([vendor, perSecond]) => [
      { series: `${USAGE_METRICS.billedBytes}{proxy_vendor="${vendor}",account="crawler"}`, perSecond },
      { series: `${USAGE_METRICS.withdrawnBytes}{proxy_vendor="${vendor}",account="crawler"}`, perSecond: 0 },
      { series: `${USAGE_METRICS.billedRequests}{proxy_vendor="${vendor}",account="crawler"}`, perSecond: billedRequests.get(vendor)! },
      { series: `${USAGE_METRICS.withdrawnRequests}{proxy_vendor="${vendor}",account="crawler"}`, perSecond: 0 },
    ]),
  },
};

let sim: SidecarSim;
let prom: PrometheusProcess;

beforeAll(async () => {
  sim = await SidecarSim.start([...CRAWLER_PODS, ...GATEWAY_PODS, COLLECTOR_POD], { scrapeIntervalMs: 1000, intent: INTENT });
  const configMap = OBJECTS.find(o => o.kind === 'ConfigMap' && o.metadata.name === 'prometheus-config')!;
  // The app's configuration and rules, on the accelerated clock: scrape and evaluate every second.
  const materialized = appConfigOnFastClock(configMap, [
    ...CRAWLER_PODS.flatMap(p => injectedPodTargets(p.deployment, { name: p.name, ip: p.ip }, sim.port)),
    ...[...GATEWAY_PODS, COLLECTOR_POD].flatMap(p => plainPodTargets(p.deployment, { name: p.name, ip: p.ip }, { metrics: sim.port })),
  ]);
  prom = await runAccelerated(sim, materialized.configFile);
}, 90_000);

afterAll(async () => {
  await prom?.stop();
  await sim?.stop();
});

describe('the default app\'s demo on a minimal-profile mesh', () => {
  test('its crawlers go through TCP and inspected demo gateways, and directly to in-cluster sites over HTTP and TLS', () => {
    const kinds = new Set(CRAWLER_PODS.flatMap(p => p.flows.map(f => f.kind)));
    expect([...kinds].sort()).toEqual(['gateway', 'http', 'tls']);
    expect(INTENT.inspectedGateways).toEqual(new Set(['vendor-b-gateway.proxy-demo.svc.cluster.local:8081']));
    const codes = new Set(CRAWLER_PODS.flatMap(p => p.flows.map(f => (f.kind === 'gateway' ? f.responseCode : undefined))));
    expect([...codes].sort()).toEqual([200, 407, 429]);
    expect(httpPorts).toEqual([80]);
    // SNI from the TLS listener of port 443, not from an inspector on virtualOutbound.
    expect(CRAWLER_PODS[0].sidecar.virtualOutbound.tlsInspector).toBe(false);
    expect(CRAWLER_PODS[0].sidecar.listenerFor('203.0.113.9', 443)?.kind).toBe('tls');
  });

  test('A: HTTP requests and TCP connections per vendor equal the truth', async () => {
    const requests = await byLabels(prom, RULE.requests, 'proxy_vendor', 'request_protocol');
    for (const vendor of VENDORS) {
      const truth = sim.rates({ vendor });
      if (truth.requests > 0) expectClose(requests.get(`${vendor}/http`), truth.requests, `${vendor} HTTP requests/s`);
      expectClose(requests.get(`${vendor}/tcp`) ?? 0, truth.connections, `${vendor} TCP connections/s`);
    }
    // The inspected gateway's vendor has every request; the others' gateway traffic is connections.
    expect(sim.rates({ vendor: 'vendor-b', protocol: 'http' }).requests).toBeGreaterThan(0);
    expect(sim.rates({ vendor: 'vendor-a', protocol: 'http' }).requests).toBe(0);
  });

  test('B: every destination per vendor at its rate: target hosts through the inspected gateway, the gateway host through TCP ones, direct sites by name', async () => {
    const destinations = await byLabels(prom, RULE.destinationRequests, 'proxy_vendor', 'destination', 'request_protocol');
    for (const vendor of VENDORS) {
      const truth = sim.perDestination({ vendor });
      const seen = new Map([...destinations].filter(([k]) => k.startsWith(`${vendor}/`)).map(([k, v]) => [k.slice(vendor.length + 1), v]));
      expect([...seen.keys()].sort()).toEqual([...truth.keys()].sort());
      for (const [key, value] of truth) expectClose(seen.get(key), value, `${vendor} ${key}`);
    }
    expect([...destinations.keys()]).toEqual(expect.arrayContaining([
      'vendor-a/vendor-a-gateway.proxy-demo.svc.cluster.local/tcp', 'vendor-b/www.shop-b.example/http',
      'vendor-c/catalog.proxy-demo.svc.cluster.local/http', 'vendor-c/forum.proxy-demo.svc.cluster.local/tcp',
    ]));
  });

  test('C and D: upload and download per pod and per vendor equal the truth', async () => {
    const sent = await byLabels(prom, RULE.podSentBytes, 'pod');
    const received = await byLabels(prom, RULE.podReceivedBytes, 'pod');
    for (const pod of CRAWLER_PODS) {
      expectClose(sent.get(pod.name), sim.rates({ pod: pod.name }).uploadBytes, `${pod.name} upload bytes/s`);
      expectClose(received.get(pod.name), sim.rates({ pod: pod.name }).downloadBytes, `${pod.name} download bytes/s`);
    }
    const vendorSent = await byLabels(prom, RULE.vendorSentBytes, 'proxy_vendor');
    for (const vendor of VENDORS) expectClose(vendorSent.get(vendor), sim.rates({ vendor }).uploadBytes, `${vendor} upload bytes/s`);
  });

  test('the inspected gateway\'s 407s (the stale-credentials crawler) and 429s (2% of answers) reach the dashboards', async () => {
    const codes = await byLabels(prom, RULE.responseCodes, 'proxy_vendor', 'response_code');
    expectClose(codes.get('vendor-b/407'), sim.rates({ vendor: 'vendor-b', responseCode: 407 }).requests, 'vendor-b 407/s');
    expectClose(codes.get('vendor-b/429'), sim.rates({ vendor: 'vendor-b', responseCode: 429 }).requests, 'vendor-b 429/s');
    // TCP gateways' answers travel inside connections the sidecar does not parse.
    expect(codes.get('vendor-a/429')).toBeUndefined();
  });

  test('what the demo gateways served equals what the sidecars measured, per vendor', async () => {
    const served = await byLabels(prom, `sum by (proxy_vendor) (label_replace(rate(${DEMO_GATEWAY_METRICS.wireBytes}{job="${DEMO_GATEWAY_JOB}", direction="sent"}[${RATE_WINDOW_SECONDS}s]), "proxy_vendor", "$1", "vendor", "(.*)"))`, 'proxy_vendor');
    for (const vendor of VENDORS) {
      // The stale-credentials crawler's refusals come from vendor-b's gateway too; vendor-a's also serves the leak.
      expectClose(served.get(vendor), sim.rates({ vendor }).downloadBytes + (vendor === 'vendor-a' ? LEAK_TRUTH : 0), `${vendor} bytes served by its gateway`);
    }
  });

  test('the vendors\' bills against the sidecars: vendor-a bills the leak on top, the others what their gateways carried for the fleet', async () => {
    const billedRate = await byLabels(prom, RULE.billedBytes, 'proxy_vendor');
    const measured = await byLabels(prom, RULE.measuredBillableBytes, 'proxy_vendor');
    const unmeasured = await byLabels(prom, RULE.unmeasuredBilledBytes, 'proxy_vendor');
    for (const vendor of VENDORS) {
      expectClose(billedRate.get(vendor), billed.get(vendor)!, `${vendor} billed bytes/s`);
      // The sidecars' bytes to the vendor's gateways; vendor-c's direct traffic to the in-cluster sites is not the vendor's.
      const viaGateway = CRAWLER_PODS.filter(p => p.vendor === vendor).flatMap(p => p.flows).filter(f => f.kind === 'gateway')
        .reduce((sum, f) => sum + crawlerTruth(f).uploadBytes + crawlerTruth(f).downloadBytes, 0);
      expectClose(measured.get(vendor), viaGateway, `${vendor} measured bytes/s to its gateways`);
    }
    const leak = LEAK_FLOWS.reduce((sum, f) => sum + crawlerTruth(f).uploadBytes + crawlerTruth(f).downloadBytes, 0);
    expectClose(unmeasured.get('vendor-a'), leak, 'vendor-a billed beyond the fleet (the leak)');
    // vendor-b's stale-credentials crawler: its 407s are measured, never billed.
    expect(unmeasured.get('vendor-b')!).toBeLessThan(0);
  });

  test('the demo gateways receive no header the crawlers did not send: the sidecars are transparent', async () => {
    const injected = await byLabels(prom, `sum by (header) (rate(${DEMO_GATEWAY_METRICS.injectedHeaders}{job="${DEMO_GATEWAY_JOB}"}[${RATE_WINDOW_SECONDS}s]))`, 'header');
    expect([...injected.keys()].sort()).toEqual([...KNOWN_INJECTED_HEADERS].sort());
    expect([...injected.entries()].filter(([, rate]) => rate !== 0)).toEqual([]);
  });

  test('every panel of every dashboard returns data on the demo', async () => {
    const dashboards = Object.entries(DASHBOARD_FILES).map(([, json]) => JSON.parse(json));
    const queries: PanelQuery[] = panelQueries(dashboards);
    expect(queries.map(q => q.panel)).toContain('Served by the demo gateways, measured by the sidecars');
    const at = Date.now();
    const empty: string[] = [];
    for (const q of queries) {
      const expr = await expandPanelQuery(prom, q.expr, { rangeSeconds: 20, rateIntervalSeconds: RATE_WINDOW_SECONDS }, at);
      const result = q.instant ? await prom.query(expr, at) : (await prom.queryRange(expr, at - 20_000, at, 2)).map(s => ({ value: s.values.find(([, v]) => !Number.isNaN(v))?.[1] ?? NaN }));
      if (result.length === 0 || result.every(s => Number.isNaN(s.value))) empty.push(`${q.dashboard} / ${q.panel} / ${q.refId}`);
    }
    expect(empty).toEqual([]);
  });
});
