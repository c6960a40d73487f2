import * as fs from 'fs';
import * as YAML from 'yaml';
import { PanelQuery, VariableValues, expandVariables, panelQueries } from '../dashboards';
import { VendorCatalog } from '../lib/vendor';
import { InstantSample, PrometheusProcess } from './support/prometheus-process';
import { SidecarSim, SimPod, TruthFilter } from './support/sidecar-sim';
import { expectClose, startSimulatedStack } from './support/simulated-stack';

/**
 * Every panel query of the five dashboards, with Grafana's variables substituted, run by a real Prometheus
 * over the product's rules and simulated sidecars: each returns data, and the Overview and Bandwidth
 * numbers equal the simulator's ground truth.
 */

const NS = 'crawlers';
const GATEWAY = 'gw.vendor-a.example';
const PODS: SimPod[] = [
  {
    name: 'crawler-vendor-a-5f7b9c8d6-a1a1a', namespace: NS, vendor: 'vendor-a', ip: '127.11.0.1',
    tcp: [{ destinationService: GATEWAY, sni: '', connectionsPerSecond: 12, bytesFromAppPerSecond: 36_000, bytesToAppPerSecond: 1_500_000 }],
    http: [{ destination: 'example.com', requestsPerSecond: 4, responseCode: 200, requestBytesPerRequest: 300, responseBytesPerRequest: 12_000, durationMs: 120 }],
  },
  {
    name: 'crawler-vendor-a-5f7b9c8d6-a2a2a', namespace: NS, vendor: 'vendor-a', ip: '127.11.0.2',
    tcp: [{ destinationService: GATEWAY, sni: '', connectionsPerSecond: 8, bytesFromAppPerSecond: 24_000, bytesToAppPerSecond: 900_000 }],
    // Plain HTTP through the gateway, refused: proxy authentication required.
    http: [{ destination: 'example.net', requestsPerSecond: 1, responseCode: 407, requestBytesPerRequest: 280, responseBytesPerRequest: 200, durationMs: 5 }],
  },
  {
    name: 'crawler-vendor-b-6c8d7e9f5-b1b1b', namespace: NS, vendor: 'vendor-b', ip: '127.11.0.3',
    http: [
      { destination: 'example.com', requestsPerSecond: 30, responseCode: 200, requestBytesPerRequest: 420, responseBytesPerRequest: 18_000, durationMs: 250, httpVersion: '2' },
      { destination: 'example.org', requestsPerSecond: 6, responseCode: 404, requestBytesPerRequest: 380, responseBytesPerRequest: 900, durationMs: 40 },
      { destination: 'shop.example.org', requestsPerSecond: 2, responseCode: 429, requestBytesPerRequest: 390, responseBytesPerRequest: 300, durationMs: 15 },
    ],
    tcp: [{ destinationService: 'unknown', sni: 'www.wikipedia.org', connectionsPerSecond: 10, bytesFromAppPerSecond: 5_000, bytesToAppPerSecond: 400_000 }],
  },
  {
    name: 'crawler-vendor-b-6c8d7e9f5-b2b2b', namespace: NS, vendor: 'vendor-b', ip: '127.11.0.4',
    http: [{ destination: 'example.com', requestsPerSecond: 20, responseCode: 200, requestBytesPerRequest: 400, responseBytesPerRequest: 20_000, durationMs: 300 }],
  },
  {
    name: 'crawler-vendor-c-7d9e8f6a4-c1c1c', namespace: NS, vendor: 'vendor-c', ip: '127.11.0.5',
    // TLS without SNI: destination unknown.
    tcp: [{ destinationService: 'unknown', sni: '', connectionsPerSecond: 5, bytesFromAppPerSecond: 2_000, bytesToAppPerSecond: 250_000 }],
    http: [
      { destination: 'example.io', requestsPerSecond: 9, responseCode: 200, requestBytesPerRequest: 350, responseBytesPerRequest: 8_000, durationMs: 700 },
      { destination: 'example.io', requestsPerSecond: 1, responseCode: 503, requestBytesPerRequest: 350, responseBytesPerRequest: 150, durationMs: 30 },
    ],
  },
  {
    name: 'batch-job-7d9c6b5f4-zz9yy', namespace: NS, ip: '127.11.0.9',
    http: [{ destination: 'example.net', requestsPerSecond: 7, responseCode: 200, requestBytesPerRequest: 250, responseBytesPerRequest: 5_000, durationMs: 60 }],
  },
];
const VENDORS = ['vendor-a', 'vendor-b', 'vendor-c'];
const vendors = new VendorCatalog([
  { name: 'vendor-a', endpoints: [`${GATEWAY}:8000`], pricePerGiB: 4, monthlyBudget: 1000, monthlyTrafficBudgetGiB: 500 },
  { name: 'vendor-b', pricePerGiB: 1, pricePer1kRequests: 0.5, monthlyBudget: 500 },
  { name: 'vendor-c', pricePerGiB: 2 },
]);
/** `$__range` of the checks: wholly after the simulated clock caught up, so every rule sample in it is exact. */
const RANGE_SECONDS = 20;

