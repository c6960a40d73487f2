import { PropertyError, checkDnsLabel, checkLabels } from '../../core/validation';
import { DESTINATION_SCRAPE_JOB, DESTINATION_SERIES, LABEL, PER_POD_SOURCE_TAGS, SCRAPE_JOB, SCRAPED_SERIES, TOTAL_SERIES, VENDOR_POD_LABEL } from '../../core/metric-contract';

/**
 * Options of the crawler sidecar scrape job.
 */
export interface CrawlerScrapeOptions {
  /** Namespaces to discover crawler pods in. */
  readonly namespaces: string[];
  /**
   * Discover in every namespace: pods of `namespaces`, and pods labelled `proxy-vendor` anywhere.
   * @default false
   */
  readonly clusterWide?: boolean;
  readonly scrapeInterval: string;
  readonly scrapeTimeout: string;
  /** Most samples of totals one sidecar may expose after metric relabeling; a target above it fails its scrape. */
  readonly sampleLimit: number;
  /** Most samples of per-destination counters one sidecar may expose; above it the pod's destinations go unmeasured. */
  readonly destinationSampleLimit: number;
  readonly labelLimit: number;
  readonly labelNameLengthLimit: number;
  readonly labelValueLengthLimit: number;
}

/** The istio-proxy container port the scrape job keeps (named `http-envoy-prom`). */
export const SIDECAR_METRICS_PORT = 15090;

/**
 * `__meta_kubernetes_pod_label_<name>` as Prometheus sanitises label names.
 * @internal
 */
export function podLabelMeta(label: string): string {
  return `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/**
 * `__meta_kubernetes_pod_labelpresent_<name>`: 'true' when the pod has the label.
 * @internal
 */
export function podLabelPresentMeta(label: string): string {
  return `__meta_kubernetes_pod_labelpresent_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/**
 * Istio series that rules, alerts and dashboards read; everything else is dropped at scrape time.
 * @internal
 */
export const KEPT_METRICS: readonly string[] = SCRAPED_SERIES;

/**
 * The two scrape jobs for crawler sidecars, over the same targets: one target per pod, the istio-proxy container's
 * Envoy stats port (`http-envoy-prom`, 15090), labelled with proxy_vendor (from the pod label), namespace and pod.
 * `crawler-sidecars` keeps the totals (a handful of series per pod whatever it crawls); `crawler-destinations` the
 * per-destination counters, under a sample limit of their own. A pod reaching more hosts than that limit fails its
 * destination scrape only: its requests, connections and bytes are still measured.
 * @internal
 */
export function crawlerScrapeJobs(opts: CrawlerScrapeOptions): Array<Record<string, unknown>> {
  return [
    crawlerScrapeJob(opts, SCRAPE_JOB, TOTAL_SERIES, opts.sampleLimit),
    crawlerScrapeJob(opts, DESTINATION_SCRAPE_JOB, DESTINATION_SERIES, opts.destinationSampleLimit),
  ];
}

function crawlerScrapeJob(opts: CrawlerScrapeOptions, name: string, kept: readonly string[], sampleLimit: number): Record<string, unknown> {
  return {
    job_name: name,
    honor_timestamps: true,
    scrape_interval: opts.scrapeInterval,
    scrape_timeout: opts.scrapeTimeout,
    metrics_path: '/stats/prometheus',
    sample_limit: sampleLimit,
    label_limit: opts.labelLimit,
    label_name_length_limit: opts.labelNameLengthLimit,
    label_value_length_limit: opts.labelValueLengthLimit,
    kubernetes_sd_configs: [opts.clusterWide ? { role: 'pod' } : { role: 'pod', namespaces: { names: [...opts.namespaces] } }],
    relabel_configs: [
      ...(opts.clusterWide ? [{
        // Every pod of the crawler namespaces (unlabelled ones count as unattributed), and vendor-labelled pods elsewhere.
        source_labels: ['__meta_kubernetes_namespace', podLabelPresentMeta(VENDOR_POD_LABEL)],
        regex: `(?:${opts.namespaces.join('|')});.*|.*;true`,
        action: 'keep',
      }] : []),
      {
        // Role=pod yields one target per container port; keep only the sidecar's Envoy stats port.
        source_labels: ['__meta_kubernetes_pod_container_name', '__meta_kubernetes_pod_container_port_name'],
        regex: 'istio-proxy;http-envoy-prom',
        action: 'keep',
      },
      { source_labels: ['__meta_kubernetes_pod_phase'], regex: 'Pending|Succeeded|Failed', action: 'drop' },
      // A pod without the label gets no proxy_vendor: an empty replacement leaves the label unset.
      { source_labels: [podLabelMeta(VENDOR_POD_LABEL)], target_label: LABEL.vendor, action: 'replace' },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: LABEL.namespace, action: 'replace' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: LABEL.pod, action: 'replace' },
    ],
    metric_relabel_configs: [
      { source_labels: ['__name__'], regex: kept.join('|'), action: 'keep' },
      // Crawlers are clients: inbound (reporter="destination") series describe no proxy traffic.
      { source_labels: ['reporter'], regex: 'destination', action: 'drop' },
      // On outbound series source_* describe the scraped pod itself: constant per target, so dropping them
      // cannot merge two series (MeshTelemetry's Telemetry removes them at the sidecar already).
      { regex: PER_POD_SOURCE_TAGS.join('|'), action: 'labeldrop' },
    ],
  };
}

