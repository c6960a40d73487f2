import * as fs from 'fs';
import { MetricsStackMode } from '../../lib/metrics-stack';
import { RULE } from '../../lib/metric-contract';
import { VendorCatalog } from '../../lib/vendor';
import { PrometheusProcess } from './prometheus-process';
import { SidecarSim, SimPod } from './sidecar-sim';
import { expectClose, startSimulatedStack } from './simulated-stack';

/**
 * The end-to-end checks of the metric contract: the product's scrape configuration and rules, run by a real
 * Prometheus against simulated sidecars, must reproduce the simulator's ground truth: per-vendor request rates,
 * per-pod upload/download, no vendor for a decoy pod, noise dropped by the keep-list, and no traffic lost or
 * double-counted across a sidecar restart. The same checks run for every mode: in 'prometheus-operator' on the
 * configuration prometheus-operator generates from the PodMonitor and PrometheusRule.
 */

const NS = 'crawlers';
const TUNNEL_A = 'gw.vendor-a.example';
const PODS: SimPod[] = [
  {
    name: 'crawler-vendor-a-7d9c6b5f4-k2x9p', namespace: NS, vendor: 'vendor-a', ip: '127.10.0.1',
    tcp: [{ destinationService: TUNNEL_A, sni: '', connectionsPerSecond: 12, bytesFromAppPerSecond: 36_000, bytesToAppPerSecond: 1_500_000 }],
    http: [{ destination: 'example.com', requestsPerSecond: 4, responseCode: 200, requestBytesPerRequest: 300, responseBytesPerRequest: 12_000, durationMs: 120, httpVersion: '1.1' }],
  },
  {
    // Restarts while the 5m window covers it.
    name: 'crawler-vendor-a-7d9c6b5f4-q7w4z', namespace: NS, vendor: 'vendor-a', ip: '127.10.0.2',
    tcp: [{ destinationService: TUNNEL_A, sni: '', connectionsPerSecond: 8, bytesFromAppPerSecond: 24_000, bytesToAppPerSecond: 900_000 }],
    http: [{ destination: 'example.com', requestsPerSecond: 6, responseCode: 200, requestBytesPerRequest: 310, responseBytesPerRequest: 15_000, durationMs: 90 }],
  },
  {
    name: 'crawler-vendor-b-7d9c6b5f4-m3n8c', namespace: NS, vendor: 'vendor-b', ip: '127.10.0.3',
    http: [
      { destination: 'example.com', requestsPerSecond: 30, responseCode: 200, requestBytesPerRequest: 420, responseBytesPerRequest: 18_000, durationMs: 250, httpVersion: '2' },
      { destination: 'example.org', requestsPerSecond: 6, responseCode: 404, requestBytesPerRequest: 380, responseBytesPerRequest: 900, durationMs: 40, httpVersion: '1.1' },
    ],
    tcp: [{ destinationService: 'unknown', sni: 'www.wikipedia.org', connectionsPerSecond: 10, bytesFromAppPerSecond: 5_000, bytesToAppPerSecond: 400_000 }],
  },
  {
    // HTTP only: its upload has no TCP part, which `a + b` would lose.
    name: 'crawler-vendor-b-7d9c6b5f4-t5v1r', namespace: NS, vendor: 'vendor-b', ip: '127.10.0.4',
    http: [{ destination: 'example.com', requestsPerSecond: 20, responseCode: 200, requestBytesPerRequest: 400, responseBytesPerRequest: 20_000, durationMs: 300 }],
  },
  {
    // Decoy: a sidecar-injected pod in the crawler namespace without the proxy-vendor label.
    name: 'batch-job-7d9c6b5f4-zz9yy', namespace: NS, ip: '127.10.0.9',
    http: [{ destination: 'example.net', requestsPerSecond: 7, responseCode: 200, requestBytesPerRequest: 250, responseBytesPerRequest: 5_000, durationMs: 60 }],
  },
];
const [A1, A2, , , DECOY] = PODS.map(p => p.name);
const HISTORY_SECONDS = 420;
const SPEEDUP = 20;


export interface ContractE2e {
  readonly prom: () => PrometheusProcess;
  readonly sim: () => SidecarSim;
  readonly job: () => string;
  readonly configFile: () => string;
}

