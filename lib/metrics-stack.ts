import { Construct } from 'constructs';
import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { DashboardJson, ProxyDashboardsProps, proxyDashboards } from '../dashboards';
import { AlertmanagerOptions, DEFAULT_ALERTMANAGER_IMAGE, resolveAlertmanagerConfig } from './alertmanager/alertmanager-config';
import { ALERTMANAGER_PORT, AlertmanagerServer } from './alertmanager/alertmanager-server';
import { DATASOURCE_UID, GRAFANA_PORT, GrafanaServer } from './grafana/grafana-server';
import { MonitoringNetworkPolicies } from './network/monitoring-network-policies';
import { NetworkPolicyOptions } from './network/network-policy-options';
import { DEFAULT_DNS_PEERS, NetworkPeer, checkCidr, checkPeers, checkPort } from './network/peers';
import { DashboardModel } from './grafana/dashboard';
import { OperatorMonitoring } from './operator/operator-monitoring';
import { OperatorOptions, resolveOperatorOptions } from './operator/operator-options';
import { operatorJobLabel } from './operator/pod-monitor';
import { PROMETHEUS_PORT, PrometheusServer } from './prometheus/prometheus-server';
import { createPrometheusServers } from './prometheus/prometheus-topology';
import { AlertOptions, alertGroups, resolveAlertOptions, scaleOutAlertGroup } from '../core/alerts';
import { DestinationOptions, resolveDestinationGuard } from './prometheus/destinations';
import { SIDECAR_METRICS_PORT } from './prometheus/scrape-config';
import { RemoteWriteOptions, checkRemoteWrite } from './prometheus/remote-write';
import { RuleGroup, contractRules, isAlertingRule, placeRules, ruleGroups } from '../core/rules';
import { CrawlerScrapeOptions, PodScrape, crawlerScrapeJobs, podScrapeJob, resolvePodScrapes } from './prometheus/scrape-config';
import { DEMO_GATEWAY_JOB, DESTINATION_SCRAPE_JOB, DestinationGuard, SCRAPE_JOB } from '../core/metric-contract';
import { VendorCatalog } from '../core/vendor';
import {
  PropertyChecks, PropertyError, checkCurrencyUnit, checkDnsLabel, checkDnsName, checkHttpUrl, checkNonEmpty, checkNumber, checkRetentionSize, checkUnique, parseDuration, parseStorageQuantity, urlPort,
} from '../core/validation';

/** Prometheus settings. */
export interface PrometheusOptions {
  /**
   * Prometheus image.
   * @default 'quay.io/prometheus/prometheus:v2.53.2'
   */
  readonly image?: string;
  /**
   * How long samples are kept (`--storage.tsdb.retention.time`).
   * @default '30d'
   */
  readonly retention?: string;
  /**
   * Size cap of the TSDB (`--storage.tsdb.retention.size`), e.g. '45GB'.
   * @default - no size cap
   */
  readonly retentionSize?: string;
  /**
   * Size of the data PersistentVolumeClaim.
   * @default '50Gi'
   */
  readonly storageSize?: string;
  /**
   * StorageClass of the data PersistentVolumeClaim.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;
  /**
   * Scrape interval of the crawler sidecars.
   * @default '15s'
   */
  readonly scrapeInterval?: string;
  /**
   * Rule evaluation interval.
   * @default '30s'
   */
  readonly evaluationInterval?: string;
  /**
   * Most samples of totals (requests, connections, bytes, codes, latency: about 50 per pod, whatever it crawls) one
   * crawler sidecar may expose after filtering; a target above it fails its scrape instead of flooding Prometheus.
   * @default 20000
   */
  readonly sampleLimit?: number;
  /**
   * Most per-destination samples (one per host and response code, and per TLS server name) one crawler sidecar may
   * expose; a pod above it loses its destination detail only: its requests count under destination
   * "(not measured)" and alert CrawlerDestinationsNotMeasured fires. Its totals stay exact.
   * @default 20000
   */
  readonly destinationSampleLimit?: number;
  /**
   * Container resources.
   * @default - requests 500m CPU / 2Gi, limits 2 CPU / 4Gi
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Discover crawler pods in every namespace (a ClusterRole) instead of the crawler namespaces only
   * (a Role in each): pods of the crawler namespaces, and pods labelled `proxy-vendor` anywhere.
   * @default false
   */
  readonly clusterWideDiscovery?: boolean;
  /**
   * Clients besides Grafana allowed to reach Prometheus (port 9090) when NetworkPolicies are on.
   * `kubectl port-forward` is not subject to NetworkPolicies.
   * @default - none
   */
  readonly allowFrom?: NetworkPeer[];
  /**
   * Prometheus scrapers that split the crawler targets by hashmod of the target address, each target scraped by
   * exactly one. Above 1, a global Prometheus (`prometheus`, the one Grafana queries) receives the shards'
   * rule outputs by remote write and evaluates the vendor-level rules and alerts; see the README for where each
   * rule runs. Every server gets `storageSize`, `retention` and `resources`.
   * @default 1
   */
  readonly shards?: number;
  /**
   * Horizontally scaled stores (Mimir, Thanos Receive, VictoriaMetrics) that the Prometheus servers send
   * samples to. Sharded, each shard sends its own series and the global Prometheus only what it computed.
   * @default - none
   */
  readonly remoteWrite?: RemoteWriteOptions[];
  /**
   * Pods scraped besides the crawler sidecars, e.g. `DemoGateway.scrape`: one job each (equal ones once), on the
   * Prometheus Grafana reads, with discovery RBAC and network policy egress for their namespaces.
   * @default - none
   */
  readonly podScrapes?: PodScrape[];
}

