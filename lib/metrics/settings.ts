import { AlertOptions, resolveAlertOptions } from '../../core/alerts';
import { DestinationGuard } from '../../core/destinations';
import {
  PropertyChecks, PropertyError, checkCurrencyUnit, checkDnsLabel, checkDnsName, checkHttpUrl, checkNonEmpty, checkNumber, checkRetentionSize, checkUnique,
  parseDuration, parseStorageQuantity,
} from '../../core/validation';
import { DEFAULT_RULE_INTERVAL_SECONDS, groupIntervalSeconds } from '../../core/rules';
import { VendorCatalog } from '../../core/vendor';
import { AlertmanagerOptions, ResolvedAlertmanagerConfig, resolveAlertmanagerConfig } from '../alertmanager/alertmanager-config';
import { GrafanaOptions } from '../grafana/grafana-options';
import { DEFAULT_DNS_PEERS, NetworkPeer, checkCidr, checkPeers, checkPort } from '../network/peers';
import { OperatorOptions, resolveOperatorOptions } from '../operator/operator-options';
import { resolveDestinationGuard } from '../prometheus/destinations';
import { PrometheusOptions, STANDALONE_ONLY_PROMETHEUS } from '../prometheus/prometheus-options';
import { ResolvedGlobalTier, resolveGlobalTier } from '../prometheus/global-tier';
import { RemoteWriteOptions, checkRemoteWrite } from '../prometheus/remote-write';
import { PodScrape, resolvePodScrapes } from '../prometheus/scrape-config';
import { MetricsStackMode, MetricsStackProps } from './metrics-stack-props';

/** Rule evaluation interval assumed in mode 'prometheus-operator' and set on the contract's groups there. */
const OPERATOR_EVALUATION_INTERVAL = '30s';

// The defaults of MetricsStack's props, which their docs name.
/** MetricsStack's mode when none is given. */
export const DEFAULT_METRICS_STACK_MODE = 'standalone';
/** Namespace of Prometheus and Grafana (and of your Prometheus, for DemoGateway's `monitoringNamespace`). */
export const DEFAULT_MONITORING_NAMESPACE = 'monitoring';
/** How long Prometheus keeps samples. */
export const DEFAULT_RETENTION = '30d';
/** Size of Prometheus' data PersistentVolumeClaim. */
export const DEFAULT_STORAGE_SIZE = '50Gi';
/** Scrape interval of the crawler sidecars. */
export const DEFAULT_SCRAPE_INTERVAL = '15s';
/** Rule evaluation interval of the stack's Prometheus: the core's DEFAULT_RULE_INTERVAL_SECONDS. */
export const DEFAULT_EVALUATION_INTERVAL = `${DEFAULT_RULE_INTERVAL_SECONDS}s`;
/** Prometheus scrapers of the crawler targets: one, unsharded. */
export const DEFAULT_SHARDS = 1;
/** Sample limit of one crawler sidecar in the totals scrape job. */
export const DEFAULT_SAMPLE_LIMIT = 20000;
/** Sample limit of one crawler sidecar in the per-destination scrape job. */
export const DEFAULT_DESTINATION_SAMPLE_LIMIT = 20000;
/** Secret with Grafana's admin user and password. */
export const DEFAULT_GRAFANA_ADMIN_SECRET_NAME = 'grafana-admin';
/** Ports of the Kubernetes API server that NetworkPolicies let Prometheus reach: managed clusters, kubeadm. */
export const DEFAULT_KUBERNETES_API_PORTS: readonly number[] = [443, 6443];

