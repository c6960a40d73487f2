import { checkDnsLabel, checkLabelKey, checkLabelValue, checkLabels } from '../../core/validation';

/** Settings of mode 'prometheus-operator': how your Prometheus and Grafana find the emitted objects. */
export interface OperatorOptions {
  /**
   * Labels on the PodMonitor, matching your Prometheus resource's `podMonitorSelector`. kube-prometheus-stack
   * selects `release: <helm release name>` unless `podMonitorSelectorNilUsesHelmValues` is false.
   * @default - none (a Prometheus that selects every PodMonitor)
   */
  readonly podMonitorLabels?: Record<string, string>;
  /**
   * Labels on the PrometheusRule, matching your Prometheus resource's `ruleSelector`
   * (kube-prometheus-stack: `release: <helm release name>`).
   * @default - none (a Prometheus that selects every PrometheusRule)
   */
  readonly ruleLabels?: Record<string, string>;
  /**
   * Label key the Grafana sidecar looks for on dashboard ConfigMaps.
   * @default 'grafana_dashboard'
   */
  readonly dashboardLabel?: string;
  /**
   * Value of that label.
   * @default '1'
   */
  readonly dashboardLabelValue?: string;
  /**
   * Namespace of the dashboard ConfigMaps (the sidecar of kube-prometheus-stack searches all namespaces).
   * @default - the stack's namespace
   */
  readonly dashboardNamespace?: string;
}

/**
 * Validated operator options with defaults.
 * @internal
 */
export function resolveOperatorOptions(o: OperatorOptions, namespace: string): Required<OperatorOptions> {
  return {
    podMonitorLabels: checkLabels('operator.podMonitorLabels', o.podMonitorLabels ?? {}),
    ruleLabels: checkLabels('operator.ruleLabels', o.ruleLabels ?? {}),
    dashboardLabel: checkLabelKey('operator.dashboardLabel', o.dashboardLabel ?? 'grafana_dashboard'),
    dashboardLabelValue: checkLabelValue('operator.dashboardLabelValue', o.dashboardLabelValue ?? '1'),
    dashboardNamespace: checkDnsLabel('operator.dashboardNamespace', o.dashboardNamespace ?? namespace),
  };
}
