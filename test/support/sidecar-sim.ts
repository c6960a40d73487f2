import * as http from 'http';
import { AddressInfo } from 'net';

/**
 * A simulator of crawler pods' istio-proxy sidecars: serves Envoy's `/stats/prometheus` exposition
 * (Istio ≥ 1.22 standard metrics with their exact label sets, plus noise the scrape keep-list must drop)
 * from constant-rate traffic profiles, so that the ground truth of every counter is exactly computable.
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

/** Plain HTTP that the sidecar parses. HTTP/1.1 and HTTP/2 both report request_protocol="http". */
export interface HttpFlow {
  /** Host header, e.g. 'example.com'; becomes destination_service (PassthroughCluster). */
  destination: string;
  requestsPerSecond: number;
  responseCode: number;
  /** Wire bytes incl. headers, as istio_request_bytes / istio_response_bytes record them. */
  requestBytesPerRequest: number;
  responseBytesPerRequest: number;
  durationMs: number;
  /** Documentation only: Istio does not expose the HTTP version. */
  httpVersion?: '1.1' | '2';
}

/** TCP the sidecar cannot parse: TLS the app encrypts itself, or CONNECT tunnels to a vendor gateway. */
export interface TcpFlow {
  /** 'unknown' for passthrough TLS, or the vendor gateway host (a TCP ServiceEntry) for CONNECT tunnels. */
  destinationService: string;
  /** TLS server name; '' when none (then destination_sni="unknown"). */
  sni: string;
  connectionsPerSecond: number;
  /** Upload: istio_tcp_received_bytes_total (bytes the sidecar received from the app). */
  bytesFromAppPerSecond: number;
  /** Download: istio_tcp_sent_bytes_total (bytes the sidecar sent to the app). */
  bytesToAppPerSecond: number;
}

export interface SimPod {
  name: string;
  namespace: string;
  /** Pod label proxy-vendor; absent for a decoy pod. */
  vendor?: string;
  /** Loopback address standing in for the pod IP (127.0.0.0/8). */
  ip: string;
  /** Workload (Deployment) name; default: the pod name without its ReplicaSet hash and suffix. */
  workload?: string;
  http?: HttpFlow[];
  tcp?: TcpFlow[];
}

export interface TruthFilter {
  pod?: string;
  namespace?: string;
  /** A vendor name, or null for pods without the proxy-vendor label. */
  vendor?: string | null;
  /** As the metric contract defines it: Host for HTTP, SNI for TLS, gateway host for tunnels. */
  destination?: string;
  protocol?: 'http' | 'tcp';
}

/** Cumulative true traffic. requests: HTTP requests; connections: TCP connections opened. */
export interface Totals { requests: number; connections: number; uploadBytes: number; downloadBytes: number }

/** Istio's default histogram buckets (Envoy's defaults), in the metric's unit. */
export const ISTIO_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

type Labels = Array<[string, string]>;

/** Destination of a flow as the metric contract names it. */
export function flowDestination(flow: HttpFlow | TcpFlow): string {
  return 'destination' in flow ? flow.destination : (flow.sni || flow.destinationService);
}