/** MetricsStack's props, checked and with every default applied: what the backends build from. */
export interface MetricsSettings {
  readonly mode: MetricsStackMode;
  readonly vendors: VendorCatalog;
  readonly namespace: string;
  readonly createNamespace: boolean;
  readonly crawlerNamespaces: string[];
  /** The Prometheus props as given, for what the backends pass on unchanged (image, resources, ...). */
  readonly prometheus: PrometheusOptions;
  readonly shards: number;
  readonly podScrapes: PodScrape[];
  readonly remoteWrite: RemoteWriteOptions[];
  /** Set when an external engine is the global tier (`prometheus.globalTier`). */
  readonly globalTier?: ResolvedGlobalTier;
  readonly retention: string;
  readonly storageSize: string;
  readonly scrapeInterval: string;
  readonly scrapeMs: number;
  readonly evaluationInterval: string;
  /** The rule evaluation interval in whole seconds, which range totals and hourly averages weigh rule samples by. */
  readonly ruleIntervalSeconds: number;
  readonly sampleLimit: number;
  readonly destinationSampleLimit: number;
  readonly alerts: Required<AlertOptions>;
  readonly destinations: DestinationGuard;
  readonly grafana: GrafanaOptions & { readonly adminSecretName: string };
  readonly clusterWideDiscovery: boolean;
  readonly networkPolicies: {
    readonly enabled: boolean;
    readonly prometheusAllowFrom: readonly NetworkPeer[];
    readonly grafanaAllowFrom: readonly NetworkPeer[];
    readonly alertmanagerAllowFrom: readonly NetworkPeer[];
    readonly dns: readonly NetworkPeer[];
    readonly crawlerAllowFrom: readonly NetworkPeer[];
    readonly kubernetesApiCidrs?: string[];
    readonly kubernetesApiPorts: number[];
  };
  /** Present when Alertmanager is deployed and its receivers are valid. */
  readonly alertmanager?: { readonly options: AlertmanagerOptions; readonly config: ResolvedAlertmanagerConfig };
  /** Mode 'prometheus-operator' only. */
  readonly operator?: Required<OperatorOptions>;
  readonly dashboards: { readonly enabled: boolean; readonly currencyUnit?: string };
}

/**
 * Checks every prop and applies the defaults. Each problem is recorded on `v` (reported at synthesis, all at once)
 * and replaced by its default, so that construction goes on.
 */
