import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { MeshTelemetry } from '../../lib/mesh-telemetry';
import { DESTINATION_SCRAPE_JOB, SCRAPE_JOB } from '../../core/metric-contract';
import { MetricsStack } from '../../lib/metrics-stack';
import { DestinationOptions } from '../../lib/prometheus/destinations';
import { VendorCatalog } from '../../core/vendor';
import { ContractIntent, contractView } from '../../harness/crawler-flows';
import { SidecarModel } from '../../harness/istio-sidecar';
import { MetricRelabel, RatedSeries, applyMetricRelabel, broadPod, exposedSeries, realisticPod } from '../../harness/realistic-sidecar';
import { SimPod, Totals } from '../../harness/sidecar-sim';

/**
 * The series a fleet of crawler pods puts into Prometheus: each pod is a realistic sidecar (harness/
 * realistic-sidecar.ts) shaped by MeshTelemetry's synthesized Telemetry, scraped by the product's two crawler jobs
 * (totals and destinations, each with its own metric_relabel_configs; the cardinality test proves this model equals
 * what a real Prometheus stores), plus the target labels and the five series Prometheus records per scrape.
 */

export const VENDORS = ['vendor-a', 'vendor-b', 'vendor-c'];
export const NAMESPACE = 'crawlers';
/** Sites of each broad crawler pod (HTTPS by SNI, each its own destination). */
export const BROAD_SITES = 2000;

export function benchVendors(): VendorCatalog {
  return new VendorCatalog(VENDORS.map((name, i) => ({
    name, weight: [40, 35, 25][i], endpoints: [`gw.${name}.example:${8000 + i}`],
    pricePerGiB: [8.4, 4.2, 3][i], pricePer1kRequests: i === 1 ? 0.9 : undefined, monthlyBudget: 2000,
  })));
}

export interface Product {
  rulesYaml: string;
  /** metric_relabel_configs of each crawler scrape job. */
  metricRelabel: Record<string, MetricRelabel[]>;
  /** The crawler sidecars' configuration, from MeshTelemetry's objects. */
  sidecar: SidecarModel;
  /** What the product promises to report (MeshTelemetry's settings): the ground truth's rules. */
  intent: ContractIntent;
}

/** The product's rule file, scrape-time relabeling and sidecar Telemetry, from the constructs. */
export function product(destinations?: DestinationOptions): Product {
  const vendors = benchVendors();
  const chart = Testing.chart();
  const mesh = new MeshTelemetry(chart, 'mesh', { vendors, namespaces: [NAMESPACE] });
  const stack = new MetricsStack(chart, 'metrics', { vendors, crawlerNamespaces: [NAMESPACE], destinations });
  const sidecar = SidecarModel.fromObjects(Testing.synth(chart) as any[], NAMESPACE);
  const jobs: any[] = YAML.parse(stack.renderPrometheusConfig()).scrape_configs;
  const relabel = (name: string) => {
    const job = jobs.find(j => j.job_name === name);
    if (!job) throw new Error(`no scrape job '${name}' in the product's Prometheus config`);
    return job.metric_relabel_configs as MetricRelabel[];
  };
  return {
    rulesYaml: stack.renderRules(),
    metricRelabel: { [SCRAPE_JOB]: relabel(SCRAPE_JOB), [DESTINATION_SCRAPE_JOB]: relabel(DESTINATION_SCRAPE_JOB) },
    sidecar,
    intent: { httpPorts: new Set(mesh.httpPorts), inspectedGateways: new Set() },
  };
}

/** Host names of a vendor's crawl: registrable domains under several suffixes, some with several subdomains. */
export function hostPool(count: number, seed = 'site'): string[] {
  const tlds = ['com', 'org', 'net', 'co.uk', 'com.au', 'de', 'io', 'co.jp'];
  const subs = ['www', 'm', 'cdn', 'api'];
  return Array.from({ length: count }, (_, i) => `${subs[i % subs.length]}.${seed}${Math.floor(i / subs.length)}.${tlds[Math.floor(i / subs.length) % tlds.length]}`);
}