/** Registers the checks (with their beforeAll/afterAll) in the calling test file. */
export function describeContractE2e(mode: MetricsStackMode): ContractE2e {
  let sim: SidecarSim;
  let prom: PrometheusProcess;
  let configDir: string;
  let configFile: string;
  let job: string;

  async function byLabel(expr: string, label: string, at: number): Promise<Map<string | undefined, number>> {
    return new Map((await prom.query(expr, at)).map(s => [s.metric[label], s.value]));
  }

  beforeAll(async () => {
    // The product's objects: MetricsStack (scrape job, relabeling, keep-list) and VendorCrawler Deployments.
    const vendors = new VendorCatalog([{ name: 'vendor-a', endpoints: [`${TUNNEL_A}:8000`] }, { name: 'vendor-b' }]);
    const started = await startSimulatedStack(PODS, {
      vendors, namespace: NS, mode,
      ruleGroups: [{ name: 'sidecar-sim-proof', rules: [{ record: 'proxy_vendor:sim_requests:rate5m', expr: 'sum by (proxy_vendor) (rate(istio_requests_total{reporter="source"}[5m]))' }] }],
    });
    sim = started.sim;
    job = started.job;
    const config = started.config;
    configDir = config.dir;
    configFile = config.configFile;
    prom = await PrometheusProcess.start({ configFile: config.configFile });

    await sim.waitForAllScraped(20_000);
    sim.startClock({ historySeconds: HISTORY_SECONDS, speedup: SPEEDUP });
    // Two minutes (simulated) before the clock catches up: inside every 5m window evaluated afterwards.
    sim.restartAt(A2, sim.startMs! + (HISTORY_SECONDS - 120) * 1000);
    // After the catch-up: one more scrape and rule evaluation at 1×.
    await sim.waitForCatchUp(3000);
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await sim?.stop();
    if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
  });

  test('every simulated sidecar is one healthy target, labelled by the product relabeling', async () => {
    const { activeTargets } = await prom.targets();
    const sidecars = activeTargets.filter(t => t.labels.job === job);
    expect(sidecars.map(t => t.labels.pod).sort()).toEqual([...PODS.map(p => p.name)].sort());
    for (const t of sidecars) {
      expect(t.health).toBe('up');
      expect(t.scrapeUrl).toBe(`http://${PODS.find(p => p.name === t.labels.pod)!.ip}:${sim.port}/stats/prometheus`);
      expect(t.labels.namespace).toBe(NS);
    }
    expect(sidecars.find(t => t.labels.pod === A1)!.labels.proxy_vendor).toBe('vendor-a');
    expect(sidecars.find(t => t.labels.pod === DECOY)!.labels).not.toHaveProperty('proxy_vendor');
  });

  test('requests per vendor match the truth; the decoy pod has no proxy_vendor', async () => {
    const at = Date.now();
    const perVendor = await byLabel('sum by (proxy_vendor) (rate(istio_requests_total{reporter="source"}[5m]))', 'proxy_vendor', at);
    expect([...perVendor.keys()].sort()).toEqual([undefined, 'vendor-a', 'vendor-b'].sort());
    expectClose(perVendor.get('vendor-a'), sim.rates({ vendor: 'vendor-a' }).requests, 'vendor-a requests/s');
    expectClose(perVendor.get('vendor-b'), sim.rates({ vendor: 'vendor-b' }).requests, 'vendor-b requests/s');
    expectClose(perVendor.get(undefined), sim.rates({ vendor: null }).requests, 'requests/s without vendor');
    expect(await prom.query(`istio_requests_total{pod="${DECOY}", proxy_vendor!=""}`, at)).toEqual([]);

    // The same, as a recording rule evaluated by Prometheus at wall time after the catch-up.
    const recorded = await byLabel('proxy_vendor:sim_requests:rate5m', 'proxy_vendor', Date.now());
    expectClose(recorded.get('vendor-b'), sim.rates({ vendor: 'vendor-b' }).requests, 'recorded vendor-b requests/s');
    const groups = await prom.rules();
    expect(groups.find(g => g.name === 'sidecar-sim-proof').rules[0].health).toBe('ok');

    // TCP connections per destination: SNI for passthrough TLS, the gateway for tunnels.
    const tcp = await byLabel('sum by (destination_sni) (rate(istio_tcp_connections_opened_total{reporter="source", proxy_vendor="vendor-b"}[5m]))', 'destination_sni', at);
    expectClose(tcp.get('www.wikipedia.org'), sim.rates({ vendor: 'vendor-b', destination: 'www.wikipedia.org' }).connections, 'vendor-b TLS connections/s');
    const tunnels = await byLabel('sum by (destination_service) (rate(istio_tcp_connections_opened_total{reporter="source", proxy_vendor="vendor-a"}[5m]))', 'destination_service', at);
    expectClose(tunnels.get(TUNNEL_A), sim.rates({ vendor: 'vendor-a', destination: TUNNEL_A }).connections, 'vendor-a tunnel connections/s');
  });

  test('upload and download bytes per pod match the truth (request_bytes + tcp_received up, response_bytes + tcp_sent down)', async () => {
    const at = Date.now();
    const up = await byLabel('sum by (pod) (rate({__name__=~"istio_request_bytes_sum|istio_tcp_received_bytes_total", reporter="source"}[5m]))', 'pod', at);
    const down = await byLabel('sum by (pod) (rate({__name__=~"istio_response_bytes_sum|istio_tcp_sent_bytes_total", reporter="source"}[5m]))', 'pod', at);
    for (const pod of PODS) {
      expectClose(up.get(pod.name), sim.rates({ pod: pod.name }).uploadBytes, `${pod.name} upload bytes/s`);
      expectClose(down.get(pod.name), sim.rates({ pod: pod.name }).downloadBytes, `${pod.name} download bytes/s`);
    }
  });

  test('the keep-list drops envoy_*, istio_build, reporter="destination" and byte-histogram buckets', async () => {
    // The sidecars do serve them...
    const served = sim.exposition(A1);
    for (const s of ['envoy_cluster_upstream_cx_total', 'istio_build', 'reporter="destination"', 'istio_request_bytes_bucket']) expect(served).toContain(s);
    // ...and none is stored.
    const at = Date.now();
    expect(await prom.query('count({__name__=~"envoy_.+|istio_build"})', at)).toEqual([]);
    expect(await prom.query('count({__name__=~"istio_.+", reporter="destination"})', at)).toEqual([]);
    expect(await prom.query('count({__name__=~"istio_(request|response)_bytes_bucket"})', at)).toEqual([]);
    expect((await prom.query('count(istio_request_duration_milliseconds_bucket{reporter="source"})', at))[0].value).toBeGreaterThan(0);
    const dropped = await prom.query(`scrape_samples_scraped{job="${job}"} - scrape_samples_post_metric_relabeling`, at);
    expect(dropped).toHaveLength(PODS.length);
    for (const d of dropped) expect(d.value).toBeGreaterThan(0);
  });

  test('Prometheus accepted every simulated sample (timestamps in order, no conflicting duplicates)', async () => {
    expect((await prom.query('up{job="prometheus"}'))[0]?.value).toBe(1);
    const rejected = await prom.query('sum(prometheus_target_scrapes_sample_out_of_order_total + prometheus_target_scrapes_sample_duplicate_timestamp_total + prometheus_target_scrapes_sample_out_of_bounds_total)');
    expect(rejected[0]?.value).toBe(0);
  });

  test('a sidecar restart neither loses nor double-counts traffic', async () => {
    const at = Date.now();
    const sel = `pod="${A2}", reporter="source"`;
    // The restart lies inside the window, and the raw counters really went back.
    expect((await prom.query(`sum(resets(istio_requests_total{${sel}}[5m]))`, at))[0].value).toBeGreaterThanOrEqual(1);
    const raw = await prom.query(`sum(istio_tcp_received_bytes_total{${sel}})`, at);
    expect(raw[0].value).toBeLessThan(sim.totals({ pod: A2 }).uploadBytes / 2);

    const truth = sim.increase({ pod: A2 }, at - 300_000, at);
    expectClose((await prom.query(`sum(increase(istio_requests_total{${sel}}[5m]))`, at))[0]?.value, truth.requests, 'requests over the restart');
    expectClose((await prom.query(`sum(increase(istio_tcp_connections_opened_total{${sel}}[5m]))`, at))[0]?.value, truth.connections, 'connections over the restart');
    expectClose((await prom.query(`sum(increase({__name__=~"istio_request_bytes_sum|istio_tcp_received_bytes_total", ${sel}}[5m]))`, at))[0]?.value, truth.uploadBytes, 'upload over the restart');
    expectClose((await prom.query(`sum(increase({__name__=~"istio_response_bytes_sum|istio_tcp_sent_bytes_total", ${sel}}[5m]))`, at))[0]?.value, truth.downloadBytes, 'download over the restart');
  });

  test('the contract recording rules, evaluated by Prometheus, equal the ground truth for every vendor and pod', async () => {
    const at = Date.now();
    const vendored = PODS.filter(p => p.vendor);
    const vendorNames = [...new Set(vendored.map(p => p.vendor!))];

    // A. HTTP requests and TCP connections per vendor, told apart by request_protocol.
    const requests = await prom.query(RULE.requests, at);
    for (const vendor of vendorNames) {
      const get = (protocol: string) => requests.find(s => s.metric.proxy_vendor === vendor && s.metric.request_protocol === protocol)?.value;
      expectClose(get('http'), sim.rates({ vendor, protocol: 'http' }).requests, `${vendor} HTTP requests/s`);
      const connections = sim.rates({ vendor, protocol: 'tcp' }).connections;
      if (connections > 0) expectClose(get('tcp'), connections, `${vendor} TCP connections/s`);
    }
    expect(requests.every(s => s.metric.proxy_vendor !== undefined)).toBe(true);

    // B. Destinations: Host header, SNI, the gateway of a tunnel.
    const destinations = await prom.query(RULE.destinationRequests, at);
    const dest = (vendor: string, destination: string, protocol: string) =>
      destinations.find(s => s.metric.proxy_vendor === vendor && s.metric.destination === destination && s.metric.request_protocol === protocol)?.value;
    expectClose(dest('vendor-a', TUNNEL_A, 'tcp'), sim.rates({ vendor: 'vendor-a', destination: TUNNEL_A }).connections, 'vendor-a tunnel connections/s');
    expectClose(dest('vendor-b', 'www.wikipedia.org', 'tcp'), sim.rates({ vendor: 'vendor-b', destination: 'www.wikipedia.org' }).connections, 'vendor-b SNI connections/s');
    expectClose(dest('vendor-b', 'example.com', 'http'), sim.rates({ vendor: 'vendor-b', destination: 'example.com', protocol: 'http' }).requests, 'vendor-b example.com requests/s');
    expectClose(dest('vendor-b', 'example.org', 'http'), sim.rates({ vendor: 'vendor-b', destination: 'example.org', protocol: 'http' }).requests, 'vendor-b example.org requests/s');

    // C. and D. bytes per pod, for every vendor-labelled pod, and no pod without the label.
    const sent = await byLabel(RULE.podSentBytes, 'pod', at);
    const received = await byLabel(RULE.podReceivedBytes, 'pod', at);
    expect([...sent.keys()].sort()).toEqual(vendored.map(p => p.name).sort());
    expect([...received.keys()].sort()).toEqual(vendored.map(p => p.name).sort());
    for (const pod of vendored) {
      expectClose(sent.get(pod.name), sim.rates({ pod: pod.name }).uploadBytes, `${pod.name} upload bytes/s (recorded)`);
      expectClose(received.get(pod.name), sim.rates({ pod: pod.name }).downloadBytes, `${pod.name} download bytes/s (recorded)`);
    }
    const vendorSent = await byLabel(RULE.vendorSentBytes, 'proxy_vendor', at);
    const vendorReceived = await byLabel(RULE.vendorReceivedBytes, 'proxy_vendor', at);
    for (const vendor of vendorNames) {
      expectClose(vendorSent.get(vendor), sim.rates({ vendor }).uploadBytes, `${vendor} upload bytes/s`);
      expectClose(vendorReceived.get(vendor), sim.rates({ vendor }).downloadBytes, `${vendor} download bytes/s`);
    }

    // The decoy's traffic is not lost: it is reported as unattributed.
    const unattributed = await byLabel(RULE.unattributedBytes, 'namespace', at);
    const decoyTruth = sim.rates({ vendor: null });
    expectClose(unattributed.get(NS), decoyTruth.uploadBytes + decoyTruth.downloadBytes, 'unattributed bytes/s');

    // Every rule evaluated without error (the 1m cost group may not have run yet in this short test).
    for (const group of await prom.rules()) {
      const healthy = group.name === 'proxy-telemetry.cost' ? ['ok', 'unknown'] : ['ok'];
      for (const rule of group.rules) expect({ rule: rule.name, healthy: healthy.includes(rule.health), error: rule.lastError }).toEqual({ rule: rule.name, healthy: true, error: undefined });
    }
  });

  return { prom: () => prom, sim: () => sim, job: () => job, configFile: () => configFile };
}