export class SidecarSim {
  /** Starts one server per pod IP, all on the same free port. */
  public static async start(pods: SimPod[], opts: { scrapeIntervalMs?: number } = {}): Promise<SidecarSim> {
    const sim = new SidecarSim(pods, opts.scrapeIntervalMs ?? 1000);
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

  private constructor(pods: SimPod[], scrapeIntervalMs: number) {
    this.pods = pods;
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

  /** Per-second true rates (constant; unaffected by restarts). */
  public rates(filter: TruthFilter = {}): Totals {
    const out: Totals = { requests: 0, connections: 0, uploadBytes: 0, downloadBytes: 0 };
    for (const pod of this.pods.filter(p => matchesPod(p, filter))) {
      if (filter.protocol !== 'tcp') {
        for (const f of (pod.http ?? []).filter(f => filter.destination === undefined || flowDestination(f) === filter.destination)) {
          out.requests += f.requestsPerSecond;
          out.uploadBytes += f.requestsPerSecond * f.requestBytesPerRequest;
          out.downloadBytes += f.requestsPerSecond * f.responseBytesPerRequest;
        }
      }
      if (filter.protocol !== 'http') {
        for (const f of (pod.tcp ?? []).filter(f => filter.destination === undefined || flowDestination(f) === filter.destination)) {
          out.connections += f.connectionsPerSecond;
          out.uploadBytes += f.bytesFromAppPerSecond;
          out.downloadBytes += f.bytesToAppPerSecond;
        }
      }
    }
    return out;
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
    return render(this.series(this.pod(podName)));
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
    if (!pod || req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/stats/prometheus') {
      res.writeHead(404).end('not found\n');
      return;
    }
    this.scrapes.set(ip, (this.scrapes.get(ip) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(render(this.series(pod)));
  }

  /** Seconds of counting since the sidecar's last (re)start, at sample time ts. A restart at ts still shows the old count. */
  private elapsedSeconds(pod: SimPod, ts: number): number {
    const restarts = (this.restarts.get(pod.name) ?? []).filter(r => r < ts);
    return (ts - (restarts.length ? restarts[restarts.length - 1] : this.startMs!)) / 1000;
  }

  private series(pod: SimPod): Family[] {
    const families = new Families();
    noise(families);
    if (this.startMs === undefined) return families.list(); // warm-up: no traffic yet, no istio traffic series
    const ts = this.sampleTime();
    const s = this.elapsedSeconds(pod, ts);
    const src = sourceLabels(pod);
    for (const f of pod.http ?? []) {
      const labels: Labels = [
        ...src, ...passthroughDestination(f.destination, 'PassthroughCluster'),
        ['request_protocol', 'http'], ['response_code', String(f.responseCode)], ['grpc_response_status', ''],
        ['response_flags', '-'], ['connection_security_policy', 'unknown'],
      ];
      const n = f.requestsPerSecond * s;
      families.add('istio_requests_total', 'counter', labels, n, ts);
      families.histogram('istio_request_bytes', labels, n, f.requestBytesPerRequest, ts);
      families.histogram('istio_response_bytes', labels, n, f.responseBytesPerRequest, ts);
      families.histogram('istio_request_duration_milliseconds', labels, n, f.durationMs, ts);
    }
    for (const f of pod.tcp ?? []) {
      const passthrough = f.destinationService === 'unknown';
      const labels: Labels = [
        ...src, ...passthroughDestination(f.destinationService, passthrough ? 'PassthroughCluster' : f.destinationService),
        ['request_protocol', 'tcp'], ['response_flags', '-'], ['connection_security_policy', 'unknown'],
        // Added by our Telemetry (connection.requested_server_name); "unknown" without SNI.
        ['destination_sni', f.sni || 'unknown'],
      ];
      const opened = f.connectionsPerSecond * s;
      families.add('istio_tcp_connections_opened_total', 'counter', labels, opened, ts);
      families.add('istio_tcp_connections_closed_total', 'counter', labels, opened, ts);
      families.add('istio_tcp_sent_bytes_total', 'counter', labels, f.bytesToAppPerSecond * s, ts);
      families.add('istio_tcp_received_bytes_total', 'counter', labels, f.bytesFromAppPerSecond * s, ts);
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
    families.add('istio_requests_total', 'counter', inbound, s, ts);
    families.histogram('istio_response_bytes', inbound, s, 4096, ts);
    return families.list();
  }
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

/** Destination labels of an external host without peer metadata (canonical revision falls back to "latest"). */
function passthroughDestination(service: string, serviceName: string): Labels {
  return [
    ['destination_workload', 'unknown'], ['destination_workload_namespace', 'unknown'], ['destination_principal', 'unknown'],
    ['destination_app', 'unknown'], ['destination_version', 'unknown'], ['destination_service', service],
    ['destination_canonical_service', 'unknown'], ['destination_canonical_revision', 'latest'],
    ['destination_service_name', serviceName], ['destination_service_namespace', 'unknown'], ['destination_cluster', 'unknown'],
  ];
}

/** Envoy and istio_build series every sidecar exposes; none of them may survive the keep-list. No timestamps, like Envoy. */
function noise(families: Families): void {
  families.add('envoy_server_live', 'gauge', [], 1);
  families.add('envoy_server_uptime', 'gauge', [], 3600);
  families.add('envoy_cluster_manager_active_clusters', 'gauge', [], 42);
  families.add('envoy_cluster_upstream_cx_total', 'counter', [['cluster_name', 'xds-grpc']], 3);
  families.add('envoy_cluster_upstream_rq_total', 'counter', [['cluster_name', 'xds-grpc']], 7);
  families.add('envoy_listener_downstream_cx_total', 'counter', [['listener_address', '0.0.0.0_15001']], 11);
  families.add('istio_build', 'gauge', [['component', 'proxy'], ['tag', '1.24.2']], 1);
}

interface Family { name: string; type: string; samples: Map<string, { line: string; value: number; ts?: number }> }

class Families {
  private readonly byName = new Map<string, Family>();

  /** Adds to a sample; flows with identical label sets sum up like in Envoy. */
  public add(name: string, type: string, labels: Labels, value: number, ts?: number, familyName = name): void {
    let fam = this.byName.get(familyName);
    if (!fam) this.byName.set(familyName, fam = { name: familyName, type, samples: new Map() });
    const line = labels.length ? `${name}{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : name;
    const prev = fam.samples.get(line);
    fam.samples.set(line, { line, value: (prev?.value ?? 0) + value, ts });
  }

  /** `count` observations, all of the same value. */
  public histogram(name: string, labels: Labels, count: number, observed: number, ts: number): void {
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

function render(families: Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples.values()) out.push(`${s.line} ${s.value}${s.ts === undefined ? '' : ` ${s.ts}`}`);
  }
  return out.join('\n') + '\n';
}