let sim: SidecarSim;
let prom: PrometheusProcess;
let configDir: string;
let queries: PanelQuery[];
let at: number;

beforeAll(async () => {
  const started = await startSimulatedStack(PODS, { vendors, namespace: NS });
  sim = started.sim;
  configDir = started.config.dir;
  queries = panelQueries(started.stack.dashboards);
  // The cost group's 1m interval, shortened so that it evaluates within this test.
  const rules = YAML.parse(fs.readFileSync(started.config.rulesFile, 'utf8'));
  for (const group of rules.groups) if (group.interval) group.interval = '1s';
  fs.writeFileSync(started.config.rulesFile, YAML.stringify(rules));
  prom = await PrometheusProcess.start({ configFile: started.config.configFile });

  await sim.waitForAllScraped(20_000);
  sim.startClock({ historySeconds: 420, speedup: 20 });
  await sim.waitForCatchUp((RANGE_SECONDS + 3) * 1000);
  at = Date.now();
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await sim?.stop();
  if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
});

async function run(q: PanelQuery, values: VariableValues = {}): Promise<InstantSample[]> {
  return prom.query(expandVariables(q.expr, { rangeSeconds: RANGE_SECONDS, rateIntervalSeconds: 10, ...values }), at);
}

function panel(title: string, refId = 'A'): PanelQuery {
  const found = queries.find(q => q.panel === title && q.refId === refId);
  if (!found) throw new Error(`no panel '${title}' with query ${refId}`);
  return found;
}

function byVendor(samples: InstantSample[]): Map<string, number> {
  return new Map(samples.map(s => [s.metric.proxy_vendor, s.value]));
}

const truth = (filter: TruthFilter) => sim.increase(filter, at - RANGE_SECONDS * 1000, at);
const errorRate = (vendor: string) => PODS.filter(p => p.vendor === vendor).flatMap(p => p.http ?? [])
  .filter(f => f.responseCode === 0 || f.responseCode >= 400).reduce((n, f) => n + f.requestsPerSecond, 0);

test('every panel query returns data', async () => {
  expect(queries.length).toBeGreaterThanOrEqual(40);
  const empty: string[] = [];
  for (const q of queries) {
    const where = `${q.dashboard} / ${q.panel} / ${q.refId}`;
    const expr = expandVariables(q.expr, { rangeSeconds: RANGE_SECONDS, rateIntervalSeconds: 10 });
    if (q.instant) {
      const result = await prom.query(expr, at);
      if (result.length === 0 || result.some(s => Number.isNaN(s.value))) empty.push(`${where}: ${JSON.stringify(result)}`);
    } else {
      const result = await prom.queryRange(expr, at - RANGE_SECONDS * 1000, at, 2);
      if (result.length === 0 || !result.some(s => s.values.some(([, v]) => !Number.isNaN(v)))) empty.push(`${where}: no samples`);
    }
  }
  expect(empty).toEqual([]);
});

describe('Overview equals the ground truth', () => {
  test('HTTP requests/s and TCP connections/s, all vendors and one', async () => {
    expectClose((await run(panel('HTTP requests/s')))[0]?.value, sim.rates({ protocol: 'http' }).requests - sim.rates({ vendor: null }).requests, 'HTTP requests/s');
    expectClose((await run(panel('TCP connections/s')))[0]?.value, sim.rates({ protocol: 'tcp' }).connections, 'TCP connections/s');
    expectClose((await run(panel('HTTP requests/s'), { vendor: ['vendor-b'] }))[0]?.value, sim.rates({ vendor: 'vendor-b' }).requests, 'vendor-b HTTP requests/s');
  });

  test('requests and connections over the range', async () => {
    const result = await run(panel('Requests and connections over the range'));
    const get = (protocol: string) => result.find(s => s.metric.request_protocol === protocol)?.value;
    const vendored = VENDORS.map(v => truth({ vendor: v }));
    expectClose(get('http'), vendored.reduce((n, t) => n + t.requests, 0), 'HTTP requests over the range');
    expectClose(get('tcp'), vendored.reduce((n, t) => n + t.connections, 0), 'TCP connections over the range');
  });

  test('requests/s per vendor and protocol; the vendor variable filters', async () => {
    const result = await run(panel('Requests/s per vendor'));
    for (const vendor of VENDORS) {
      expectClose(result.find(s => s.metric.proxy_vendor === vendor && s.metric.request_protocol === 'http')?.value, sim.rates({ vendor, protocol: 'http' }).requests, `${vendor} HTTP requests/s`);
      const connections = sim.rates({ vendor, protocol: 'tcp' }).connections;
      if (connections > 0) expectClose(result.find(s => s.metric.proxy_vendor === vendor && s.metric.request_protocol === 'tcp')?.value, connections, `${vendor} connections/s`);
    }
    const filtered = await run(panel('Requests/s per vendor'), { vendor: ['vendor-a', 'vendor-c'] });
    expect([...new Set(filtered.map(s => s.metric.proxy_vendor))].sort()).toEqual(['vendor-a', 'vendor-c']);
  });

  test('shares of requests and bytes over the range, crawler pods and success ratio per vendor', async () => {
    const requests = byVendor(await run(panel('Share of requests over the range')));
    const bytes = byVendor(await run(panel('Share of bytes over the range')));
    const pods = byVendor(await run(panel('Crawler pods per vendor')));
    const success = byVendor(await run(panel('Success ratio')));
    for (const vendor of VENDORS) {
      const t = truth({ vendor });
      expectClose(requests.get(vendor), t.requests + t.connections, `${vendor} requests over the range`);
      expectClose(bytes.get(vendor), t.uploadBytes + t.downloadBytes, `${vendor} bytes over the range`);
      expect(pods.get(vendor)).toBe(PODS.filter(p => p.vendor === vendor).length);
      expectClose(success.get(vendor), 1 - errorRate(vendor) / sim.rates({ vendor, protocol: 'http' }).requests, `${vendor} success ratio`);
    }
    expect([...requests.keys()].sort()).toEqual(VENDORS);
  });
});

