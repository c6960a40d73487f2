import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { MeshTelemetry } from '../../lib/mesh-telemetry';
import { MetricsStack } from '../../lib/metrics-stack';
import { DestinationOptions } from '../../lib/prometheus/destinations';
import { SCRAPE_JOB } from '../../lib/metric-contract';
import { VendorCatalog } from '../../lib/vendor';
import { SidecarModel } from '../../test/support/istio-sidecar';
import { MetricRelabel, RatedSeries, applyMetricRelabel, exposedSeries, realisticPod } from '../../test/support/realistic-sidecar';

/**
 * The series a fleet of crawler pods puts into Prometheus: each pod is a realistic sidecar (test/support/
 * realistic-sidecar.ts) shaped by MeshTelemetry's synthesized Telemetry and filtered by the product's
 * metric_relabel_configs (the cardinality test proves this model equals what a real Prometheus stores), plus
 * the target labels and the five series Prometheus records per scrape.
 */

export const VENDORS = ['vendor-a', 'vendor-b', 'vendor-c'];
export const NAMESPACE = 'crawlers';

export function benchVendors(): VendorCatalog {
  return new VendorCatalog(VENDORS.map((name, i) => ({
    name, weight: [40, 35, 25][i], endpoints: [`gw.${name}.example:${8000 + i}`],
    pricePerGiB: [8.4, 4.2, 3][i], pricePer1kRequests: i === 1 ? 0.9 : undefined, monthlyBudget: 2000,
  })));
}

export interface Product {
  rulesYaml: string;
  metricRelabel: MetricRelabel[];
  /** The crawler sidecars' configuration, from MeshTelemetry's objects. */
  sidecar: SidecarModel;
}

/** The product's rule file, scrape-time relabeling and sidecar Telemetry, from the constructs. */
export function product(destinations?: DestinationOptions): Product {
  const vendors = benchVendors();
  const chart = Testing.chart();
  new MeshTelemetry(chart, 'mesh', { vendors, namespaces: [NAMESPACE] });
  const stack = new MetricsStack(chart, 'metrics', { vendors, crawlerNamespaces: [NAMESPACE], destinations });
  const sidecar = SidecarModel.fromObjects(Testing.synth(chart) as any[], NAMESPACE);
  const job = YAML.parse(stack.renderPrometheusConfig()).scrape_configs.find((j: any) => j.job_name === SCRAPE_JOB);
  return { rulesYaml: stack.renderRules(), metricRelabel: job.metric_relabel_configs, sidecar };
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
  /** Series per pod before and after filtering, for the report. */
  exposedPerPod: number;
  keptPerPod: number;
}

const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);

/**
 * `pods` crawler pods spread over the vendors by weight. `destinationsFor(vendor, podIndex)` gives a pod's
 * hosts (default: the vendor's 20 hosts); every pod also tunnels to its vendor's gateway.
 */
export function buildFleet(pods: number, prod: Product, destinationsFor?: (vendor: string, pod: number) => string[]): Fleet {
  const vendors = benchVendors();
  const series: Fleet['series'] = [];
  const templates = new Map<string, { exposed: number; kept: RatedSeries[] }>();
  let exposedTotal = 0;
  let keptTotal = 0;
  for (let p = 0; p < pods; p++) {
    const vendor = vendors.vendors[p % vendors.vendors.length].name;
    const destinations = destinationsFor?.(vendor, p) ?? hostPool(20, vendor.replace('vendor-', 'site-'));
    const key = destinationsFor ? `${p}` : vendor;
    let template = templates.get(key);
    if (!template) {
      const gateway = vendors.get(vendor).endpoints[0];
      const pod = realisticPod({ name: 'template', vendor, ip: '127.0.0.1', destinations, gateway: `${gateway.host}:${gateway.port}`, sidecar: prod.sidecar });
      const exposed = exposedSeries(pod);
      template = { exposed: exposed.length, kept: applyMetricRelabel(exposed, prod.metricRelabel) };
      if (!destinationsFor) templates.set(key, template);
    }
    const name = `crawler-${vendor}-7d9c6b5f4-${(hash(`${p}`) % 36 ** 5).toString(36).padStart(5, '0')}`;
    const target = {
      job: SCRAPE_JOB, instance: `10.${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}:15090`, namespace: NAMESPACE, pod: name, proxy_vendor: vendor,
    };
    // Pods differ in pace: 0.5× to 1.5× the template's rates.
    const k = 0.5 + (hash(name) % 1000) / 1000;
    for (const s of template.kept) series.push({ labels: { __name__: s.name, ...s.labels, ...target }, rate: s.rate * k });
    const scrape: Array<[string, number]> = [['up', 1], ['scrape_duration_seconds', 0.004], ['scrape_samples_scraped', template.exposed],
      ['scrape_samples_post_metric_relabeling', template.kept.length], ['scrape_series_added', 0]];
    for (const [metric, v] of scrape) series.push({ labels: { __name__: metric, ...target }, rate: 0, gauge: v });
    exposedTotal += template.exposed;
    keptTotal += template.kept.length;
  }
  return { series, pods, exposedPerPod: exposedTotal / pods, keptPerPod: keptTotal / pods + 5 };
}