export function resolveMetricsSettings(props: MetricsStackProps, v: PropertyChecks): MetricsSettings {
  let mode: MetricsStackMode = props.mode ?? DEFAULT_METRICS_STACK_MODE;
  if (mode !== 'standalone' && mode !== 'prometheus-operator') {
    v.fail('mode', mode, 'must be \'standalone\' or \'prometheus-operator\'');
    mode = DEFAULT_METRICS_STACK_MODE;
  }
  const operatorMode = mode === 'prometheus-operator';
  const namespace = v.value(() => checkDnsLabel('namespace', props.namespace ?? DEFAULT_MONITORING_NAMESPACE), DEFAULT_MONITORING_NAMESPACE);
  const crawlerNamespaces = [...v.value(() => {
    const namespaces = checkNonEmpty('crawlerNamespaces', props.crawlerNamespaces);
    namespaces.forEach((ns, i) => checkDnsLabel(`crawlerNamespaces[${i}]`, ns));
    checkUnique('crawlerNamespaces', namespaces);
    return namespaces;
  }, ['crawlers'])];

  const prom: PrometheusOptions = props.prometheus ?? {};
  if (operatorMode) {
    // Settings the user's Prometheus resource owns: refuse them rather than ignore them (a type error in TypeScript).
    for (const key of STANDALONE_ONLY_PROMETHEUS) {
      if (prom[key] !== undefined) v.fail(`prometheus.${key}`, prom[key], 'is not used in mode \'prometheus-operator\': set it on your Prometheus resource');
    }
    if (props.grafana !== undefined) v.fail('grafana', props.grafana, 'is not used in mode \'prometheus-operator\': dashboards go to your Grafana\'s sidecar');
    if (props.alertmanager !== undefined) v.fail('alertmanager', props.alertmanager, 'is not used in mode \'prometheus-operator\': your Prometheus sends alerts to your Alertmanager');
    if (props.networkPolicies?.enabled) {
      v.fail('networkPolicies.enabled', true, 'is not supported in mode \'prometheus-operator\': the stack runs no pods, and crawler ingress must admit your Prometheus');
    }
  } else if (props.operator !== undefined) {
    v.fail('operator', props.operator, 'is only used in mode \'prometheus-operator\'');
  }
  const shards = v.value(() => checkNumber('prometheus.shards', prom.shards ?? DEFAULT_SHARDS, { min: 1, max: 64, integer: true }), DEFAULT_SHARDS);
  const podScrapes = v.value(() => resolvePodScrapes('prometheus.podScrapes', prom.podScrapes ?? []), []);
  const remoteWrite = v.value(() => checkRemoteWrite('prometheus.remoteWrite', prom.remoteWrite ?? []), [] as RemoteWriteOptions[]);
  const globalTier = prom.globalTier === undefined ? undefined : v.value(() => resolveGlobalTier('prometheus.globalTier', prom.globalTier!), undefined);
  const retention = v.value(() => (parseDuration('prometheus.retention', prom.retention ?? DEFAULT_RETENTION), prom.retention ?? DEFAULT_RETENTION), DEFAULT_RETENTION);
  if (prom.retentionSize !== undefined) v.run(() => checkRetentionSize('prometheus.retentionSize', prom.retentionSize!));
  const storageSize = v.value(() => (parseStorageQuantity('prometheus.storageSize', prom.storageSize ?? DEFAULT_STORAGE_SIZE), prom.storageSize ?? DEFAULT_STORAGE_SIZE), DEFAULT_STORAGE_SIZE);
  if (prom.storageClassName !== undefined) v.run(() => checkDnsName('prometheus.storageClassName', prom.storageClassName!));
  const scrapeInterval = prom.scrapeInterval ?? DEFAULT_SCRAPE_INTERVAL;
  const scrapeMs = v.value(() => parseDuration('prometheus.scrapeInterval', scrapeInterval), parseDuration('prometheus.scrapeInterval', DEFAULT_SCRAPE_INTERVAL));
  const evaluationInterval = prom.evaluationInterval ?? (operatorMode ? OPERATOR_EVALUATION_INTERVAL : DEFAULT_EVALUATION_INTERVAL);
  const evaluationMs = v.value(() => parseDuration('prometheus.evaluationInterval', evaluationInterval), DEFAULT_RULE_INTERVAL_SECONDS * 1000);
  const ruleIntervalSeconds = Math.max(1, Math.round(evaluationMs / 1000));
  const sampleLimit = v.value(() => checkNumber('prometheus.sampleLimit', prom.sampleLimit ?? DEFAULT_SAMPLE_LIMIT, { min: 1, integer: true }), DEFAULT_SAMPLE_LIMIT);
  const destinationSampleLimit = v.value(() => checkNumber('prometheus.destinationSampleLimit', prom.destinationSampleLimit ?? DEFAULT_DESTINATION_SAMPLE_LIMIT, { min: 1, integer: true }), DEFAULT_DESTINATION_SAMPLE_LIMIT);
  const alerts = v.value(() => resolveAlertOptions(props.alerts), resolveAlertOptions(undefined));
  const destinations = v.value(() => resolveDestinationGuard(props.destinations, props.vendors), resolveDestinationGuard(undefined, props.vendors));
  // The top list reads its own previous evaluation, which a query sees for 5 minutes (Prometheus' lookback delta).
  const listIntervalSeconds = groupIntervalSeconds('destinations', ruleIntervalSeconds);
  if (destinations.hysteresis > 0 && listIntervalSeconds >= 300) {
    v.run(() => {
      throw new PropertyError('destinations.hysteresis', destinations.hysteresis, `needs the destination rules evaluated more often than every 5 minutes (every ${listIntervalSeconds} s with 'prometheus.evaluationInterval' ${evaluationInterval}): the top list reads its previous evaluation; set it to 0 or the interval below 2m30s`);
    });
  }
  const grafana = props.grafana ?? {};
  const adminSecretName = grafana.adminSecretName ?? DEFAULT_GRAFANA_ADMIN_SECRET_NAME;
  v.run(() => checkDnsName('grafana.adminSecretName', adminSecretName));
  const netpol = props.networkPolicies ?? {};
  const grafanaAllowFrom = v.value(() => checkPeers('grafana.allowFrom', grafana.allowFrom ?? []), []);
  const prometheusAllowFrom = v.value(() => checkPeers('prometheus.allowFrom', prom.allowFrom ?? []), []);
  const dns = v.value(() => checkPeers('networkPolicies.dns', netpol.dns ?? [...DEFAULT_DNS_PEERS]), DEFAULT_DNS_PEERS);
  const crawlerAllowFrom = v.value(() => checkPeers('networkPolicies.crawlerAllowFrom', netpol.crawlerAllowFrom ?? []), []);
  netpol.kubernetesApiCidrs?.forEach((c, i) => v.run(() => checkCidr(`networkPolicies.kubernetesApiCidrs[${i}]`, c)));
  const kubernetesApiPorts = v.value(() => checkNonEmpty('networkPolicies.kubernetesApiPorts', netpol.kubernetesApiPorts ?? [...DEFAULT_KUBERNETES_API_PORTS])
    .map((p, i) => checkPort(`networkPolicies.kubernetesApiPorts[${i}]`, p)), [...DEFAULT_KUBERNETES_API_PORTS]);
  const am = props.alertmanager;
  const amConfig = am ? v.value(() => resolveAlertmanagerConfig(am), undefined) : undefined;
  const alertmanagerAllowFrom = v.value(() => checkPeers('alertmanager.allowFrom', am?.allowFrom ?? []), []);
  if (am?.storageSize !== undefined) v.run(() => parseStorageQuantity('alertmanager.storageSize', am.storageSize!));
  if (am?.storageClassName !== undefined) v.run(() => checkDnsName('alertmanager.storageClassName', am.storageClassName!));
  if (grafana.datasourceUrl !== undefined) v.run(() => checkHttpUrl('grafana.datasourceUrl', grafana.datasourceUrl!));
  const operator = operatorMode
    ? v.value(() => resolveOperatorOptions(props.operator ?? {}, namespace), resolveOperatorOptions({}, namespace))
    : undefined;
  const dashboards = props.dashboards ?? {};
  const currencyUnit = dashboards.currencyUnit === undefined ? undefined : v.value(() => checkCurrencyUnit('dashboards.currencyUnit', dashboards.currencyUnit!), undefined);

  return {
    mode,
    vendors: props.vendors,
    namespace,
    createNamespace: props.createNamespace ?? !operatorMode,
    crawlerNamespaces,
    prometheus: prom,
    shards,
    podScrapes,
    remoteWrite,
    globalTier,
    retention,
    storageSize,
    scrapeInterval,
    scrapeMs,
    evaluationInterval,
    ruleIntervalSeconds,
    sampleLimit,
    destinationSampleLimit,
    alerts,
    destinations,
    grafana: { ...grafana, adminSecretName },
    // Refused above in mode prometheus-operator, whose PodMonitor names its namespaces.
    clusterWideDiscovery: operatorMode ? false : prom.clusterWideDiscovery ?? false,
    networkPolicies: {
      enabled: netpol.enabled ?? !operatorMode,
      prometheusAllowFrom,
      grafanaAllowFrom,
      alertmanagerAllowFrom,
      dns,
      crawlerAllowFrom,
      kubernetesApiCidrs: netpol.kubernetesApiCidrs,
      kubernetesApiPorts,
    },
    alertmanager: am && amConfig ? { options: am, config: amConfig } : undefined,
    operator,
    dashboards: { enabled: dashboards.enabled ?? true, currencyUnit },
  };
}