describe('Bandwidth equals the ground truth', () => {
  test('sent and received over the range, in total and per vendor', async () => {
    const vendored = VENDORS.map(v => truth({ vendor: v }));
    expectClose((await run(panel('Sent over the range')))[0]?.value, vendored.reduce((n, t) => n + t.uploadBytes, 0), 'sent over the range');
    expectClose((await run(panel('Received over the range')))[0]?.value, vendored.reduce((n, t) => n + t.downloadBytes, 0), 'received over the range');
    const sent = byVendor(await run(panel('Bytes per vendor over the range', 'A')));
    const received = byVendor(await run(panel('Bytes per vendor over the range', 'B')));
    for (const vendor of VENDORS) {
      expectClose(sent.get(vendor), truth({ vendor }).uploadBytes, `${vendor} sent over the range`);
      expectClose(received.get(vendor), truth({ vendor }).downloadBytes, `${vendor} received over the range`);
    }
  });

  test('bytes/s per vendor and per pod; the pod variable filters', async () => {
    const sent = byVendor(await run(panel('Bytes/s per vendor', 'A')));
    const received = byVendor(await run(panel('Bytes/s per vendor', 'B')));
    for (const vendor of VENDORS) {
      expectClose(sent.get(vendor), sim.rates({ vendor }).uploadBytes, `${vendor} sent bytes/s`);
      expectClose(received.get(vendor), sim.rates({ vendor }).downloadBytes, `${vendor} received bytes/s`);
    }
    const podSent = new Map((await run(panel('Bytes/s per pod', 'A'))).map(s => [s.metric.pod, s.value]));
    const podReceived = new Map((await run(panel('Bytes/s per pod', 'B'))).map(s => [s.metric.pod, s.value]));
    const vendorPods = PODS.filter(p => p.vendor);
    expect([...podSent.keys()].sort()).toEqual(vendorPods.map(p => p.name).sort());
    for (const pod of vendorPods) {
      expectClose(podSent.get(pod.name), sim.rates({ pod: pod.name }).uploadBytes, `${pod.name} sent bytes/s`);
      expectClose(podReceived.get(pod.name), sim.rates({ pod: pod.name }).downloadBytes, `${pod.name} received bytes/s`);
    }
    const one = await run(panel('Bytes/s per pod', 'B'), { pod: [vendorPods[2].name] });
    expect(one.map(s => s.metric.pod)).toEqual([vendorPods[2].name]);
  });

  test('top pods over the range: every vendor pod (fewer than 10), with its bytes', async () => {
    const top = await run(panel('Top pods over the range'));
    const vendorPods = PODS.filter(p => p.vendor);
    expect(top.map(s => s.metric.pod).sort()).toEqual(vendorPods.map(p => p.name).sort());
    for (const pod of vendorPods) {
      const t = truth({ pod: pod.name });
      expectClose(top.find(s => s.metric.pod === pod.name)?.value, t.uploadBytes + t.downloadBytes, `${pod.name} bytes over the range`);
    }
  });
});

test('destinations: the unknown share counts tunnels and TLS without SNI', async () => {
  const share = byVendor(await run(panel('Requests without a known destination')));
  const rate = (vendor: string) => sim.rates({ vendor });
  // vendor-a: all connections are tunnels; its HTTP requests have a Host. vendor-b: SNI and Host known. vendor-c: no SNI.
  expectClose(share.get('vendor-a'), rate('vendor-a').connections / (rate('vendor-a').connections + rate('vendor-a').requests), 'vendor-a unknown share');
  expect(share.get('vendor-b')).toBe(0);
  expectClose(share.get('vendor-c'), rate('vendor-c').connections / (rate('vendor-c').connections + rate('vendor-c').requests), 'vendor-c unknown share');
});

test('health: 407 and 429 per vendor, zero where none', async () => {
  const s407 = byVendor(await run(panel('407 and 429 per vendor', 'A')));
  const s429 = byVendor(await run(panel('407 and 429 per vendor', 'B')));
  expectClose(s407.get('vendor-a'), 1, 'vendor-a 407/s');
  expectClose(s429.get('vendor-b'), 2, 'vendor-b 429/s');
  expect(s407.get('vendor-b')).toBe(0);
  expect(s429.get('vendor-c')).toBe(0);
});
