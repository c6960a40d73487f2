import * as http from 'http';
import { AddressInfo } from 'net';
import { ContractIntent, ContractView, CrawlerFlow, contractView } from './crawler-flows';
import { Observation, ObservedTcp, SidecarModel, SidecarTelemetry, TelemetryMetric } from './istio-sidecar';

/**
 * A simulator of crawler pods' istio-proxy sidecars: serves Envoy's `/stats/prometheus` exposition
 * (Istio ≥ 1.22 standard metrics with their exact label sets, plus noise the scrape keep-list must drop)
 * from constant-rate crawler flows. What each sidecar reports for a flow is decided by the sidecar model of its
 * namespace (istio-sidecar.ts), built from the synthesized manifests; the ground truth is what the metric
 * contract promises for the same flows (crawler-flows.ts contractView), so a manifest that blinds the sidecar
 * makes the two differ.
 *
 * Time: samples carry explicit timestamps from a simulated clock. Prometheus evaluates rules and queries at
 * wall time and a query at t sees samples ≤ t only, so the clock starts in the past and catches up:
 * sim(t) = min(now, T0 + speedup·(t − tStart)). Until `startClock()` a pod has had no traffic yet and, like a
 * real sidecar, exposes no istio_* traffic series; this warm-up lets Prometheus find and scrape every target
 * once before time runs fast (`waitForAllScraped()`).
 *
 * Sample grid: timestamps are rounded down to a grid of ceil(1.5 · speedup · scrapeInterval) whole seconds,
 * kept after the catch-up too. Evenly spaced samples keep rate()/increase() extrapolation exact for constant
 * rates, whether the window lies in the fast or the 1× part (a mix of sparse and dense samples would not);
 * the 1.5 factor ensures every grid point is scraped at least once even with half a scrape interval of
 * jitter (repeats are identical and deduplicated by the TSDB). Range windows should span ≥ 3 grid steps.
 * Counters are rate × elapsed seconds at grid times: integral whenever rate × grid seconds is.
 */

export interface SimPod {
  name: string;
  namespace: string;
  /** Pod label proxy-vendor; absent for a decoy pod. */
  vendor?: string;
  /** Loopback address standing in for the pod IP (127.0.0.0/8). */
  ip: string;
  /** Workload (Deployment) name; default: the pod name without its ReplicaSet hash and suffix. */
  workload?: string;
  /** What the crawler does on the network. */
  flows: CrawlerFlow[];
  /** The sidecar configuration of the pod's namespace, from the synthesized manifests: decides what it reports. */
  sidecar: SidecarModel;
  /**
   * Not a sidecar but a stand-in serving plain counters at `path` (a demo gateway's /metrics): each series'
   * per-second rate times the seconds counted. Such a pod has no flows.
   */
  standIn?: { path: string; counters: Array<{ series: string; perSecond: number }> };
}

export interface TruthFilter {
  pod?: string;
  namespace?: string;
  /** A vendor name, or null for pods without the proxy-vendor label. */
  vendor?: string | null;
  /** As the metric contract defines it: host for HTTP, SNI for TLS, gateway host for TCP gateways. */
  destination?: string;
  protocol?: 'http' | 'tcp';
  /** Response code (HTTP only). */
  responseCode?: number;
}

/** Cumulative true traffic. requests: HTTP requests; connections: TCP connections opened. */
export interface Totals { requests: number; connections: number; uploadBytes: number; downloadBytes: number }

/** Istio's default histogram buckets (Envoy's defaults), in the metric's unit. */
export const ISTIO_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

export type Labels = Array<[string, string]>;

export class SidecarSim {
  /**
   * Starts one server per pod IP, all on the same free port. `intent` is what the product promises (its HTTP
   * ports and inspected gateways): the ground truth of `rates()` and `totals()`.
   */
  public static async start(pods: SimPod[], opts: { intent: ContractIntent; scrapeIntervalMs?: number }): Promise<SidecarSim> {
    const sim = new SidecarSim(pods, opts.scrapeIntervalMs ?? 1000, opts.intent);
    await sim.listen();
    return sim;
  }

