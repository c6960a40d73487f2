import { ContractIntent, CrawlerFlow, contractView } from './crawler-flows';
import { SidecarModel } from './istio-sidecar';
import { SimPod, podFamilies } from './sidecar-sim';

/**
 * A crawler pod's sidecar as it looks in production: about 20 destinations (plain HTTP hosts answering several
 * status codes, HTTPS by SNI, CONNECT tunnels through a vendor gateway, TLS without SNI), every Istio histogram
 * bucket and Envoy's own stats. Used by the cardinality test and the benchmark.
 */

export interface RealisticPodOptions {
  name: string;
  namespace?: string;
  vendor?: string;
  /** Loopback address (127.0.0.0/8). */
  ip: string;
  /** Host names, at least 3: the first 60% as plain HTTP, the rest as HTTPS by SNI (one without SNI). */
  destinations: string[];
  /** Vendor gateway `host:port` for CONNECT tunnels. */
  gateway?: string;
  /** Multiplies every rate. */
  scale?: number;
  /** The sidecar configuration of the pod's namespace. */
  sidecar: SidecarModel;
}

/** Status codes of the i-th HTTP host: 200 always, and 301/404/429/503/no response on some hosts. */
export function responseCodes(i: number, hosts: number): number[] {
  return [
    200,
    ...(i % 3 === 0 ? [301] : []),
    ...(i % 2 === 0 ? [404] : []),
    ...(i % 6 === 1 ? [429] : []),
    ...(i % 6 === 4 ? [503] : []),
    ...(i === hosts - 1 ? [0] : []),
  ];
}

export function realisticPod(o: RealisticPodOptions): SimPod {
  if (o.destinations.length < 3) throw new Error('realisticPod needs at least 3 destinations');
  const k = o.scale ?? 1;
  const httpHosts = o.destinations.slice(0, Math.ceil(o.destinations.length * 0.6));
  const tlsHosts = o.destinations.slice(httpHosts.length);
  const flows: CrawlerFlow[] = [
    ...httpHosts.flatMap((host, i) => responseCodes(i, httpHosts.length).map((code, j): CrawlerFlow => ({
      kind: 'http', host, perSecond: k * (j === 0 ? 2 : 0.25), requestsPerConnection: 10, responseCode: code,
      upBytes: 350 + 10 * i, downBytes: code === 200 ? 20_000 + 500 * i : 600, durationMs: 80 + 40 * j,
    }))),
    ...tlsHosts.map((host, i): CrawlerFlow => ({
      kind: 'tls', host, sni: i !== tlsHosts.length - 1, perSecond: k * 0.5, requestsPerConnection: 20, upBytes: 4_000, downBytes: 300_000,
    })),
    ...(o.gateway ? [{
      kind: 'gateway', gateway: o.gateway, scheme: 'https', target: tlsHosts[0], perSecond: k * 3, requestsPerConnection: 20,
      responseCode: 200, upBytes: 3_000, downBytes: 200_000, durationMs: 400,
    } as CrawlerFlow] : []),
  ];
  return { name: o.name, namespace: o.namespace ?? 'crawlers', vendor: o.vendor, ip: o.ip, flows, sidecar: o.sidecar };
}

/**
 * A broad crawler: `sites` distinct HTTPS sites reached directly (each with its SNI) at `connectionsPerHour` each,
 * plus a few plain-HTTP hosts. What makes per-destination labels expensive: one series per site per counter.
 */
export function broadPod(o: { name: string; vendor: string; ip: string; sites: number; connectionsPerHour: number; sidecar: SidecarModel; namespace?: string }): SimPod {
  const perSecond = o.connectionsPerHour / 3600;
  const flows: CrawlerFlow[] = [
    ...Array.from({ length: o.sites }, (_, i): CrawlerFlow => ({
      kind: 'tls', host: `www.site${i}.example`, perSecond, requestsPerConnection: 5, upBytes: 3_000, downBytes: 90_000,
    })),
    ...['example.com', 'example.org', 'example.net'].map((host, i): CrawlerFlow => ({
      kind: 'http', host, perSecond: 1 + i, requestsPerConnection: 10, responseCode: 200, upBytes: 320, downBytes: 15_000, durationMs: 90,
    })),
  ];
  return { name: o.name, namespace: o.namespace ?? 'crawlers', vendor: o.vendor, ip: o.ip, flows, sidecar: o.sidecar };
}

/**
 * The floor: series a pod needs for requirements A–D and nothing else: per destination and protocol (HTTP host,
 * SNI, gateway, "unknown") one request-or-connection counter (B), and per pod one counter per protocol (A) and one
 * upload and one download byte counter (C, D). Response codes, latency buckets and the scrape's own series are
 * extras the alerts and dashboards use.
 */
export function floorSeriesPerPod(pod: SimPod, intent: ContractIntent): number {
  const views = pod.flows.map(f => contractView(f, intent));
  return new Set(views.map(v => `${v.protocol} ${v.destination}`)).size + new Set(views.map(v => v.protocol)).size + 2;
}

/** A series with its per-second rate: podFamilies after one second. */
export interface RatedSeries { name: string; labels: Record<string, string>; rate: number }

/** Every series a pod's sidecar exposes, with its rate (Envoy's timestamp-less stats count at 0/s). */
export function exposedSeries(pod: SimPod): RatedSeries[] {
  const out: RatedSeries[] = [];
  // One second of traffic, with a timestamp so that istio_* samples carry it: their values are the rates.
  for (const fam of podFamilies(pod, 1, 0)) {
    for (const sample of fam.samples.values()) {
      const { name, labels } = parseSeries(sample.line);
      out.push({ name, labels, rate: sample.ts === undefined ? 0 : sample.value });
    }
  }
  return out;
}

function parseSeries(line: string): { name: string; labels: Record<string, string> } {
  const brace = line.indexOf('{');
  if (brace < 0) return { name: line, labels: {} };
  const labels: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m; (m = re.exec(line.slice(brace)));) labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
  return { name: line.slice(0, brace), labels };
}

/** A metric_relabel_configs entry of the kinds the product uses. */
export interface MetricRelabel { source_labels?: string[]; regex?: string; action?: string; separator?: string }

/**
 * Applies keep / drop / labeldrop metric relabeling as Prometheus does (anchored RE2 regexes, ';'-joined
 * source labels). Any other action fails loudly: the benchmark must not silently diverge from the product.
 * The cardinality test checks the result against a real Prometheus.
 */
export function applyMetricRelabel(series: RatedSeries[], configs: MetricRelabel[]): RatedSeries[] {
  let out = series;
  for (const c of configs) {
    const re = new RegExp(`^(?:${c.regex ?? '(.*)'})$`);
    const action = c.action ?? 'replace';
    const value = (s: RatedSeries) => (c.source_labels ?? []).map(l => (l === '__name__' ? s.name : s.labels[l] ?? '')).join(c.separator ?? ';');
    if (action === 'keep') out = out.filter(s => re.test(value(s)));
    else if (action === 'drop') out = out.filter(s => !re.test(value(s)));
    else if (action === 'labeldrop') out = out.map(s => ({ ...s, labels: Object.fromEntries(Object.entries(s.labels).filter(([k]) => !re.test(k))) }));
    else throw new Error(`metric relabel action '${action}' is not modelled`);
  }
  // Prometheus stores no label with an empty value.
  return out.map(s => ({ ...s, labels: Object.fromEntries(Object.entries(s.labels).filter(([, v]) => v !== '')) }));
}
