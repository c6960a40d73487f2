import * as YAML from 'yaml';
import { KubeObject } from '../../harness/kube-object';

/**
 * What prometheus-operator generates from a PodMonitor and a PrometheusRule, so that a real Prometheus can run
 * exactly the configuration an operator-managed Prometheus would. Followed source (prometheus-operator, commit
 * 0022663 of pkg/prometheus/promcfg.go; CRDs here are v0.93.0):
 * - `generatePodMonitorConfig`: job_name `podMonitor/<ns>/<name>/<i>`; `AddHonorLabels` (always written),
 *   `AddHonorTimestamps` (only when set); `generateK8SSDConfig` with role pod and
 *   `getNamespacesFromNamespaceSelector` (any → all, matchNames, else the PodMonitor's namespace); interval,
 *   scrapeTimeout, path, scheme; relabelings in this order: `initRelabelings` (job → __tmp_prometheus_job_name),
 *   `generateRunningFilter` (unless filterRunning: false), selector matchLabels (sorted keys) and
 *   matchExpressions as keep/drop on `__meta_kubernetes_pod_label_*`/`labelpresent_*`, port → keep on
 *   `__meta_kubernetes_pod_container_port_name`, target labels namespace/container/pod, podTargetLabels,
 *   job = `<ns>/<name>` (then jobLabel), endpoint = port, the user's relabelings (`generateRelabelConfig`:
 *   action lower-cased), then `generateAddressShardingRelabelingRules` (hashmod of __address__ into __tmp_hash,
 *   keep `$(SHARD)`, which the config reloader replaces by the shard index); limits via `AddLimitsToYAML`;
 *   metricRelabelings as metric_relabel_configs.
 * - pkg/operator/rules.go `generateRulesConfiguration`: a rule file is the PrometheusRule's `spec` marshalled.
 * Fields the converter does not know fail loudly instead of being skipped.
 */

const SUPPORTED_SPEC = new Set(['selector', 'namespaceSelector', 'podMetricsEndpoints', 'sampleLimit', 'targetLimit', 'labelLimit',
  'labelNameLengthLimit', 'labelValueLengthLimit', 'bodySizeLimit', 'podTargetLabels', 'jobLabel']);
const SUPPORTED_ENDPOINT = new Set(['port', 'path', 'scheme', 'interval', 'scrapeTimeout', 'honorLabels', 'honorTimestamps',
  'relabelings', 'metricRelabelings', 'filterRunning', 'params']);

const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, '_');

/** `generateRelabelConfig`: Prometheus relabel config from the operator's RelabelConfig. */
function relabel(rc: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (rc.sourceLabels?.length) out.source_labels = rc.sourceLabels;
  if (rc.separator !== undefined) out.separator = rc.separator;
  if (rc.targetLabel) out.target_label = rc.targetLabel;
  if (rc.regex) out.regex = rc.regex;
  if (rc.modulus) out.modulus = rc.modulus;
  if (rc.replacement !== undefined) out.replacement = rc.replacement;
  if (rc.action) out.action = String(rc.action).toLowerCase();
  return out;
}

export interface ShardOf { index: number; count: number }