  public readonly pods: readonly SimPod[];
  public port = 0;
  /** T0: simulated time at which traffic starts (set by startClock). */
  public startMs?: number;
  public gridMs = 0;
  private speedup = 1;
  private startReal = 0;
  private readonly scrapeIntervalMs: number;
  private readonly byIp = new Map<string, SimPod>();
  private readonly scrapes = new Map<string, number>();
  private readonly restarts = new Map<string, number[]>();
  private servers: http.Server[] = [];

  public readonly intent: ContractIntent;

  private constructor(pods: SimPod[], scrapeIntervalMs: number, intent: ContractIntent) {
    this.pods = pods;
    this.intent = intent;
    this.scrapeIntervalMs = scrapeIntervalMs;
    for (const pod of pods) {
      const octets = pod.ip.split('.').map(Number);
      if (octets.length !== 4 || octets[0] !== 127 || octets.some(o => !Number.isInteger(o) || o < 0 || o > 255)) {
        throw new Error(`pod ${pod.name}: ip '${pod.ip}' must be a loopback address (127.0.0.0/8)`);
      }
      if (this.byIp.has(pod.ip)) throw new Error(`pod ${pod.name}: ip ${pod.ip} is used twice`);
      this.byIp.set(pod.ip, pod);
    }
  }

  // ---- clock ----

  /** Starts simulated time `historySeconds` in the past, running `speedup` times faster until it reaches now. */
  public startClock(opts: { historySeconds?: number; speedup?: number } = {}): void {
    const historySeconds = opts.historySeconds ?? 420;
    this.speedup = opts.speedup ?? 20;
    if (historySeconds > 0 && this.speedup <= 1) throw new Error('speedup must be > 1 to catch up with a history');
    // TSDB refuses samples older than about 1h before the newest one (head block).
    if (historySeconds > 3000) throw new Error('historySeconds must stay well under an hour (TSDB head window)');
    this.startReal = Date.now();
    this.startMs = Math.floor(this.startReal / 1000) * 1000 - historySeconds * 1000;
    this.gridMs = Math.ceil(1.5 * this.speedup * this.scrapeIntervalMs / 1000) * 1000;
  }

  /** Current simulated time (ms). */
  public now(): number {
    const t0 = this.requireStarted();
    const real = Date.now();
    return Math.min(real, t0 + this.speedup * (real - this.startReal));
  }

  /** Timestamp of the samples served now: the simulated time rounded down to the grid. */
  public sampleTime(simMs = this.now()): number {
    const t0 = this.requireStarted();
    return t0 + Math.floor((simMs - t0) / this.gridMs) * this.gridMs;
  }

  /** Real time (ms) at which simulated time reaches wall time. */
  public catchUpRealMs(): number {
    const t0 = this.requireStarted();
    return this.speedup <= 1 ? this.startReal : Math.ceil(this.startReal + (this.startReal - t0) / (this.speedup - 1));
  }

  /** Resolves once simulated time runs at 1×, plus `extraMs` (e.g. a scrape and a rule evaluation). */
  public async waitForCatchUp(extraMs = 0): Promise<void> {
    const wait = this.catchUpRealMs() + extraMs - Date.now();
    if (wait > 0) await new Promise(r => setTimeout(r, wait));
  }

  /**
   * Restarts a pod's sidecar at a simulated time: its counters restart from 0. The time is snapped to the
   * sample grid so that Prometheus sees the last pre-restart value (as if a scrape happened just before);
   * traffic between a real sidecar's last scrape and its restart is unobservable. Returns the snapped time.
   */
  public restartAt(podName: string, simMs: number): number {
    const t0 = this.requireStarted();
    this.pod(podName);
    const snapped = t0 + Math.round((simMs - t0) / this.gridMs) * this.gridMs;
    // Samples already served must not change.
    if (snapped <= this.sampleTime()) throw new Error(`restart at ${snapped} is not in the simulated future (now ${this.now()})`);
    this.restarts.set(podName, [...(this.restarts.get(podName) ?? []), snapped].sort((a, b) => a - b));
    return snapped;
  }

  // ---- ground truth ----

  /** Per-second true rates, as the contract reports them (constant; unaffected by restarts). */
  public rates(filter: TruthFilter = {}): Totals {
    const out: Totals = { requests: 0, connections: 0, uploadBytes: 0, downloadBytes: 0 };
    for (const view of this.views(filter)) {
      if (view.protocol === 'http') out.requests += view.perSecond; else out.connections += view.perSecond;
      out.uploadBytes += view.uploadBytesPerSecond;
      out.downloadBytes += view.downloadBytesPerSecond;
    }
    return out;
  }

