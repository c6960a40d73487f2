import {
  PodMonitorSpec, PodMonitorSpecPodMetricsEndpoints, PodMonitorSpecPodMetricsEndpointsMetricRelabelings,
  PodMonitorSpecPodMetricsEndpointsRelabelings, PodMonitorSpecPodMetricsEndpointsScheme,
} from '../../imports/monitoring.coreos.com';

/**
 * The `job` label prometheus-operator gives the targets of a PodMonitor without `jobLabel`:
 * `<namespace>/<name>` (pkg/prometheus/promcfg.go, generatePodMonitorConfig: relabel `target_label: job`,
 * `replacement: <namespace>/<name>`). Rules that select the scrape job by `job` must use it.
 */
export function operatorJobLabel(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

type Relabel = Record<string, unknown>;

/** Prometheus relabel keys and their names in a prometheus-operator RelabelConfig. */
const RELABEL_FIELDS: Record<string, string> = {
  source_labels: 'sourceLabels',
  separator: 'separator',
  target_label: 'targetLabel',
  regex: 'regex',
  modulus: 'modulus',
  replacement: 'replacement',
  action: 'action',
};

/** A Prometheus relabel_config rendered as the operator's RelabelConfig (which it renders back one to one). */
function toOperatorRelabel(relabel: Relabel, where: string): PodMonitorSpecPodMetricsEndpointsRelabelings {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(relabel)) {
    const field = RELABEL_FIELDS[key];
    if (!field) throw new Error(`${where}: relabel field '${key}' has no PodMonitor equivalent`);
    out[field] = value;
  }
  return out as PodMonitorSpecPodMetricsEndpointsRelabelings;
}

/**
 * The PodMonitor spec equivalent to a Prometheus scrape job with pod discovery. The job is the single source
 * of the target filters, relabeling and keep-list: every relabel step is rendered as a PodMonitor relabeling
 * (the operator appends them after its own target labels), every metric relabel step as a metric relabeling.
 * No `port` is set: the job's own relabelings pick the sidecar's stats port, so both modes select the same
 * targets by construction. A job field without a PodMonitor equivalent fails synthesis instead of being dropped.
 */
export function podMonitorSpecFromScrapeJob(job: Record<string, unknown>): PodMonitorSpec {
  const endpoint: Record<string, unknown> = {};
  const spec: Record<string, unknown> = { selector: {} };
  for (const [key, value] of Object.entries(job)) {
    switch (key) {
      case 'job_name': break; // the operator names the job podMonitor/<namespace>/<name>/<index>
      case 'honor_timestamps': endpoint.honorTimestamps = value; break;
      case 'honor_labels': endpoint.honorLabels = value; break;
      case 'scrape_interval': endpoint.interval = value; break;
      case 'scrape_timeout': endpoint.scrapeTimeout = value; break;
      case 'metrics_path': endpoint.path = value; break;
      case 'scheme': endpoint.scheme = value as PodMonitorSpecPodMetricsEndpointsScheme; break;
      case 'sample_limit': spec.sampleLimit = value; break;
      case 'target_limit': spec.targetLimit = value; break;
      case 'label_limit': spec.labelLimit = value; break;
      case 'label_name_length_limit': spec.labelNameLengthLimit = value; break;
      case 'label_value_length_limit': spec.labelValueLengthLimit = value; break;
      case 'body_size_limit': spec.bodySizeLimit = value; break;
      case 'kubernetes_sd_configs': spec.namespaceSelector = { matchNames: podDiscoveryNamespaces(value) }; break;
      case 'relabel_configs':
        endpoint.relabelings = (value as Relabel[]).map((r, i) => toOperatorRelabel(r, `relabel_configs[${i}]`));
        break;
      case 'metric_relabel_configs':
        endpoint.metricRelabelings = (value as Relabel[]).map((r, i) =>
          toOperatorRelabel(r, `metric_relabel_configs[${i}]`) as PodMonitorSpecPodMetricsEndpointsMetricRelabelings);
        break;
      default:
        throw new Error(`scrape job field '${key}' has no PodMonitor equivalent`);
    }
  }
  if (!spec.namespaceSelector) throw new Error('the scrape job has no pod discovery');
  return { ...spec, podMetricsEndpoints: [endpoint as PodMetricsEndpoint] } as PodMonitorSpec;
}

type PodMetricsEndpoint = PodMonitorSpecPodMetricsEndpoints;

function podDiscoveryNamespaces(sdConfigs: unknown): string[] {
  const configs = sdConfigs as Array<{ role?: string; namespaces?: { names?: string[] } } & Record<string, unknown>>;
  const [sd] = configs;
  if (configs.length !== 1 || sd.role !== 'pod' || !sd.namespaces?.names?.length || Object.keys(sd).some(k => !['role', 'namespaces'].includes(k))) {
    throw new Error(`a PodMonitor needs exactly one pod discovery over named namespaces: ${JSON.stringify(sdConfigs)}`);
  }
  return [...sd.namespaces.names];
}