/** Pods whose own metrics Prometheus scrapes besides the crawler sidecars, e.g. demo gateways. */
export interface PodScrape {
  /** Prometheus job name. */
  readonly job: string;
  /** Namespace of the pods. */
  readonly namespace: string;
  /** Labels the pods must have. */
  readonly podLabels: Record<string, string>;
  /** Name of the container port to scrape. */
  readonly portName: string;
  /** HTTP path of the metrics. */
  readonly path: string;
}

/**
 * Checks pod scrapes; equal ones (several DemoGateways in one namespace) are kept once.
 * @internal
 */
export function resolvePodScrapes(property: string, scrapes: readonly PodScrape[]): PodScrape[] {
  const byJob = new Map<string, PodScrape>();
  scrapes.forEach((t, i) => {
    const p = `${property}[${i}]`;
    if (typeof t.job !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_-]*$/.test(t.job)) throw new PropertyError(`${p}.job`, t.job, 'must be a job name (letters, digits, \'_\', \'-\')');
    if ([SCRAPE_JOB, DESTINATION_SCRAPE_JOB, 'prometheus'].includes(t.job)) throw new PropertyError(`${p}.job`, t.job, 'is a job of the stack itself');
    checkDnsLabel(`${p}.namespace`, t.namespace);
    checkLabels(`${p}.podLabels`, t.podLabels);
    if (Object.keys(t.podLabels).length === 0) throw new PropertyError(`${p}.podLabels`, t.podLabels, 'must select pods by at least one label');
    if (typeof t.portName !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(t.portName) || t.portName.length > 15) {
      throw new PropertyError(`${p}.portName`, t.portName, 'must be a container port name (at most 15 lower-case letters, digits or \'-\')');
    }
    if (typeof t.path !== 'string' || !/^\/[^\s?#]*$/.test(t.path)) throw new PropertyError(`${p}.path`, t.path, 'must be an absolute URL path such as \'/metrics\'');
    const seen = byJob.get(t.job);
    if (seen && JSON.stringify(seen) !== JSON.stringify(t)) throw new PropertyError(`${p}.job`, t.job, 'is used by another, different pod scrape');
    byJob.set(t.job, t);
  });
  return [...byJob.values()];
}

/**
 * A job per pod scrape: pod discovery in its namespace, pods with its labels, its named port only.
 * @internal
 */
export function podScrapeJob(target: PodScrape, scrapeInterval: string): Record<string, unknown> {
  const labels = Object.entries(target.podLabels).sort(([a], [b]) => a.localeCompare(b));
  return {
    job_name: target.job,
    scrape_interval: scrapeInterval,
    metrics_path: target.path,
    kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [target.namespace] } }],
    relabel_configs: [
      {
        source_labels: [...labels.map(([k]) => podLabelMeta(k)), '__meta_kubernetes_pod_container_port_name'],
        regex: [...labels.map(([, v]) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), target.portName].join(';'),
        action: 'keep',
      },
      { source_labels: ['__meta_kubernetes_pod_phase'], regex: 'Pending|Succeeded|Failed', action: 'drop' },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: LABEL.namespace, action: 'replace' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: LABEL.pod, action: 'replace' },
    ],
  };
}

/**
 * Prometheus scraping itself, for the ingestion panels and the sample-limit alert.
 * @internal
 */
export function selfScrapeJob(scrapeInterval: string): Record<string, unknown> {
  return {
    job_name: 'prometheus',
    scrape_interval: scrapeInterval,
    static_configs: [{ targets: ['localhost:9090'] }],
  };
}
