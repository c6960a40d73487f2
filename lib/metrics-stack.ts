import { Construct } from 'constructs';
import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { DashboardJson, ProxyDashboardsProps, checkCurrencyUnit, proxyDashboards } from '../dashboards';
import { AlertmanagerOptions, DEFAULT_ALERTMANAGER_IMAGE, resolveAlertmanagerConfig } from './alertmanager/alertmanager-config';
import { ALERTMANAGER_PORT, AlertmanagerServer } from './alertmanager/alertmanager-server';
import { DATASOURCE_UID, GRAFANA_PORT, GrafanaServer } from './grafana/grafana-server';
import { MonitoringNetworkPolicies } from './network/monitoring-network-policies';
import { NetworkPolicyOptions } from './network/network-policy-options';
import { DEFAULT_DNS_PEERS, NetworkPeer, checkCidr, checkPeers, checkPort } from './network/peers';
import { PROMETHEUS_PORT, PrometheusServer } from './prometheus/prometheus-server';
import { AlertOptions, alertGroups, resolveAlertOptions } from './prometheus/alerts';
import { DestinationOptions, resolveDestinationGuard } from './prometheus/destinations';
import { recordingRuleGroups } from './prometheus/recording-rules';
import { SIDECAR_METRICS_PORT } from './prometheus/scrape-config';
import { RuleGroup, isAlertingRule } from './prometheus/rule-group';
import { DestinationGuard, SCRAPE_JOB } from './metric-contract';
import { VendorCatalog } from './vendor';
import {
  PropertyError, checkDnsLabel, checkDnsName, checkNonEmpty, checkNumber, checkRetentionSize, checkUnique, parseDuration, parseStorageQuantity,
} from './validation';

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
   * Most samples one crawler sidecar may expose after filtering; a target above it fails its scrape
   * instead of flooding Prometheus.
   * @default 20000
   */
  readonly sampleLimit?: number;
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

export interface MetricsStackProps {
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
   * @default true
   */
  readonly createNamespace?: boolean;
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
   * Deploy Alertmanager with these receivers; Prometheus sends its alerts there.
   * @default - no Alertmanager: alerts are visible in Prometheus and Grafana only
   */
  readonly alertmanager?: AlertmanagerOptions;
  /**
   * NetworkPolicies: default deny for the stack's pods, Grafana from `grafana.allowFrom`, Prometheus from
   * Grafana, crawler pods from Prometheus on the sidecar metrics port.
   * @default - on, see NetworkPolicyOptions
   */
  readonly networkPolicies?: NetworkPolicyOptions;
  /**
   * Bound on the distinct destinations of the per-destination rules.
   * @default - no folding, at most 200 destinations per vendor (and protocol) by name, the rest as "(other)"
   */
  readonly destinations?: DestinationOptions;
}

export const DEFAULT_PROMETHEUS_IMAGE = 'quay.io/prometheus/prometheus:v2.53.2';
export const DEFAULT_GRAFANA_IMAGE = 'docker.io/grafana/grafana:11.6.0';

/**
 * Prometheus (scrape job for crawler sidecars, rules, storage) and Grafana (datasource, dashboards)
 * in one namespace. Add recording rules and alerts with `addRuleGroup`, dashboards with `addDashboard`.
 */
export class MetricsStack extends Construct {
  public readonly namespace: string;
  public readonly crawlerNamespaces: string[];
  public readonly vendors: VendorCatalog;
  public readonly retention: string;
  public readonly scrapeInterval: string;
  public readonly sampleLimit: number;
  /** The resolved destination bound of the per-destination rules. */
  public readonly destinations: DestinationGuard;
  /** In-cluster URL of Prometheus. */
  public readonly prometheusUrl: string;
  /** The bundled dashboards as provisioned (empty when turned off). */
  public readonly dashboards: DashboardJson[];
  /** In-cluster URL of Alertmanager, when deployed. */
  public readonly alertmanagerUrl?: string;
  /** Whether Prometheus discovers pods in every namespace. */
  public readonly clusterWideDiscovery: boolean;
  /** Whether NetworkPolicies are synthesized. */
  public readonly networkPolicies: boolean;
  /** @internal */
  public readonly _prometheus: PrometheusServer;
  /** @internal */
  public readonly _grafana: GrafanaServer;
  /** @internal */
  public readonly _alertmanager?: AlertmanagerServer;

