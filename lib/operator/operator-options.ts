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
   * @default DEFAULT_DASHBOARD_LABEL ('grafana_dashboard')
   */
  readonly dashboardLabel?: string;
  /**
   * Value of that label.
   * @default DEFAULT_DASHBOARD_LABEL_VALUE ('1')
   */
  readonly dashboardLabelValue?: string;
  /**
   * Namespace of the dashboard ConfigMaps (the sidecar of kube-prometheus-stack searches all namespaces).
   * @default - the stack's namespace
   */
  readonly dashboardNamespace?: string;
}

/** Label key kube-prometheus-stack's Grafana sidecar looks for on dashboard ConfigMaps. */
export const DEFAULT_DASHBOARD_LABEL = 'grafana_dashboard';
/** Value of that label kube-prometheus-stack's Grafana sidecar looks for. */
export const DEFAULT_DASHBOARD_LABEL_VALUE = '1';

/**
 * Validated operator options with defaults.
 * @internal
 */
export function resolveOperatorOptions(o: OperatorOptions, namespace: string): Required<OperatorOptions> {
  return {
    podMonitorLabels: checkLabels('operator.podMonitorLabels', o.podMonitorLabels ?? {}),
    ruleLabels: checkLabels('operator.ruleLabels', o.ruleLabels ?? {}),
    dashboardLabel: checkLabelKey('operator.dashboardLabel', o.dashboardLabel ?? DEFAULT_DASHBOARD_LABEL),
    dashboardLabelValue: checkLabelValue('operator.dashboardLabelValue', o.dashboardLabelValue ?? DEFAULT_DASHBOARD_LABEL_VALUE),
    dashboardNamespace: checkDnsLabel('operator.dashboardNamespace', o.dashboardNamespace ?? namespace),
  };
}