/** Grafana settings. */
export interface GrafanaOptions {
  /**
   * Grafana image.
   * @default 'docker.io/grafana/grafana:11.6.0'
   */
  readonly image?: string;
  /**
   * Secret (in the monitoring namespace) with keys `admin-user` and `admin-password`; create it before
   * applying. There is no default password.
   * @default 'grafana-admin'
   */
  readonly adminSecretName?: string;
  /**
   * Container resources.
   * @default - requests 100m CPU / 256Mi, limits 1 CPU / 512Mi
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Who may reach Grafana (port 3000) when NetworkPolicies are on, e.g. your ingress controller's
   * namespace. `kubectl port-forward` is not subject to NetworkPolicies and always works.
   * @default - none: Grafana is reached through `kubectl port-forward` only
   */
  readonly allowFrom?: NetworkPeer[];
  /**
   * URL of the Prometheus-compatible query API behind the datasource, e.g. a long-term store's
   * (`http://mimir-query-frontend.mimir.svc:8080/prometheus`).
   * @default - the stack's Prometheus (the global one when sharded)
   */
  readonly datasourceUrl?: string;
}

/**
 * `standalone`: the stack runs its own Prometheus (optionally sharded) and Grafana.
 * `prometheus-operator`: the stack runs nothing and emits a PodMonitor, a PrometheusRule and dashboard
 * ConfigMaps for an existing prometheus-operator / kube-prometheus-stack.
 */
export type MetricsStackMode = 'standalone' | 'prometheus-operator';

/** Options of `addRuleGroup`. */
export interface RuleGroupOptions {
  /**
   * Evaluate on every shard instead of the global Prometheus: for rules over raw sidecar series, which only the
   * shards have. Their outputs are sent to the global Prometheus; keep `pod` in them or sum them there.
   * Needs `prometheus.shards` > 1.
   * @default false
   */
  readonly onShards?: boolean;
}

