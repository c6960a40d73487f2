import { AlertOptions } from '../../core/alerts';
import { VendorCatalog } from '../../core/vendor';
import { AlertmanagerOptions } from '../alertmanager/alertmanager-config';
import { GrafanaOptions } from '../grafana/grafana-options';
import { NetworkPolicyOptions } from '../network/network-policy-options';
import { OperatorOptions } from '../operator/operator-options';
import { DestinationOptions } from '../prometheus/destinations';
import { OperatorPrometheusOptions, PrometheusOptions } from '../prometheus/prometheus-options';

/**
 * `standalone`: the stack runs its own Prometheus (optionally sharded) and Grafana.
 * `prometheus-operator`: the stack runs nothing and emits a PodMonitor, a PrometheusRule and dashboard
 * ConfigMaps for an existing prometheus-operator / kube-prometheus-stack.
 */
export type MetricsStackMode = 'standalone' | 'prometheus-operator';

/** The bundled Grafana dashboards. */
export interface DashboardsOptions {
  /**
   * Provision the five dashboards (Overview, Bandwidth, Destinations, Performance & Health, Cost & Budget).
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Grafana unit of the billing currency on the cost dashboard, e.g. 'currencyEUR' or 'currency:CHF'.
   * @default DEFAULT_CURRENCY_UNIT ('currencyUSD')
   */
  readonly currencyUnit?: string;
}

/** Props of both modes. */
export interface MetricsStackCommonProps {
  /** The vendor model. */
  readonly vendors: VendorCatalog;
  /** Namespaces whose crawler sidecars are scraped (MeshTelemetry's namespaces). */
  readonly crawlerNamespaces: string[];
  /**
   * Namespace of Prometheus and Grafana.
   * @default DEFAULT_MONITORING_NAMESPACE ('monitoring')
   */
  readonly namespace?: string;
  /**
   * Create the Namespace object.
   * @default - true in mode 'standalone'; false in mode 'prometheus-operator', whose namespace already exists
   */
  readonly createNamespace?: boolean;
  /**
   * Alert thresholds.
   * @default - see AlertOptions
   */
  readonly alerts?: AlertOptions;
  /**
   * The bundled dashboards.
   * @default - all five, in USD
   */
  readonly dashboards?: DashboardsOptions;
  /**
   * NetworkPolicies: default deny for the stack's pods, Grafana from `grafana.allowFrom`, Prometheus from
   * Grafana, crawler pods from Prometheus on the sidecar metrics port.
   * @default - on in mode 'standalone', see NetworkPolicyOptions; off in mode 'prometheus-operator'
   */
  readonly networkPolicies?: NetworkPolicyOptions;
  /**
   * Bound on the distinct destinations of the per-destination rules.
   * @default - no folding, at most 200 destinations per vendor (and protocol) by name, the rest as "(other)"
   */
  readonly destinations?: DestinationOptions;
}

/** Props of mode 'standalone': the stack runs its own Prometheus (optionally sharded), Grafana and Alertmanager. */
export interface StandaloneMetricsStackProps extends MetricsStackCommonProps {
  /**
   * Run an own Prometheus and Grafana.
   * @default DEFAULT_METRICS_STACK_MODE ('standalone')
   */
  readonly mode?: 'standalone';
  /**
   * Prometheus settings.
   * @default - see PrometheusOptions
   */
  readonly prometheus?: PrometheusOptions;
  /**
   * Grafana settings.
   * @default - see GrafanaOptions
   */
  readonly grafana?: GrafanaOptions;
  /**
   * Deploy Alertmanager with these receivers; Prometheus sends its alerts there.
   * @default - no Alertmanager: alerts are visible in Prometheus and Grafana only
   */
  readonly alertmanager?: AlertmanagerOptions;
  /** Mode 'prometheus-operator' only. */
  readonly operator?: never;
}

/**
 * Props of mode 'prometheus-operator': the stack runs nothing and emits a PodMonitor, a PrometheusRule and
 * dashboard ConfigMaps for an existing prometheus-operator / kube-prometheus-stack.
 */
export interface OperatorMetricsStackProps extends MetricsStackCommonProps {
  readonly mode: 'prometheus-operator';
  /**
   * How an existing prometheus-operator and its Grafana find the objects.
   * @default - see OperatorOptions
   */
  readonly operator?: OperatorOptions;
  /**
   * The scrape settings of the PodMonitor.
   * @default - see PrometheusOptions
   */
  readonly prometheus?: OperatorPrometheusOptions;
  /** Mode 'standalone' only: dashboards go to your Grafana's sidecar. */
  readonly grafana?: never;
  /** Mode 'standalone' only: your Prometheus sends alerts to your Alertmanager. */
  readonly alertmanager?: never;
}

/** Props per mode: a setting the chosen mode does not use is a type error (and, from JavaScript, a synth error). */
export type MetricsStackProps = StandaloneMetricsStackProps | OperatorMetricsStackProps;
