import { MetricsStackMode } from '../../lib/metrics/metrics-stack-props';
import { RULE } from '../../core/rules';
import { BASELINE_PREFIX, baselineRuleGroups } from '../../harness/baseline-rules';
import { parseHostPort } from '../../harness/crawler-flows';
import { FLEET_NAMESPACE, INSPECTED_GATEWAY, TCP_GATEWAY, fleetPods, fleetVendors } from './fleet';
import { PrometheusProcess } from '../../harness/prometheus-process';
import { SidecarSim } from '../../harness/sidecar-sim';
import { expectClose, expectRulesHealthy, runAccelerated, startSimulatedStack } from './simulated-stack';

/**
 * The end-to-end checks of the metric contract: the product's scrape configuration and rules, run by a real
 * Prometheus against simulated sidecars, must reproduce the simulator's ground truth: per-vendor request rates,
 * per-pod upload/download, no vendor for a decoy pod, noise dropped by the keep-list, and no traffic lost or
 * double-counted across a sidecar restart. The same checks run for every mode: in 'prometheus-operator' on the
 * configuration prometheus-operator generates from the PodMonitor and PrometheusRule.
 */

const NS = FLEET_NAMESPACE;
const PODS = fleetPods('127.10.0');
const [A1, , B1, , C1, , DECOY] = PODS.map(p => p.name);
/** Restarts while the 5m window covers it: a pod with HTTP and TLS traffic. */
const RESTARTED = C1;
const TUNNEL_A = parseHostPort(TCP_GATEWAY).host;
const GATEWAY_B = parseHostPort(INSPECTED_GATEWAY).host;
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
  let configFile: string;
  let job: string;

  async function byLabel(expr: string, label: string, at: number): Promise<Map<string | undefined, number>> {
    return new Map((await prom.query(expr, at)).map(s => [s.metric[label], s.value]));
  }

  beforeAll(async () => {
    // The product's objects: MeshTelemetry (what the sidecars report), MetricsStack (scrape job, relabeling,
    // keep-list, rules) and VendorCrawler Deployments.
    const started = await startSimulatedStack(PODS, {
      vendors: fleetVendors(), namespace: NS, mode,
      ruleGroups: [
        { name: 'sidecar-sim-proof', rules: [{ record: 'proxy_vendor:sim_requests:rate5m', expr: 'sum by (proxy_vendor) (rate(istio_requests_total{reporter="source"}[5m]))' }] },
        // The rules before layering, beside the layered ones (the cost group aside: its 1h windows need an hour).
        ...(mode === 'standalone' ? baselineRuleGroups('fleet', ['proxy-telemetry.cost']) : []),
      ],
    });
    sim = started.sim;
    job = started.job;
    const config = started.config;
    configFile = config.configFile;
    // Two minutes (simulated) before the clock catches up: inside every 5m window evaluated afterwards.
    prom = await runAccelerated(sim, config.configFile, {
      historySeconds: HISTORY_SECONDS, speedup: SPEEDUP, onClockStart: () => sim.restartAt(RESTARTED, sim.startMs! + (HISTORY_SECONDS - 120) * 1000),
    });
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await sim?.stop();
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
    // vendor-a goes through a TCP gateway only: no HTTP requests at all.
    expect([...perVendor.keys()].sort()).toEqual([undefined, 'vendor-b', 'vendor-c'].sort());
    expectClose(perVendor.get('vendor-b'), sim.rates({ vendor: 'vendor-b' }).requests, 'vendor-b requests/s');
    expectClose(perVendor.get('vendor-c'), sim.rates({ vendor: 'vendor-c' }).requests, 'vendor-c requests/s');
    expectClose(perVendor.get(undefined), sim.rates({ vendor: null }).requests, 'requests/s without vendor');
    expect(await prom.query(`istio_requests_total{pod="${DECOY}", proxy_vendor!=""}`, at)).toEqual([]);

    // The same, as a recording rule evaluated by Prometheus at wall time after the catch-up.
    const recorded = await byLabel('proxy_vendor:sim_requests:rate5m', 'proxy_vendor', Date.now());
    expectClose(recorded.get('vendor-b'), sim.rates({ vendor: 'vendor-b' }).requests, 'recorded vendor-b requests/s');
    const groups = await prom.rules();
    expect(groups.find(g => g.name === 'sidecar-sim-proof').rules[0].health).toBe('ok');

    // TCP connections per destination: SNI for direct TLS (the inspector's, on closed connections), the gateway for a
    // TCP gateway (on every TCP metric).
    const tcp = await byLabel('sum by (destination_sni) (rate(istio_tcp_connections_closed_total{reporter="source", proxy_vendor="vendor-c"}[5m]))', 'destination_sni', at);
    expectClose(tcp.get('www.wikipedia.org'), sim.rates({ vendor: 'vendor-c', destination: 'www.wikipedia.org' }).connections, 'vendor-c TLS connections/s');
    const tunnels = await byLabel('sum by (destination_service) (rate(istio_tcp_connections_opened_total{reporter="source", proxy_vendor="vendor-a"}[5m]))', 'destination_service', at);
    expectClose(tunnels.get(TUNNEL_A), sim.rates({ vendor: 'vendor-a', destination: TUNNEL_A }).connections, 'vendor-a gateway connections/s');
    expect([...tunnels.keys()]).toEqual([TUNNEL_A]);
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
    // The sidecars do serve them (inbound metrics only with standard tags: the cardinality test has those)...
    const served = sim.exposition(B1);
    for (const s of ['envoy_cluster_upstream_cx_total', 'istio_build', 'istio_request_bytes_bucket']) expect(served).toContain(s);
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
    const sel = `pod="${RESTARTED}", reporter="source"`;
    // The restart lies inside the window, and the raw counters really went back.
    expect((await prom.query(`sum(resets(istio_requests_total{${sel}}[5m]))`, at))[0].value).toBeGreaterThanOrEqual(1);
    const raw = await prom.query(`sum(istio_tcp_received_bytes_total{${sel}})`, at);
    expect(raw[0].value).toBeLessThan(sim.totals({ pod: RESTARTED }).uploadBytes / 2);

    const truth = sim.increase({ pod: RESTARTED }, at - 300_000, at);
    expectClose((await prom.query(`sum(increase(istio_requests_total{${sel}}[5m]))`, at))[0]?.value, truth.requests, 'requests over the restart');
    expectClose((await prom.query(`sum(increase(istio_tcp_connections_opened_total{${sel}}[5m]))`, at))[0]?.value, truth.connections, 'connections over the restart');
    expectClose((await prom.query(`sum(increase({__name__=~"istio_request_bytes_sum|istio_tcp_received_bytes_total", ${sel}}[5m]))`, at))[0]?.value, truth.uploadBytes, 'upload over the restart');
    expectClose((await prom.query(`sum(increase({__name__=~"istio_response_bytes_sum|istio_tcp_sent_bytes_total", ${sel}}[5m]))`, at))[0]?.value, truth.downloadBytes, 'download over the restart');
  });

  test('the contract recording rules, evaluated by Prometheus, equal the ground truth for every vendor and pod', async () => {
    const at = Date.now();
    const vendored = PODS.filter(p => p.vendor);
    const vendorNames = [...new Set(vendored.map(p => p.vendor!))];
    expect(vendorNames).toEqual(['vendor-a', 'vendor-b', 'vendor-c']);

    // A. HTTP requests and TCP connections per vendor, told apart by request_protocol.
    const requests = await prom.query(RULE.requests, at);
    for (const vendor of vendorNames) {
      const get = (protocol: string) => requests.find(s => s.metric.proxy_vendor === vendor && s.metric.request_protocol === protocol)?.value;
      const httpRequests = sim.rates({ vendor, protocol: 'http' }).requests;
      if (httpRequests > 0) expectClose(get('http'), httpRequests, `${vendor} HTTP requests/s`);
      else expect(get('http')).toBeUndefined();
      const connections = sim.rates({ vendor, protocol: 'tcp' }).connections;
      if (connections > 0) expectClose(get('tcp'), connections, `${vendor} TCP connections/s`);
    }
    expect(requests.every(s => s.metric.proxy_vendor !== undefined)).toBe(true);

    // B. Destinations: every (vendor, destination, protocol) of the truth, and nothing else.
    const destinations = await prom.query(RULE.destinationRequests, at);
    const expected = new Map<string, number>();
    for (const pod of PODS.filter(p => p.vendor)) {
      for (const view of sim.views({ pod: pod.name })) {
        const key = `${pod.vendor}/${view.destination}/${view.protocol}`;
        expected.set(key, (expected.get(key) ?? 0) + view.perSecond);
      }
    }
    expect(destinations.map(s => `${s.metric.proxy_vendor}/${s.metric.destination}/${s.metric.request_protocol}`).sort()).toEqual([...expected.keys()].sort());
    for (const s of destinations) {
      const key = `${s.metric.proxy_vendor}/${s.metric.destination}/${s.metric.request_protocol}`;
      expectClose(s.value, expected.get(key)!, `${key} per second`);
    }
    // Direct HTTP by Host (h2c too), direct HTTPS by SNI, an inspected gateway by target host, a TCP gateway by its host.
    for (const key of ['vendor-c/example.io/http', 'vendor-c/example.com/http', 'vendor-c/www.wikipedia.org/tcp', 'vendor-c/unknown/tcp',
      'vendor-b/www.wikipedia.org/http', 'vendor-b/example.com/http', `vendor-a/${TUNNEL_A}/tcp`]) expect(expected.has(key)).toBe(true);

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

    await expectRulesHealthy(prom);
  });

  test('an inspected gateway shows requests, the gateway\'s response codes and target hosts; a TCP gateway only connections', async () => {
    const at = Date.now();
    // Response codes: what the inspected gateway answered (a refused CONNECT included), what sites answered direct
    // traffic, and nothing for the TCP gateway, whose 407 the sidecar cannot see.
    const codes = await prom.query(RULE.responseCodes, at);
    const expected = new Map<string, number>();
    for (const pod of PODS.filter(p => p.vendor)) {
      for (const view of sim.views({ pod: pod.name, protocol: 'http' })) {
        const key = `${pod.vendor}/${view.responseCode}`;
        expected.set(key, (expected.get(key) ?? 0) + view.perSecond);
      }
    }
    expect(codes.map(s => `${s.metric.proxy_vendor}/${s.metric.response_code}`).sort()).toEqual([...expected.keys()].sort());
    for (const s of codes) expectClose(s.value, expected.get(`${s.metric.proxy_vendor}/${s.metric.response_code}`)!, `${s.metric.proxy_vendor} ${s.metric.response_code}/s`);
    for (const key of ['vendor-b/407', 'vendor-b/429', 'vendor-b/404', 'vendor-c/503']) expect(expected.has(key)).toBe(true);
    expect([...expected.keys()].filter(k => k.startsWith('vendor-a/'))).toEqual([]);

    // Per gateway: vendor-b's requests (tunnels count once each), vendor-a's connections.
    const gateways = await prom.query(RULE.gatewayRequests, at);
    expect(gateways.map(s => `${s.metric.proxy_vendor}/${s.metric.gateway}/${s.metric.request_protocol}`).sort())
      .toEqual([`vendor-a/${TUNNEL_A}/tcp`, `vendor-b/${GATEWAY_B}/http`]);
    expectClose(gateways.find(s => s.metric.proxy_vendor === 'vendor-b')?.value, sim.rates({ vendor: 'vendor-b', protocol: 'http' }).requests, 'vendor-b requests to its gateway');
    expectClose(gateways.find(s => s.metric.proxy_vendor === 'vendor-a')?.value, sim.rates({ vendor: 'vendor-a', protocol: 'tcp' }).connections, 'vendor-a connections to its gateway');
  });

  if (mode === 'standalone') {
    test('the layered rules give what the flat rules they replace gave, on the same data', async () => {
      const at = Date.now();
      // Every rule the flat set had (rules added since have nothing to compare with).
      const flatRules = new Set(baselineRuleGroups('fleet').flatMap(g => g.rules.map(r => (r as { record: string }).record.slice(BASELINE_PREFIX.length))));
      const compared = Object.values(RULE).filter(name => flatRules.has(name) && !name.endsWith(':constant') && !name.endsWith(':rate1h'));
      expect(compared.length).toBeGreaterThanOrEqual(13);
      let series = 0;
      for (const name of compared) {
        const key = (m: Record<string, string>) => JSON.stringify(Object.entries(m).filter(([k]) => k !== '__name__').sort());
        const flat = new Map((await prom.query(`${BASELINE_PREFIX}${name}`, at)).map(s => [key(s.metric), s.value]));
        // A series the flat rules lacked may only be an explicit 0 ("none"), never a value.
        const layered = new Map((await prom.query(name, at)).map(s => [key(s.metric), s.value]).filter(([k, v]) => flat.has(k as string) || v !== 0) as Array<[string, number]>);
        expect({ name, series: [...layered.keys()].sort() }).toEqual({ name, series: [...flat.keys()].sort() });
        for (const [k, v] of flat) {
          if (v === 0) expect(layered.get(k)).toBe(0); else expectClose(layered.get(k), v, `${name} ${k}`);
        }
        series += flat.size;
      }
      expect(series).toBeGreaterThan(50);
    });
  }

  return { prom: () => prom, sim: () => sim, job: () => job, configFile: () => configFile };
}