/** The scrape configs the operator generates for one PodMonitor (one per podMetricsEndpoint). */
export function podMonitorScrapeConfigs(pm: KubeObject, shard: ShardOf = { index: 0, count: 1 }): Record<string, unknown>[] {
  if (pm.kind !== 'PodMonitor') throw new Error(`not a PodMonitor: ${pm.kind}`);
  const spec = pm.spec;
  for (const key of Object.keys(spec)) if (!SUPPORTED_SPEC.has(key)) throw new Error(`converter does not support PodMonitor spec.${key}`);
  const ns = pm.metadata.namespace!;
  const name = pm.metadata.name;

  return (spec.podMetricsEndpoints ?? []).map((ep: Record<string, any>, i: number) => {
    for (const key of Object.keys(ep)) if (!SUPPORTED_ENDPOINT.has(key)) throw new Error(`converter does not support podMetricsEndpoints[${i}].${key}`);
    const cfg: Record<string, unknown> = { job_name: `podMonitor/${ns}/${name}/${i}` };
    cfg.honor_labels = ep.honorLabels ?? false;
    if (ep.honorTimestamps !== undefined) cfg.honor_timestamps = ep.honorTimestamps;

    const nsel = spec.namespaceSelector ?? {};
    const namespaces: string[] = nsel.any ? [] : nsel.matchNames?.length ? nsel.matchNames : [ns];
    cfg.kubernetes_sd_configs = [{ role: 'pod', ...(namespaces.length ? { namespaces: { names: namespaces } } : {}) }];
    if (ep.interval) cfg.scrape_interval = ep.interval;
    if (ep.scrapeTimeout) cfg.scrape_timeout = ep.scrapeTimeout;
    if (ep.path) cfg.metrics_path = ep.path;
    if (ep.params) cfg.params = ep.params;
    if (ep.scheme) cfg.scheme = ep.scheme;

    const relabelings: Record<string, unknown>[] = [{ source_labels: ['job'], target_label: '__tmp_prometheus_job_name' }];
    if (ep.filterRunning ?? true) {
      relabelings.push({ action: 'drop', source_labels: ['__meta_kubernetes_pod_phase'], regex: '(Failed|Succeeded)' });
    }
    const matchLabels: Record<string, string> = spec.selector?.matchLabels ?? {};
    for (const k of Object.keys(matchLabels).sort()) {
      relabelings.push({ action: 'keep', source_labels: [`__meta_kubernetes_pod_label_${sanitize(k)}`, `__meta_kubernetes_pod_labelpresent_${sanitize(k)}`], regex: `(${matchLabels[k]});true` });
    }
    for (const exp of spec.selector?.matchExpressions ?? []) {
      const labelSources = [`__meta_kubernetes_pod_label_${sanitize(exp.key)}`, `__meta_kubernetes_pod_labelpresent_${sanitize(exp.key)}`];
      const present = [`__meta_kubernetes_pod_labelpresent_${sanitize(exp.key)}`];
      switch (exp.operator) {
        case 'In': relabelings.push({ action: 'keep', source_labels: labelSources, regex: `(${exp.values.join('|')});true` }); break;
        case 'NotIn': relabelings.push({ action: 'drop', source_labels: labelSources, regex: `(${exp.values.join('|')});true` }); break;
        case 'Exists': relabelings.push({ action: 'keep', source_labels: present, regex: 'true' }); break;
        case 'DoesNotExist': relabelings.push({ action: 'drop', source_labels: present, regex: 'true' }); break;
        default: throw new Error(`unknown selector operator ${exp.operator}`);
      }
    }
    if (ep.port) relabelings.push({ action: 'keep', source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: ep.port });
    relabelings.push(
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
    );
    for (const l of spec.podTargetLabels ?? []) {
      relabelings.push({ source_labels: [`__meta_kubernetes_pod_label_${sanitize(l)}`], target_label: sanitize(l), regex: '(.+)', replacement: '${1}' });
    }
    relabelings.push({ target_label: 'job', replacement: `${ns}/${name}` });
    if (spec.jobLabel) {
      relabelings.push({ source_labels: [`__meta_kubernetes_pod_label_${sanitize(spec.jobLabel)}`], target_label: 'job', regex: '(.+)', replacement: '${1}' });
    }
    if (ep.port) relabelings.push({ target_label: 'endpoint', replacement: ep.port });
    relabelings.push(...(ep.relabelings ?? []).map(relabel));
    relabelings.push(
      { source_labels: ['__address__'], target_label: '__tmp_hash', modulus: shard.count, action: 'hashmod' },
      { source_labels: ['__tmp_hash'], regex: String(shard.index), action: 'keep' },
    );
    cfg.relabel_configs = relabelings;

    if (spec.sampleLimit !== undefined) cfg.sample_limit = spec.sampleLimit;
    if (spec.targetLimit !== undefined) cfg.target_limit = spec.targetLimit;
    if (spec.labelLimit !== undefined) cfg.label_limit = spec.labelLimit;
    if (spec.labelNameLengthLimit !== undefined) cfg.label_name_length_limit = spec.labelNameLengthLimit;
    if (spec.labelValueLengthLimit !== undefined) cfg.label_value_length_limit = spec.labelValueLengthLimit;
    if (spec.bodySizeLimit !== undefined) cfg.body_size_limit = spec.bodySizeLimit;
    if (ep.metricRelabelings?.length) cfg.metric_relabel_configs = ep.metricRelabelings.map(relabel);
    return cfg;
  });
}

/** The rule file the operator generates from a PrometheusRule: its spec. */
export function prometheusRuleFile(rule: KubeObject): { groups: unknown[] } {
  if (rule.kind !== 'PrometheusRule') throw new Error(`not a PrometheusRule: ${rule.kind}`);
  return { groups: rule.spec.groups ?? [] };
}

/**
 * A Prometheus configuration as an operator-managed Prometheus would run it for the PodMonitors and
 * PrometheusRules among `objects`, plus a self-scrape job like kube-prometheus-stack's own ServiceMonitor.
 * Returns the config and the rule file (YAML), for materializeConfig.
 */
export function operatorPrometheusConfig(objects: KubeObject[], opts: { scrapeInterval: string; evaluationInterval: string }): { configYaml: string; rulesYaml: string } {
  const podMonitors = objects.filter(o => o.kind === 'PodMonitor');
  const rules = objects.filter(o => o.kind === 'PrometheusRule');
  const config = {
    global: { scrape_interval: opts.scrapeInterval, evaluation_interval: opts.evaluationInterval },
    rule_files: ['/etc/prometheus/rules/rules.yml'],
    scrape_configs: [
      ...podMonitors.flatMap(pm => podMonitorScrapeConfigs(pm)),
      { job_name: 'prometheus', scrape_interval: opts.scrapeInterval, static_configs: [{ targets: ['localhost:9090'] }] },
    ],
  };
  const groups = rules.flatMap(r => prometheusRuleFile(r).groups);
  return { configYaml: YAML.stringify(config, { lineWidth: 0 }), rulesYaml: YAML.stringify({ groups }, { lineWidth: 0 }) };
}