  constructor(scope: Construct, id: string, props: MetricsStackProps) {
    super(scope, id);
    this.vendors = props.vendors;
    this.namespace = checkDnsLabel('namespace', props.namespace ?? 'monitoring');
    this.crawlerNamespaces = [...checkNonEmpty('crawlerNamespaces', props.crawlerNamespaces)];
    this.crawlerNamespaces.forEach((ns, i) => checkDnsLabel(`crawlerNamespaces[${i}]`, ns));
    checkUnique('crawlerNamespaces', this.crawlerNamespaces);

    const prom = props.prometheus ?? {};
    this.retention = prom.retention ?? '30d';
    parseDuration('prometheus.retention', this.retention);
    if (prom.retentionSize !== undefined) checkRetentionSize('prometheus.retentionSize', prom.retentionSize);
    const storageSize = prom.storageSize ?? '50Gi';
    parseStorageQuantity('prometheus.storageSize', storageSize);
    if (prom.storageClassName !== undefined) checkDnsName('prometheus.storageClassName', prom.storageClassName);
    this.scrapeInterval = prom.scrapeInterval ?? '15s';
    const scrapeMs = parseDuration('prometheus.scrapeInterval', this.scrapeInterval);
    const evaluationInterval = prom.evaluationInterval ?? '30s';
    const evaluationMs = parseDuration('prometheus.evaluationInterval', evaluationInterval);
    this.sampleLimit = checkNumber('prometheus.sampleLimit', prom.sampleLimit ?? 20000, { min: 1, integer: true });
    const alerts = resolveAlertOptions(props.alerts);
    this.destinations = resolveDestinationGuard(props.destinations, this.vendors);
    const grafana = props.grafana ?? {};
    const adminSecretName = grafana.adminSecretName ?? 'grafana-admin';
    checkDnsName('grafana.adminSecretName', adminSecretName);
    this.clusterWideDiscovery = prom.clusterWideDiscovery ?? false;
    const netpol = props.networkPolicies ?? {};
    this.networkPolicies = netpol.enabled ?? true;
    const grafanaAllowFrom = checkPeers('grafana.allowFrom', grafana.allowFrom ?? []);
    const prometheusAllowFrom = checkPeers('prometheus.allowFrom', prom.allowFrom ?? []);
    const dnsPeers = checkPeers('networkPolicies.dns', netpol.dns ?? [...DEFAULT_DNS_PEERS]);
    const crawlerAllowFrom = checkPeers('networkPolicies.crawlerAllowFrom', netpol.crawlerAllowFrom ?? []);
    netpol.kubernetesApiCidrs?.forEach((c, i) => checkCidr(`networkPolicies.kubernetesApiCidrs[${i}]`, c));
    const apiPorts = checkNonEmpty('networkPolicies.kubernetesApiPorts', netpol.kubernetesApiPorts ?? [443, 6443])
      .map((p, i) => checkPort(`networkPolicies.kubernetesApiPorts[${i}]`, p));
    const am = props.alertmanager;
    const amConfig = am ? resolveAlertmanagerConfig(am) : undefined;
    const amAllowFrom = checkPeers('alertmanager.allowFrom', am?.allowFrom ?? []);
    if (am?.storageSize !== undefined) parseStorageQuantity('alertmanager.storageSize', am.storageSize);
    if (am?.storageClassName !== undefined) checkDnsName('alertmanager.storageClassName', am.storageClassName);

    const labels = { 'app.kubernetes.io/part-of': 'proxy-telemetry' };
    if (props.createNamespace ?? true) {
      new kplus.Namespace(this, 'Namespace', {
        // warn shows violations of a pod template at apply time; enforce alone only fails pod creation later.
        metadata: { name: this.namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' } },
      });
    }

    this._prometheus = new PrometheusServer(this, 'Prometheus', {
      namespace: this.namespace,
      image: prom.image ?? DEFAULT_PROMETHEUS_IMAGE,
      retention: this.retention,
      retentionSize: prom.retentionSize,
      storageSize,
      storageClassName: prom.storageClassName,
      evaluationInterval,
      scrape: {
        namespaces: this.crawlerNamespaces,
        scrapeInterval: this.scrapeInterval,
        // Half the interval (at most 10s): a slow sidecar must not delay the next scrape.
        scrapeTimeout: `${Math.min(10_000, Math.floor(scrapeMs / 2))}ms`,
        sampleLimit: this.sampleLimit,
        labelLimit: 64,
        labelNameLengthLimit: 128,
        labelValueLengthLimit: 2048,
        clusterWide: this.clusterWideDiscovery,
      },
      alertmanagers: am ? [`alertmanager.${this.namespace}.svc:${ALERTMANAGER_PORT}`] : undefined,
      resources: prom.resources ?? {
        cpu: { request: kplus.Cpu.millis(500), limit: kplus.Cpu.units(2) },
        memory: { request: Size.gibibytes(2), limit: Size.gibibytes(4) },
      },
      labels: { ...labels, 'app.kubernetes.io/name': 'prometheus' },
    });
    for (const group of [...recordingRuleGroups(this.vendors, SCRAPE_JOB, this.destinations), ...alertGroups(this.vendors, SCRAPE_JOB, this.sampleLimit, alerts)]) {
      this.addRuleGroup(group);
    }
    this.prometheusUrl = `http://prometheus.${this.namespace}.svc:${PROMETHEUS_PORT}`;

    this._grafana = new GrafanaServer(this, 'Grafana', {
      namespace: this.namespace,
      image: grafana.image ?? DEFAULT_GRAFANA_IMAGE,
      adminSecretName,
      prometheusUrl: this.prometheusUrl,
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
      });
    }

    const dashboards = props.dashboards ?? {};
    if (dashboards.currencyUnit !== undefined) checkCurrencyUnit('dashboards.currencyUnit', dashboards.currencyUnit);
    this.dashboardSettings = {
      vendors: this.vendors,
      job: SCRAPE_JOB,
      ruleIntervalSeconds: Math.max(1, Math.round(evaluationMs / 1000)),
      currencyUnit: dashboards.currencyUnit,
    };
    this.dashboards = (dashboards.enabled ?? true) ? proxyDashboards({ ...this.dashboardSettings, datasourceUid: DATASOURCE_UID }) : [];
    for (const dashboard of this.dashboards) this.addDashboard(dashboard);
  }