/** The bundled Grafana dashboards. */
export interface DashboardsOptions {
  /**
   * Provision the five dashboards (Overview, Bandwidth, Destinations, Performance & Health, Cost & Budget).
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Grafana unit of the billing currency on the cost dashboard, e.g. 'currencyEUR' or 'currency:CHF'.
   * @default 'currencyUSD'
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
   * @default 'monitoring'
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
   * @default 'standalone'
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

/** The Prometheus settings that apply to the PodMonitor; your Prometheus resource owns the rest. */
export type OperatorPrometheusOptions = Omit<PrometheusOptions, typeof STANDALONE_ONLY_PROMETHEUS[number]>;

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

export const DEFAULT_PROMETHEUS_IMAGE = 'quay.io/prometheus/prometheus:v2.53.2';
export const DEFAULT_GRAFANA_IMAGE = 'docker.io/grafana/grafana:11.6.0';

/** Props that only mode 'standalone' uses. */
const STANDALONE_ONLY_PROMETHEUS = [
  'image', 'retention', 'retentionSize', 'storageSize', 'storageClassName', 'evaluationInterval', 'resources', 'shards', 'remoteWrite',
  'clusterWideDiscovery', 'allowFrom',
] as const;
/** Uid of the Prometheus datasource kube-prometheus-stack's Grafana provisions. */
const OPERATOR_DATASOURCE_UID = 'prometheus';
/** Rule evaluation interval assumed in mode 'prometheus-operator' and set on the contract's groups there. */
const OPERATOR_EVALUATION_INTERVAL = '30s';


/**
 * Prometheus (scrape job for crawler sidecars, rules, storage) and Grafana (datasource, dashboards)
 * in one namespace, or (mode 'prometheus-operator') the PodMonitor, PrometheusRule and dashboard ConfigMaps
 * for an existing monitoring stack. Add recording rules and alerts with `addRuleGroup`, dashboards with `addDashboard`.
 */
export class MetricsStack extends Construct {
  public readonly mode: MetricsStackMode;
  public readonly namespace: string;
  public readonly crawlerNamespaces: string[];
  public readonly vendors: VendorCatalog;
  public readonly retention: string;
  public readonly scrapeInterval: string;
  public readonly sampleLimit: number;
  /** Sample limit of the per-destination scrape job. */
  public readonly destinationSampleLimit: number;
  /** Number of Prometheus shards scraping the crawler targets (1 in mode 'prometheus-operator': yours decides). */
  public readonly shards: number;
  /** Value of the crawler targets' `job` label in the totals job, which the rules select on. */
  public readonly scrapeJob: string;
  /** Value of the `job` label of the per-destination scrape job. */
  public readonly destinationScrapeJob: string;
  /** In-cluster URL of the Prometheus to query (the global one when sharded); undefined in mode 'prometheus-operator'. */
  public readonly prometheusUrl: string | undefined;
  /** The resolved destination bound of the per-destination rules. */
  public readonly destinations: DestinationGuard;
  /** The bundled dashboards as provisioned (empty when turned off). */
  public readonly dashboards: DashboardJson[];
  /** In-cluster URL of Alertmanager, when deployed. */
  public readonly alertmanagerUrl?: string;
  /** Whether Prometheus discovers pods in every namespace. */
  public readonly clusterWideDiscovery: boolean;
  /** Whether NetworkPolicies are synthesized. */
  public readonly networkPolicies: boolean;
  /** Pods scraped besides the crawler sidecars. */
  public readonly podScrapes: readonly PodScrape[];
  /** @internal */
  public readonly _prometheus: PrometheusServer | undefined;
  /** @internal */
  public readonly _shards: PrometheusServer[] = [];
  /** @internal */
  public readonly _grafana: GrafanaServer | undefined;
  /** @internal */
  public readonly _operator: OperatorMonitoring | undefined;
  /** @internal */
  public readonly _alertmanager?: AlertmanagerServer;