export interface Fleet {
  /** Every series: labels (incl. __name__) and per-second rate (0 for gauges, whose value is `gauge`). */
  series: Array<{ labels: Record<string, string>; rate: number; gauge?: number }>;
  pods: number;
  broadPods: number;
  /** Series per pod before filtering, and stored per pod (both jobs, with their scrape series), for the report. */
  exposedPerPod: number;
  keptPerPod: number;
  /** What the contract must report per vendor, per second: the sum of every pod's flows as the contract sees them. */
  truth: Map<string, Totals>;
}

const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);

export interface FleetOptions {
  /** A pod's hosts (default: the vendor's 20 hosts); every pod also tunnels to its vendor's gateway. */
  destinationsFor?: (vendor: string, pod: number) => string[];
  /** Broad crawler pods among the `pods` (BROAD_SITES sites each). Default: none. */
  broadPods?: number;
}

/** `pods` crawler pods spread over the vendors by weight, the last `broadPods` of them broad crawlers. */
export function buildFleet(pods: number, prod: Product, opts: FleetOptions = {}): Fleet {
  const vendors = benchVendors();
  const broad = opts.broadPods ?? 0;
  if (broad > pods) throw new Error(`broadPods (${broad}) must be <= pods (${pods})`);
  const series: Fleet['series'] = [];
  const truth = new Map<string, Totals>(vendors.names.map(v => [v, { requests: 0, connections: 0, uploadBytes: 0, downloadBytes: 0 }]));
  const templates = new Map<string, { pod: SimPod; exposed: number; kept: Record<string, RatedSeries[]> }>();
  let exposedTotal = 0;
  let keptTotal = 0;
  for (let p = 0; p < pods; p++) {
    const vendor = vendors.vendors[p % vendors.vendors.length].name;
    const isBroad = p >= pods - broad;
    const key = isBroad ? `broad ${vendor}` : opts.destinationsFor ? `${p}` : vendor;
    let template = templates.get(key);
    if (!template) {
      const gateway = vendors.get(vendor).endpoints[0];
      const pod = isBroad
        ? broadPod({ name: 'template', vendor, ip: '127.0.0.1', sites: BROAD_SITES, connectionsPerHour: 30, sidecar: prod.sidecar })
        : realisticPod({
          name: 'template', vendor, ip: '127.0.0.1', gateway: `${gateway.host}:${gateway.port}`, sidecar: prod.sidecar,
          destinations: opts.destinationsFor?.(vendor, p) ?? hostPool(20, vendor.replace('vendor-', 'site-')),
        });
      const exposed = exposedSeries(pod);
      const kept = Object.fromEntries(Object.entries(prod.metricRelabel).map(([job, relabel]) => [job, applyMetricRelabel(exposed, relabel)]));
      template = { pod, exposed: exposed.length, kept };
      if (!opts.destinationsFor || isBroad) templates.set(key, template);
    }
    const name = `crawler-${vendor}-${isBroad ? 'broad-' : ''}7d9c6b5f4-${(hash(`${p}`) % 36 ** 5).toString(36).padStart(5, '0')}`;
    // Pods differ in pace: 0.5× to 1.5× the template's rates.
    const k = 0.5 + (hash(name) % 1000) / 1000;
    for (const [job, kept] of Object.entries(template.kept)) {
      const target = {
        job, instance: `10.${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}:15090`, namespace: NAMESPACE, pod: name, proxy_vendor: vendor,
      };
      for (const s of kept) series.push({ labels: { __name__: s.name, ...s.labels, ...target }, rate: s.rate * k });
      const scrape: Array<[string, number]> = [['up', 1], ['scrape_duration_seconds', 0.004], ['scrape_samples_scraped', template.exposed],
        ['scrape_samples_post_metric_relabeling', kept.length], ['scrape_series_added', 0]];
      for (const [metric, v] of scrape) series.push({ labels: { __name__: metric, ...target }, rate: 0, gauge: v });
      keptTotal += kept.length + scrape.length;
    }
    const t = truth.get(vendor)!;
    for (const view of template.pod.flows.map(f => contractView(f, prod.intent))) {
      if (view.protocol === 'http') t.requests += k * view.perSecond; else t.connections += k * view.perSecond;
      t.uploadBytes += k * view.uploadBytesPerSecond;
      t.downloadBytes += k * view.downloadBytesPerSecond;
    }
    exposedTotal += template.exposed;
  }
  return { series, pods, broadPods: broad, exposedPerPod: exposedTotal / pods, keptPerPod: keptTotal / pods, truth };
}