  /** Requests or connections per second by `<destination>/<protocol>`, as the contract reports them. */
  public perDestination(filter: TruthFilter = {}): Map<string, number> {
    const out = new Map<string, number>();
    for (const v of this.views(filter)) out.set(`${v.destination}/${v.protocol}`, (out.get(`${v.destination}/${v.protocol}`) ?? 0) + v.perSecond);
    return out;
  }

  /** The contract's view of every flow of the pods that match, filtered by destination, protocol and code. */
  public views(filter: TruthFilter = {}): ContractView[] {
    return this.pods.filter(p => matchesPod(p, filter))
      .flatMap(p => p.flows.map(f => contractView(f, this.intent)))
      .filter(v => (filter.destination === undefined || v.destination === filter.destination)
        && (filter.protocol === undefined || v.protocol === filter.protocol)
        && (filter.responseCode === undefined || v.responseCode === filter.responseCode));
  }

  /** True traffic from traffic start (T0) up to simulated time `atMs` (default: the latest sample time). */
  public totals(filter: TruthFilter = {}, atMs?: number): Totals {
    const t0 = this.requireStarted();
    const seconds = Math.max(0, ((atMs ?? this.sampleTime()) - t0) / 1000);
    return scale(this.rates(filter), seconds);
  }

  /** True traffic in the simulated interval (fromMs, toMs]. */
  public increase(filter: TruthFilter, fromMs: number, toMs: number): Totals {
    const a = this.totals(filter, fromMs);
    const b = this.totals(filter, toMs);
    return { requests: b.requests - a.requests, connections: b.connections - a.connections, uploadBytes: b.uploadBytes - a.uploadBytes, downloadBytes: b.downloadBytes - a.downloadBytes };
  }

  // ---- scrapes ----

  /** Number of /stats/prometheus requests a pod has received. */
  public scrapeCount(podName: string): number {
    return this.scrapes.get(this.pod(podName).ip) ?? 0;
  }