  constructor(scope: Construct, id: string, props: MetricsStackProps) {
    super(scope, id);
    // Every invalid prop is reported at synthesis, all at once; construction goes on with defaults.
    const v = new PropertyChecks(this);
    this.mode = props.mode ?? 'standalone';
    if (this.mode !== 'standalone' && this.mode !== 'prometheus-operator') {
      v.fail('mode', this.mode, 'must be \'standalone\' or \'prometheus-operator\'');
      this.mode = 'standalone';
    }
    const operatorMode = this.mode === 'prometheus-operator';
    this.vendors = props.vendors;
    this.namespace = v.value(() => checkDnsLabel('namespace', props.namespace ?? 'monitoring'), 'monitoring');
    this.crawlerNamespaces = [...v.value(() => {
      const namespaces = checkNonEmpty('crawlerNamespaces', props.crawlerNamespaces);
      namespaces.forEach((ns, i) => checkDnsLabel(`crawlerNamespaces[${i}]`, ns));
      checkUnique('crawlerNamespaces', namespaces);
      return namespaces;
    }, ['crawlers'])];

    const prom: PrometheusOptions = props.prometheus ?? {};
    if (operatorMode) {
      // Settings the user's Prometheus resource owns: refuse them rather than ignore them.
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
    this.shards = v.value(() => checkNumber('prometheus.shards', prom.shards ?? 1, { min: 1, max: 64, integer: true }), 1);
    const podScrapes = this.podScrapes = v.value(() => resolvePodScrapes('prometheus.podScrapes', prom.podScrapes ?? []), []);
    const remoteWrite = v.value(() => checkRemoteWrite('prometheus.remoteWrite', prom.remoteWrite ?? []), [] as ReturnType<typeof checkRemoteWrite>);
    this.retention = v.value(() => (parseDuration('prometheus.retention', prom.retention ?? '30d'), prom.retention ?? '30d'), '30d');
    if (prom.retentionSize !== undefined) v.run(() => checkRetentionSize('prometheus.retentionSize', prom.retentionSize!));
    const storageSize = v.value(() => (parseStorageQuantity('prometheus.storageSize', prom.storageSize ?? '50Gi'), prom.storageSize ?? '50Gi'), '50Gi');
    if (prom.storageClassName !== undefined) v.run(() => checkDnsName('prometheus.storageClassName', prom.storageClassName!));
    this.scrapeInterval = prom.scrapeInterval ?? '15s';
    const scrapeMs = v.value(() => parseDuration('prometheus.scrapeInterval', this.scrapeInterval), 15_000);
    const evaluationInterval = prom.evaluationInterval ?? (operatorMode ? OPERATOR_EVALUATION_INTERVAL : '30s');
    const evaluationMs = v.value(() => parseDuration('prometheus.evaluationInterval', evaluationInterval), 30_000);
    this.sampleLimit = v.value(() => checkNumber('prometheus.sampleLimit', prom.sampleLimit ?? 20000, { min: 1, integer: true }), 20000);
    this.destinationSampleLimit = v.value(() => checkNumber('prometheus.destinationSampleLimit', prom.destinationSampleLimit ?? 20000, { min: 1, integer: true }), 20000);
    const alerts = v.value(() => resolveAlertOptions(props.alerts), resolveAlertOptions(undefined));
    this.destinations = v.value(() => resolveDestinationGuard(props.destinations, this.vendors), resolveDestinationGuard(undefined, this.vendors));
    const grafana = props.grafana ?? {};
    const adminSecretName = grafana.adminSecretName ?? 'grafana-admin';
    v.run(() => checkDnsName('grafana.adminSecretName', adminSecretName));
    // Refused above in mode prometheus-operator, whose PodMonitor names its namespaces.
    this.clusterWideDiscovery = operatorMode ? false : prom.clusterWideDiscovery ?? false;
    const netpol = props.networkPolicies ?? {};
    this.networkPolicies = netpol.enabled ?? !operatorMode;
    const grafanaAllowFrom = v.value(() => checkPeers('grafana.allowFrom', grafana.allowFrom ?? []), []);
    const prometheusAllowFrom = v.value(() => checkPeers('prometheus.allowFrom', prom.allowFrom ?? []), []);
    const dnsPeers = v.value(() => checkPeers('networkPolicies.dns', netpol.dns ?? [...DEFAULT_DNS_PEERS]), DEFAULT_DNS_PEERS);
    const crawlerAllowFrom = v.value(() => checkPeers('networkPolicies.crawlerAllowFrom', netpol.crawlerAllowFrom ?? []), []);
    netpol.kubernetesApiCidrs?.forEach((c, i) => v.run(() => checkCidr(`networkPolicies.kubernetesApiCidrs[${i}]`, c)));
    const apiPorts = v.value(() => checkNonEmpty('networkPolicies.kubernetesApiPorts', netpol.kubernetesApiPorts ?? [443, 6443])
      .map((p, i) => checkPort(`networkPolicies.kubernetesApiPorts[${i}]`, p)), [443, 6443]);
    const am = props.alertmanager;
    const amConfig = am ? v.value(() => resolveAlertmanagerConfig(am), undefined) : undefined;
    const amAllowFrom = v.value(() => checkPeers('alertmanager.allowFrom', am?.allowFrom ?? []), []);
    if (am?.storageSize !== undefined) v.run(() => parseStorageQuantity('alertmanager.storageSize', am.storageSize!));
    if (am?.storageClassName !== undefined) v.run(() => checkDnsName('alertmanager.storageClassName', am.storageClassName!));
    if (grafana.datasourceUrl !== undefined) v.run(() => checkHttpUrl('grafana.datasourceUrl', grafana.datasourceUrl!));

    const labels = { 'app.kubernetes.io/part-of': 'proxy-telemetry' };
    if (props.createNamespace ?? !operatorMode) {
      new kplus.Namespace(this, 'Namespace', {
        // warn shows violations of a pod template at apply time; enforce alone only fails pod creation later.
        metadata: { name: this.namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' } },
      });
    }

    const scrape: CrawlerScrapeOptions = {
      namespaces: this.crawlerNamespaces,
      scrapeInterval: this.scrapeInterval,
      // Half the interval (at most 10s): a slow sidecar must not delay the next scrape.
      scrapeTimeout: `${Math.min(10_000, Math.floor(scrapeMs / 2))}ms`,
      sampleLimit: this.sampleLimit,
      destinationSampleLimit: this.destinationSampleLimit,
      labelLimit: 64,
      labelNameLengthLimit: 128,
      labelValueLengthLimit: 2048,
      clusterWide: this.clusterWideDiscovery,
    };

    if (operatorMode) {
      const operator = v.value(() => resolveOperatorOptions(props.operator ?? {}, this.namespace), resolveOperatorOptions({}, this.namespace));
      this.scrapeJob = operatorJobLabel(this.namespace, SCRAPE_JOB);
      this.destinationScrapeJob = operatorJobLabel(this.namespace, DESTINATION_SCRAPE_JOB);
      this._operator = new OperatorMonitoring(this, 'Operator', {
        namespace: this.namespace,
        scrapeJobs: [...crawlerScrapeJobs(scrape), ...podScrapes.map(t => podScrapeJob(t, this.scrapeInterval))],
        podMonitorLabels: operator.podMonitorLabels,
        ruleName: 'proxy-telemetry',
        ruleLabels: operator.ruleLabels,
        dashboardLabel: operator.dashboardLabel,
        dashboardLabelValue: operator.dashboardLabelValue,
        dashboardNamespace: operator.dashboardNamespace,
        labels,
      });
      // An explicit interval: the dashboards' range totals multiply rule samples by it, whatever your global setting.
      for (const group of [...ruleGroups(this.contractRules(evaluationMs)), ...this.contractAlerts(alerts)]) this.addRuleGroup({ ...group, interval: group.interval ?? evaluationInterval });
      [this.dashboardSettings, this.dashboards] = this.provisionDashboards(v, props.dashboards, evaluationMs, OPERATOR_DATASOURCE_UID);
      return;
    }

    this.scrapeJob = SCRAPE_JOB;
    this.destinationScrapeJob = DESTINATION_SCRAPE_JOB;
    const servers = createPrometheusServers(this, {
      common: {
        namespace: this.namespace,
        image: prom.image ?? DEFAULT_PROMETHEUS_IMAGE,
        retention: this.retention,
        retentionSize: prom.retentionSize,
        storageSize,
        storageClassName: prom.storageClassName,
        evaluationInterval,
        scrape,
        alertmanagers: am ? [`alertmanager.${this.namespace}.svc:${ALERTMANAGER_PORT}`] : undefined,
        resources: prom.resources ?? {
          cpu: { request: kplus.Cpu.millis(500), limit: kplus.Cpu.units(2) },
          memory: { request: Size.gibibytes(2), limit: Size.gibibytes(4) },
        },
        labels: { ...labels, 'app.kubernetes.io/name': 'prometheus' },
      },
      shards: this.shards,
      crawlerJobs: [this.scrapeJob, this.destinationScrapeJob],
      remoteWrite,
      podScrapes,
    });
    this._prometheus = servers.main;
    this._shards = servers.shards;
    const rules = this.contractRules(evaluationMs);
    const alerting = this.contractAlerts(alerts);
    if (this._shards.length > 0) {
      // Where each rule runs: its own placement (core/rules.ts); alerts run on the global Prometheus.
      const placed = placeRules(rules);
      for (const group of placed.shard) this.addRuleGroup(group, { onShards: true });
      for (const group of [...placed.global, ...alerting]) this.addRuleGroup(group);
    } else {
      for (const group of [...ruleGroups(rules), ...alerting]) this.addRuleGroup(group);
    }
    const scaleOut = scaleOutAlertGroup({ sharded: this._shards.length > 0, remoteWrite: remoteWrite.length > 0, runbookUrl: alerts.runbookUrl });
    if (scaleOut) this.addRuleGroup(scaleOut);
    this.prometheusUrl = `http://prometheus.${this.namespace}.svc:${PROMETHEUS_PORT}`;

    this._grafana = new GrafanaServer(this, 'Grafana', {
      namespace: this.namespace,
      image: grafana.image ?? DEFAULT_GRAFANA_IMAGE,
      adminSecretName,
      prometheusUrl: grafana.datasourceUrl ?? this.prometheusUrl,
      scrapeInterval: this.scrapeInterval,
      resources: grafana.resources ?? {
        cpu: { request: kplus.Cpu.millis(100), limit: kplus.Cpu.units(1) },
        memory: { request: Size.mebibytes(256), limit: Size.mebibytes(512) },
      },
      labels: { ...labels, 'app.kubernetes.io/name': 'grafana' },
    });

    if (am && amConfig) {
      this._alertmanager = new AlertmanagerServer(this, 'Alertmanager', {
        namespace: this.namespace,
        image: am.image ?? DEFAULT_ALERTMANAGER_IMAGE,
        config: amConfig.config,
        credentialsSecretName: am.credentialsSecretName ?? 'alertmanager-credentials',
        mountCredentials: amConfig.secretKeys.length > 0,
        storageSize: am.storageSize,
        storageClassName: am.storageClassName,
        resources: am.resources ?? {
          cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(500) },
          memory: { request: Size.mebibytes(64), limit: Size.mebibytes(256) },
        },
        labels: { ...labels, 'app.kubernetes.io/name': 'alertmanager' },
      });
      this.alertmanagerUrl = `http://alertmanager.${this.namespace}.svc:${ALERTMANAGER_PORT}`;
    }

    if (this.networkPolicies) {
      const podLabels = (name: string) => ({ ...labels, 'app.kubernetes.io/name': name });
      new MonitoringNetworkPolicies(this, 'NetworkPolicies', {
        namespace: this.namespace,
        crawlerNamespaces: this.crawlerNamespaces,
        clusterWideDiscovery: this.clusterWideDiscovery,
        stackPodLabels: labels,
        prometheus: { podLabels: podLabels('prometheus'), port: PROMETHEUS_PORT, allowFrom: prometheusAllowFrom },
        grafana: { podLabels: podLabels('grafana'), port: GRAFANA_PORT, allowFrom: grafanaAllowFrom },
        alertmanager: amConfig ? { podLabels: podLabels('alertmanager'), port: ALERTMANAGER_PORT, allowFrom: amAllowFrom, egressPorts: amConfig.egressPorts } : undefined,
        dns: dnsPeers,
        kubernetesApiCidrs: netpol.kubernetesApiCidrs,
        kubernetesApiPorts: apiPorts,
        sidecarMetricsPort: SIDECAR_METRICS_PORT,
        crawlerAllowFrom,
        prometheusPeers: this._shards.length > 0,
        remoteWritePorts: [...new Set(remoteWrite.map((rw, i) => urlPort(`prometheus.remoteWrite[${i}].url`, rw.url)))].sort((a, b) => a - b),
        podScrapes,
      });
    }

    [this.dashboardSettings, this.dashboards] = this.provisionDashboards(v, props.dashboards, evaluationMs, DATASOURCE_UID);
  }

  private readonly dashboardSettings: Omit<ProxyDashboardsProps, 'datasourceUid'>;

  /** Builds the bundled dashboards for this stack's job and rule interval, and provisions them. */
  private provisionDashboards(v: PropertyChecks, options: DashboardsOptions = {}, evaluationMs: number, datasourceUid: string): [Omit<ProxyDashboardsProps, 'datasourceUid'>, DashboardJson[]] {
    const currencyUnit = options.currencyUnit === undefined ? undefined : v.value(() => checkCurrencyUnit('dashboards.currencyUnit', options.currencyUnit!), undefined);
    const settings = {
      vendors: this.vendors,
      job: this.scrapeJob,
      destinationJob: this.destinationScrapeJob,
      ruleIntervalSeconds: Math.max(1, Math.round(evaluationMs / 1000)),
      currencyUnit,
      demoGateways: this.podScrapes.some(t => t.job === DEMO_GATEWAY_JOB),
    };
    const dashboards = (options.enabled ?? true) ? proxyDashboards({ ...settings, datasourceUid }) : [];
    for (const dashboard of dashboards) this.addDashboard(dashboard);
    return [settings, dashboards];
  }

  /**
   * The bundled dashboards as JSON files for Grafana's import dialog (`dashboards/<uid>.json`), with a
   * datasource input instead of this stack's datasource.
   */
  public dashboardFiles(): Record<string, string> {
    if (this.dashboards.length === 0) return {};
    return Object.fromEntries(proxyDashboards(this.dashboardSettings).map(d => [`dashboards/${d.uid}.json`, `${JSON.stringify(d, null, 2)}\n`]));
  }

  /** The rendered alertmanager.yml, when Alertmanager is deployed. */
  public renderAlertmanagerConfig(): string | undefined {
    return this._alertmanager?.renderedConfig;
  }

  /**
   * Adds a recording/alerting rule group: to Prometheus (the global one when sharded, or every shard with
   * `onShards`), or in mode 'prometheus-operator' to the PrometheusRule.
   */
  public addRuleGroup(group: RuleGroup, options: RuleGroupOptions = {}): void {
    const path = `ruleGroup(${group.name})`;
    if (options.onShards && this._shards.length === 0) {
      throw new PropertyError(`${path}.onShards`, true, 'needs prometheus.shards > 1');
    }
    const targets: Array<{ groups: readonly RuleGroup[]; addRuleGroup(g: RuleGroup): void }> =
      this._operator ? [this._operator] : options.onShards ? this._shards : [this._prometheus!];
    if (!group.name || targets.some(t => t.groups.some(g => g.name === group.name))) {
      throw new PropertyError(`${path}.name`, group.name, 'must be a non-empty name not used by another group');
    }
    if (group.interval !== undefined) parseDuration(`${path}.interval`, group.interval);
    group.rules.forEach((rule, i) => {
      if (isAlertingRule(rule) && rule.for !== undefined) parseDuration(`${path}.rules[${i}].for`, rule.for);
      if (!rule.expr || rule.expr.trim() === '') throw new PropertyError(`${path}.rules[${i}].expr`, rule.expr, 'must be a PromQL expression');
    });
    for (const target of targets) target.addRuleGroup(group);
  }

  /**
   * Provisions a Grafana dashboard (JSON model with a `uid`): into the stack's Grafana, or in mode
   * 'prometheus-operator' as a ConfigMap labelled for your Grafana's dashboard sidecar.
   */
  public addDashboard(dashboard: DashboardModel): void {
    if (this._operator) this._operator.addDashboard(dashboard);
    else this._grafana!.addDashboard(dashboard);
  }

  /**
   * The rendered configuration file of a Prometheus server: `prometheus` (the only or the global one) or
   * `prometheus-shard-<i>`.
   */
  public renderPrometheusConfig(server = 'prometheus'): string {
    return this.server(server).renderConfig();
  }

  /** The rendered rule file of a Prometheus server; in mode 'prometheus-operator', that of the PrometheusRule. */
  public renderRules(server = 'prometheus'): string {
    if (this._operator && server === 'prometheus') return this._operator.renderRules();
    return this.server(server).renderRules();
  }

  private server(name: string): PrometheusServer {
    if (!this._prometheus) {
      throw new Error('mode \'prometheus-operator\' runs no Prometheus of its own: the PodMonitor and PrometheusRule configure yours');
    }
    const found = [this._prometheus, ...this._shards].find(s => s.name === name);
    if (!found) throw new Error(`no Prometheus server '${name}' (servers: ${[this._prometheus, ...this._shards].map(s => s.name).join(', ')})`);
    return found;
  }

  private get crawlerJobs() {
    return { totals: this.scrapeJob, destinations: this.destinationScrapeJob };
  }

  private contractRules(evaluationMs: number) {
    return contractRules({ vendors: this.vendors, jobs: this.crawlerJobs, destinations: this.destinations, ruleIntervalSeconds: Math.max(1, Math.round(evaluationMs / 1000)) });
  }

  private contractAlerts(alerts: ReturnType<typeof resolveAlertOptions>): RuleGroup[] {
    return alertGroups(this.vendors, this.crawlerJobs, { totals: this.sampleLimit, destinations: this.destinationSampleLimit }, alerts);
  }
}