  private readonly dashboardSettings: Omit<ProxyDashboardsProps, 'datasourceUid'>;

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

  /** Adds a recording/alerting rule group to Prometheus. */
  public addRuleGroup(group: RuleGroup): void {
    const path = `ruleGroup(${group.name})`;
    if (!group.name || this._prometheus.groups.some(g => g.name === group.name)) {
      throw new PropertyError(`${path}.name`, group.name, 'must be a non-empty name not used by another group');
    }
    if (group.interval !== undefined) parseDuration(`${path}.interval`, group.interval);
    group.rules.forEach((rule, i) => {
      if (isAlertingRule(rule) && rule.for !== undefined) parseDuration(`${path}.rules[${i}].for`, rule.for);
      if (!rule.expr || rule.expr.trim() === '') throw new PropertyError(`${path}.rules[${i}].expr`, rule.expr, 'must be a PromQL expression');
    });
    this._prometheus.addRuleGroup(group);
  }

  /** Provisions a Grafana dashboard (JSON model with a `uid`). */
  public addDashboard(dashboard: { uid?: string } & Record<string, unknown>): void {
    this._grafana.addDashboard(dashboard);
  }

  /** The rendered Prometheus configuration file. */
  public renderPrometheusConfig(): string {
    return this._prometheus.renderConfig();
  }

  /** The rendered rule file. */
  public renderRules(): string {
    return this._prometheus.renderRules();
  }
}