  /** Resolves when every pod has been scraped at least once. */
  public async waitForAllScraped(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const missing = this.pods.filter(p => !this.scrapes.has(p.ip));
      if (missing.length === 0) return;
      if (Date.now() > deadline) throw new Error(`pods never scraped within ${timeoutMs} ms: ${missing.map(p => `${p.name} (${p.ip}:${this.port})`).join(', ')}`);
      await new Promise(r => setTimeout(r, 50));
    }
  }

  /** The exposition a pod serves at the current simulated time. */
  public exposition(podName: string): string {
    return this.render(this.pod(podName));
  }

  public async stop(): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    await Promise.all(servers.map(s => new Promise<void>(resolve => {
      s.closeAllConnections();
      s.close(() => resolve());
    })));
  }

  // ---- internals ----

  private requireStarted(): number {
    if (this.startMs === undefined) throw new Error('startClock() has not been called');
    return this.startMs;
  }

  private pod(name: string): SimPod {
    const pod = this.pods.find(p => p.name === name);
    if (!pod) throw new Error(`no simulated pod '${name}'`);
    return pod;
  }

  private async listen(): Promise<void> {
    const ips = [...this.byIp.keys()];
    // One server per pod IP on a shared port: loopback only, and the port is free on every address.
    for (let attempt = 0; attempt < 10; attempt++) {
      const servers: http.Server[] = [];
      try {
        let port = 0;
        for (const ip of ips) {
          const server = http.createServer((req, res) => this.handle(req, res));
          servers.push(server);
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(port, ip, () => resolve());
          });
          port = (server.address() as AddressInfo).port;
        }
        this.servers = servers;
        this.port = port;
        return;
      } catch (err) {
        await Promise.all(servers.map(s => new Promise(r => s.close(r))));
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
    throw new Error('no port free on all simulated pod addresses');
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const ip = (req.socket.localAddress ?? '').replace(/^::ffff:/, '');
    const pod = this.byIp.get(ip);
    if (!pod || req.method !== 'GET' || (req.url ?? '').split('?')[0] !== (pod.standIn?.path ?? '/stats/prometheus')) {
      res.writeHead(404).end('not found\n');
      return;
    }
    this.scrapes.set(ip, (this.scrapes.get(ip) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(this.render(pod));
  }

  /** Seconds of counting since the sidecar's last (re)start, at sample time ts. A restart at ts still shows the old count. */
  private elapsedSeconds(pod: SimPod, ts: number): number {
    const restarts = (this.restarts.get(pod.name) ?? []).filter(r => r < ts);
    return (ts - (restarts.length ? restarts[restarts.length - 1] : this.startMs!)) / 1000;
  }

  /**
   * A pod's exposition now. Every istio_* value is its per-second rate times the seconds counted, so the families of
   * one second (built once per pod) are scaled at each scrape: a pod with tens of thousands of series renders in
   * milliseconds, well within a scrape timeout.
   */
  private render(pod: SimPod): string {
    if (pod.standIn) {
      // Warm-up: no counters yet, or their first sample (at wall time) would be newer than the simulated history.
      if (this.startMs === undefined) return '';
      const ts = this.sampleTime();
      return pod.standIn.counters.map(c => `${c.series} ${c.perSecond * this.elapsedSeconds(pod, ts)} ${ts}\n`).join('');
    }
    if (this.startMs === undefined) return render(podFamilies(pod, undefined)); // warm-up: no traffic yet, no istio traffic series
    let perSecond = this.perSecondFamilies.get(pod);
    if (!perSecond) this.perSecondFamilies.set(pod, perSecond = podFamilies(pod, 1, 0));
    const ts = this.sampleTime();
    return render(perSecond, this.elapsedSeconds(pod, ts), ts);
  }

  private readonly perSecondFamilies = new WeakMap<SimPod, Family[]>();
}

/**
 * The exposition families of a sidecar after `elapsedSeconds` of its constant-rate traffic (none: before any
 * traffic), with sample timestamp `ts`. Every value is rate × elapsedSeconds, so one second gives the rates.
 */
export function podFamilies(pod: SimPod, elapsedSeconds: number | undefined, ts?: number): Family[] {
  const families = new Families(pod.sidecar.telemetry);
  envoyStats(families);
  if (elapsedSeconds === undefined) return families.list();
  const s = elapsedSeconds;
  const src = sourceLabels(pod);
  for (const obs of observations(pod)) {
    const tags = (metric: TelemetryMetric): Labels => Object.entries(pod.sidecar.tags(metric, obs.attributes));
    const destination = destinationLabels(obs);
    if (obs.kind === 'http') {
      const labels: Labels = [
        ...src, ...destination,
        ['request_protocol', 'http'], ['response_code', String(obs.responseCode)], ['grpc_response_status', ''],
        ['response_flags', obs.responseFlags], ['connection_security_policy', 'unknown'],
      ];
      const n = obs.perSecond * s;
      families.istio('REQUEST_COUNT', 'CLIENT', 'istio_requests_total', [...labels, ...tags('REQUEST_COUNT')], n, ts);
      families.istioHistogram('REQUEST_SIZE', 'CLIENT', 'istio_request_bytes', [...labels, ...tags('REQUEST_SIZE')], n, obs.upBytes, ts);
      families.istioHistogram('RESPONSE_SIZE', 'CLIENT', 'istio_response_bytes', [...labels, ...tags('RESPONSE_SIZE')], n, obs.downBytes, ts);
      families.istioHistogram('REQUEST_DURATION', 'CLIENT', 'istio_request_duration_milliseconds', [...labels, ...tags('REQUEST_DURATION')], n, obs.durationMs, ts);
    } else {
      addTcp(families, pod, obs, { connections: obs.connectionsPerSecond * s, upBytes: obs.upBytesPerSecond * s, downBytes: obs.downBytesPerSecond * s }, ts);
    }
  }
  // Inbound traffic to the pod (its metrics port scraped through the sidecar): reporter="destination".
  const inbound: Labels = [
    ['reporter', 'destination'], ['source_workload', 'prometheus'], ['source_canonical_service', 'prometheus'],
    ['source_canonical_revision', 'latest'], ['source_workload_namespace', 'monitoring'], ['source_principal', 'unknown'],
    ['source_app', 'prometheus'], ['source_version', ''], ['source_cluster', 'Kubernetes'],
    ['destination_workload', workloadOf(pod)], ['destination_workload_namespace', pod.namespace], ['destination_principal', 'unknown'],
    ['destination_app', ''], ['destination_version', ''], ['destination_service', `${workloadOf(pod)}.${pod.namespace}.svc.cluster.local`],
    ['destination_canonical_service', workloadOf(pod)], ['destination_canonical_revision', 'latest'],
    ['destination_service_name', 'InboundPassthroughCluster'], ['destination_service_namespace', pod.namespace], ['destination_cluster', 'Kubernetes'],
    ['request_protocol', 'http'], ['response_code', '200'], ['grpc_response_status', ''], ['response_flags', '-'], ['connection_security_policy', 'none'],
  ];
  families.istio('REQUEST_COUNT', 'SERVER', 'istio_requests_total', inbound, s, ts);
  families.istioHistogram('RESPONSE_SIZE', 'SERVER', 'istio_response_bytes', inbound, s, 4096, ts);
  return families.list();
}

/** What a TCP observation's counters hold: connections (opened and closed alike) and bytes from and to the app. */
export interface TcpTotals { connections: number; upBytes: number; downBytes: number }

/** The istio_tcp_* series of one TCP observation with these totals, labelled as the pod's sidecar labels them. */
function addTcp(families: Families, pod: SimPod, obs: ObservedTcp, totals: TcpTotals, ts?: number): void {
  const tags = (metric: TelemetryMetric): Labels => Object.entries(pod.sidecar.tags(metric, obs.attributes));
  const labels: Labels = [...sourceLabels(pod), ...destinationLabels(obs), ['request_protocol', 'tcp'], ['response_flags', '-'], ['connection_security_policy', 'unknown']];
  families.istio('TCP_OPENED_CONNECTIONS', 'CLIENT', 'istio_tcp_connections_opened_total', [...labels, ...tags('TCP_OPENED_CONNECTIONS')], totals.connections, ts);
  families.istio('TCP_CLOSED_CONNECTIONS', 'CLIENT', 'istio_tcp_connections_closed_total', [...labels, ...tags('TCP_CLOSED_CONNECTIONS')], totals.connections, ts);
  families.istio('TCP_SENT_BYTES', 'CLIENT', 'istio_tcp_sent_bytes_total', [...labels, ...tags('TCP_SENT_BYTES')], totals.downBytes, ts);
  families.istio('TCP_RECEIVED_BYTES', 'CLIENT', 'istio_tcp_received_bytes_total', [...labels, ...tags('TCP_RECEIVED_BYTES')], totals.upBytes, ts);
}

/**
 * A sidecar's exposition, at wall time, from what its connections really moved: the families and labels podFamilies
 * writes, each TCP observation's counters set to `measured(obs)` (bytes counted on the crawler's sockets: Envoy's
 * tcp_proxy relays them one for one). For tests that drive real traffic through real programs; the pod's flows only
 * say what the sidecar decides (their rates are not used). HTTP observations are not supported.
 */
export function measuredPodExposition(pod: SimPod, measured: (obs: ObservedTcp) => TcpTotals): string {
  const families = new Families(pod.sidecar.telemetry);
  envoyStats(families);
  for (const obs of observations(pod)) {
    if (obs.kind !== 'tcp') throw new Error(`pod ${pod.name}: ${obs.path} is HTTP to the sidecar; measuredPodExposition reports TCP observations only`);
    addTcp(families, pod, obs, measured(obs));
  }
  return render(families.list());
}

const observed = new WeakMap<SimPod, Observation[]>();

/** What the pod's sidecar reports for its flows (decided once per pod). */
export function observations(pod: SimPod): Observation[] {
  let list = observed.get(pod);
  if (!list) observed.set(pod, list = pod.flows.flatMap(f => pod.sidecar.observe(f)));
  return list;
}

function matchesPod(p: SimPod, f: TruthFilter): boolean {
  return (f.pod === undefined || p.name === f.pod)
    && (f.namespace === undefined || p.namespace === f.namespace)
    && (f.vendor === undefined || (p.vendor ?? null) === f.vendor);
}

function scale(t: Totals, k: number): Totals {
  return { requests: t.requests * k, connections: t.connections * k, uploadBytes: t.uploadBytes * k, downloadBytes: t.downloadBytes * k };
}

function workloadOf(pod: SimPod): string {
  return pod.workload ?? pod.name.replace(/-[a-z0-9]+-[a-z0-9]+$/, '');
}

/** Outbound (ClientSidecar) source labels, in istio_stats.cc order. No `app`/`version` pod labels → "". */
function sourceLabels(pod: SimPod): Labels {
  return [
    ['reporter', 'source'], ['source_workload', workloadOf(pod)], ['source_canonical_service', workloadOf(pod)],
    ['source_canonical_revision', 'latest'], ['source_workload_namespace', pod.namespace],
    ['source_principal', 'unknown'], ['source_app', ''], ['source_version', ''], ['source_cluster', 'Kubernetes'],
  ];
}

/** Destination labels of a cluster without peer metadata (external hosts: canonical revision falls back to "latest"). */
function destinationLabels(obs: Observation): Labels {
  return [
    ['destination_workload', 'unknown'], ['destination_workload_namespace', 'unknown'], ['destination_principal', 'unknown'],
    ['destination_app', 'unknown'], ['destination_version', 'unknown'], ['destination_service', obs.destination.service],
    ['destination_canonical_service', 'unknown'], ['destination_canonical_revision', 'latest'],
    ['destination_service_name', obs.destination.serviceName], ['destination_service_namespace', obs.destination.serviceNamespace], ['destination_cluster', 'unknown'],
  ];
}

/**
 * Envoy's own stats and istio_build, without timestamps like Envoy. The names follow the stats Istio's bootstrap
 * includes by default (prefixes server, cluster_manager, listener_manager, cluster.xds-grpc, wasm, component):
 * a representative ~300 series, not a byte-exact copy of one Envoy version. None may survive the keep-list.
 */
function envoyStats(families: Families): void {
  const counters = (prefix: string, names: string[], labels: Labels = []) =>
    names.forEach((n, i) => families.add(`envoy_${prefix}_${n}`, 'counter', labels, 7 * i + 3));
  const gauges = (prefix: string, names: string[], labels: Labels = []) =>
    names.forEach((n, i) => families.add(`envoy_${prefix}_${n}`, 'gauge', labels, i + 1));
  const histogram = (name: string, labels: Labels = []) => {
    const buckets = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
    buckets.forEach(le => families.add(`${name}_bucket`, 'histogram', [...labels, ['le', String(le)]], le >= 25 ? 4 : 0, undefined, name));
    families.add(`${name}_bucket`, 'histogram', [...labels, ['le', '+Inf']], 4, undefined, name);
    families.add(`${name}_sum`, 'histogram', labels, 61, undefined, name);
    families.add(`${name}_count`, 'histogram', labels, 4, undefined, name);
  };
  gauges('server', ['live', 'uptime', 'state', 'concurrency', 'days_until_first_cert_expiring', 'seconds_until_first_ocsp_response_expiring',
    'hot_restart_epoch', 'hot_restart_generation', 'memory_allocated', 'memory_heap_size', 'memory_physical_size',
    'parent_connections', 'total_connections', 'stats_recent_lookups', 'version', 'compilation_settings_fips_mode']);
  counters('server', ['debug_assertion_failures', 'dropped_stat_flushes', 'dynamic_unknown_fields', 'envoy_bug_failures',
    'main_thread_watchdog_mega_miss', 'main_thread_watchdog_miss', 'static_unknown_fields', 'wip_protos', 'worker_0_watchdog_mega_miss',
    'worker_0_watchdog_miss', 'worker_1_watchdog_mega_miss', 'worker_1_watchdog_miss', 'envoy_notifications', 'flush_consumer_timeouts']);
  histogram('envoy_server_initialization_time_ms');
  gauges('cluster_manager', ['active_clusters', 'warming_clusters', 'cds_update_time', 'cds_version', 'cds_control_plane_connected_state']);
  counters('cluster_manager', ['cluster_added', 'cluster_modified', 'cluster_removed', 'cluster_updated', 'cluster_updated_via_merge',
    'update_merge_cancelled', 'update_out_of_merge_window', 'cds_init_fetch_timeout', 'cds_update_attempt', 'cds_update_failure',
    'cds_update_rejected', 'cds_update_success', 'cds_update_duration_count']);
  histogram('envoy_cluster_manager_cds_update_duration');
  gauges('listener_manager', ['total_filter_chains_draining', 'total_listeners_active', 'total_listeners_draining', 'total_listeners_warming',
    'workers_started', 'lds_update_time', 'lds_version', 'lds_control_plane_connected_state']);
  counters('listener_manager', ['listener_added', 'listener_create_failure', 'listener_create_success', 'listener_in_place_updated',
    'listener_modified', 'listener_removed', 'listener_stopped', 'lds_init_fetch_timeout', 'lds_update_attempt', 'lds_update_failure',
    'lds_update_rejected', 'lds_update_success']);
  histogram('envoy_listener_manager_lds_update_duration');
  const xds: Labels = [['cluster_name', 'xds-grpc']];
  counters('cluster', ['assignment_stale', 'assignment_timeout_received', 'bind_errors', 'lb_healthy_panic', 'lb_local_cluster_not_ok',
    'lb_recalculate_zone_structures', 'lb_subsets_created', 'lb_subsets_fallback', 'lb_subsets_removed', 'lb_subsets_selected',
    'lb_zone_cluster_too_small', 'lb_zone_no_capacity_left', 'lb_zone_number_differs', 'lb_zone_routing_all_directly',
    'membership_change', 'original_dst_host_invalid', 'retry_or_shadow_abandoned', 'update_attempt', 'update_empty', 'update_failure',
    'update_no_rebuild', 'update_success', 'upstream_cx_close_notify', 'upstream_cx_connect_attempts_exceeded', 'upstream_cx_connect_fail',
    'upstream_cx_connect_timeout', 'upstream_cx_destroy', 'upstream_cx_destroy_local', 'upstream_cx_destroy_local_with_active_rq',
    'upstream_cx_destroy_remote', 'upstream_cx_destroy_remote_with_active_rq', 'upstream_cx_destroy_with_active_rq', 'upstream_cx_http1_total',
    'upstream_cx_http2_total', 'upstream_cx_http3_total', 'upstream_cx_idle_timeout', 'upstream_cx_max_requests', 'upstream_cx_none_healthy',
    'upstream_cx_overflow', 'upstream_cx_pool_overflow', 'upstream_cx_protocol_error', 'upstream_cx_rx_bytes_total', 'upstream_cx_total',
    'upstream_cx_tx_bytes_total', 'upstream_flow_control_backed_up_total', 'upstream_flow_control_drained_total',
    'upstream_flow_control_paused_reading_total', 'upstream_flow_control_resumed_reading_total', 'upstream_internal_redirect_failed_total',
    'upstream_internal_redirect_succeeded_total', 'upstream_rq_cancelled', 'upstream_rq_completed', 'upstream_rq_maintenance_mode',
    'upstream_rq_max_duration_reached', 'upstream_rq_pending_failure_eject', 'upstream_rq_pending_overflow', 'upstream_rq_pending_total',
    'upstream_rq_per_try_timeout', 'upstream_rq_retry', 'upstream_rq_retry_backoff_exponential', 'upstream_rq_retry_limit_exceeded',
    'upstream_rq_retry_overflow', 'upstream_rq_retry_success', 'upstream_rq_rx_reset', 'upstream_rq_timeout', 'upstream_rq_total',
    'upstream_rq_tx_reset'], xds);
  gauges('cluster', ['circuit_breakers_default_cx_open', 'circuit_breakers_default_cx_pool_open', 'circuit_breakers_default_rq_open',
    'circuit_breakers_default_rq_pending_open', 'circuit_breakers_default_rq_retry_open', 'circuit_breakers_high_cx_open',
    'circuit_breakers_high_cx_pool_open', 'circuit_breakers_high_rq_open', 'circuit_breakers_high_rq_pending_open',
    'circuit_breakers_high_rq_retry_open', 'lb_subsets_active', 'max_host_weight', 'membership_degraded', 'membership_excluded',
    'membership_healthy', 'membership_total', 'upstream_cx_active', 'upstream_cx_rx_bytes_buffered', 'upstream_cx_tx_bytes_buffered',
    'upstream_rq_active', 'upstream_rq_pending_active', 'version'], xds);
  histogram('envoy_cluster_upstream_cx_connect_ms', xds);
  histogram('envoy_cluster_upstream_cx_length_ms', xds);
  counters('cluster', ['internal_upstream_rq_200', 'internal_upstream_rq_2xx', 'internal_upstream_rq_completed', 'upstream_rq_200', 'upstream_rq_2xx', 'upstream_rq_503', 'upstream_rq_5xx'], xds);
  gauges('wasm', ['envoy_wasm_runtime_null_active', 'remote_load_cache_entries']);
  counters('wasm', ['envoy_wasm_runtime_null_created', 'remote_load_cache_hits', 'remote_load_cache_misses', 'remote_load_cache_negative_hits', 'remote_load_fetch_failures', 'remote_load_fetch_successes']);
  for (const listener of ['0.0.0.0_15001', '0.0.0.0_15006', '0.0.0.0_15021', '0.0.0.0_15090']) {
    counters('listener', ['downstream_cx_total', 'downstream_cx_destroy', 'downstream_cx_overflow', 'downstream_pre_cx_timeout', 'no_filter_chain_match'], [['listener_address', listener]]);
    gauges('listener', ['downstream_cx_active', 'downstream_pre_cx_active'], [['listener_address', listener]]);
  }
  families.add('istio_build', 'gauge', [['component', 'proxy'], ['tag', '1.24.2']], 1);
}

export interface Family { name: string; type: string; samples: Map<string, { line: string; value: number; ts?: number }> }

class Families {
  private readonly byName = new Map<string, Family>();

  constructor(private readonly telemetry?: SidecarTelemetry) {}

  /** An Istio metric as the Telemetry in force shapes it: not at all if disabled, without removed tags. */
  public istio(metric: TelemetryMetric, mode: 'CLIENT' | 'SERVER', name: string, labels: Labels, value: number, ts?: number): void {
    const kept = this.shape(metric, mode, labels);
    if (kept) this.add(name, 'counter', kept, value, ts);
  }

  public istioHistogram(metric: TelemetryMetric, mode: 'CLIENT' | 'SERVER', name: string, labels: Labels, count: number, observed: number, ts?: number): void {
    const kept = this.shape(metric, mode, labels);
    if (kept) this.histogram(name, kept, count, observed, ts);
  }

  private shape(metric: TelemetryMetric, mode: 'CLIENT' | 'SERVER', labels: Labels): Labels | undefined {
    if (!this.telemetry) return labels;
    if (this.telemetry.disabled[mode].has(metric)) return undefined;
    const removed = this.telemetry.removed[mode][metric];
    return removed ? labels.filter(([k]) => !removed.has(k)) : labels;
  }

  /** Adds to a sample; flows with identical label sets sum up like in Envoy. */
  public add(name: string, type: string, labels: Labels, value: number, ts?: number, familyName = name): void {
    let fam = this.byName.get(familyName);
    if (!fam) this.byName.set(familyName, fam = { name: familyName, type, samples: new Map() });
    const line = labels.length ? `${name}{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : name;
    const prev = fam.samples.get(line);
    fam.samples.set(line, { line, value: (prev?.value ?? 0) + value, ts });
  }

  /** `count` observations, all of the same value. */
  public histogram(name: string, labels: Labels, count: number, observed: number, ts?: number): void {
    for (const le of ISTIO_BUCKETS) {
      this.add(`${name}_bucket`, 'histogram', [...labels, ['le', String(le)]], observed <= le ? count : 0, ts, name);
    }
    this.add(`${name}_bucket`, 'histogram', [...labels, ['le', '+Inf']], count, ts, name);
    this.add(`${name}_sum`, 'histogram', labels, count * observed, ts, name);
    this.add(`${name}_count`, 'histogram', labels, count, ts, name);
  }

  public list(): Family[] {
    return [...this.byName.values()];
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The text exposition of families (Prometheus 0.0.4 format). */
/**
 * The text exposition of families (Prometheus 0.0.4 format). With `scale` and `ts`, samples that carry a timestamp
 * (the istio_* traffic counters) are multiplied by `scale` and stamped `ts`; the others (Envoy's own stats) are
 * written as they are.
 */
export function render(families: Family[], scale?: number, ts?: number): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples.values()) {
      if (s.ts === undefined) out.push(`${s.line} ${s.value}`);
      else if (scale === undefined) out.push(`${s.line} ${s.value} ${s.ts}`);
      else out.push(`${s.line} ${s.value * scale} ${ts}`);
    }
  }
  return out.join('\n') + '\n';
}
