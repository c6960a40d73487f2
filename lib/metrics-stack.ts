import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { DashboardJson } from '../dashboards';
import { Mixin, MixinSettings, mixinDashboards, proxyMixin } from '../mixin';
import { AlertOptions } from '../core/alerts';
import { DestinationGuard } from '../core/destinations';
import { RuleGroup } from '../core/rules';
import { PropertyChecks, PropertyError } from '../core/validation';
import { VendorCatalog } from '../core/vendor';
import { AlertmanagerOptions } from './alertmanager/alertmanager-config';
import { DashboardModel } from './grafana/dashboard';
import { MetricsBackend, checkRuleGroup } from './metrics/backend';
import { mixinSettingsOf } from './metrics/mixin-settings';
import { OperatorBackend } from './metrics/operator-backend';
import { STANDALONE_ONLY_PROMETHEUS, resolveMetricsSettings } from './metrics/settings';
import { StandaloneBackend } from './metrics/standalone-backend';
import { NetworkPolicyOptions } from './network/network-policy-options';
import { NetworkPeer } from './network/peers';
import { OperatorOptions } from './operator/operator-options';
import { DestinationOptions } from './prometheus/destinations';
import { RemoteWriteOptions } from './prometheus/remote-write';
import { CrawlerScrapeOptions, PodScrape } from './prometheus/scrape-config';

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

export { DEFAULT_PROMETHEUS_IMAGE, DEFAULT_GRAFANA_IMAGE } from './metrics/standalone-backend';
export { STANDALONE_ONLY_PROMETHEUS } from './metrics/settings';

/**
 * Prometheus (scrape job for crawler sidecars, rules, storage) and Grafana (datasource, dashboards)
 * in one namespace, or (mode 'prometheus-operator') the PodMonitor, PrometheusRule and dashboard ConfigMaps
 * for an existing monitoring stack. Add recording rules and alerts with `addRuleGroup`, dashboards with `addDashboard`.
 *
 * Props are resolved into settings (every problem reported at synthesis, all at once), the core turns the settings
 * into rules, alerts and dashboards, and the mode's backend places them.
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
  /** The rules, alerts and dashboards this stack deploys, as data (see proxyMixin). */
  public readonly mixin: Mixin;
  private readonly backend: MetricsBackend;
  private readonly mixinSettings: MixinSettings;

  constructor(scope: Construct, id: string, props: MetricsStackProps) {
    super(scope, id);
    // Every invalid prop is reported at synthesis, all at once; construction goes on with defaults.
    const s = resolveMetricsSettings(props, new PropertyChecks(this));
    this.mode = s.mode;
    this.vendors = s.vendors;
    this.namespace = s.namespace;
    this.crawlerNamespaces = s.crawlerNamespaces;
    this.shards = s.shards;
    this.podScrapes = s.podScrapes;
    this.retention = s.retention;
    this.scrapeInterval = s.scrapeInterval;
    this.sampleLimit = s.sampleLimit;
    this.destinationSampleLimit = s.destinationSampleLimit;
    this.destinations = s.destinations;
    this.clusterWideDiscovery = s.clusterWideDiscovery;
    this.networkPolicies = s.networkPolicies.enabled;

    const labels = { 'app.kubernetes.io/part-of': 'proxy-telemetry' };
    if (s.createNamespace) {
      new kplus.Namespace(this, 'Namespace', {
        // warn shows violations of a pod template at apply time; enforce alone only fails pod creation later.
        metadata: { name: this.namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' } },
      });
    }
    const scrape: CrawlerScrapeOptions = {
      namespaces: this.crawlerNamespaces,
      scrapeInterval: this.scrapeInterval,
      // Half the interval (at most 10s): a slow sidecar must not delay the next scrape.
      scrapeTimeout: `${Math.min(10_000, Math.floor(s.scrapeMs / 2))}ms`,
      sampleLimit: this.sampleLimit,
      destinationSampleLimit: this.destinationSampleLimit,
      labelLimit: 64,
      labelNameLengthLimit: 128,
      labelValueLengthLimit: 2048,
      clusterWide: this.clusterWideDiscovery,
    };
    this.backend = s.mode === 'prometheus-operator' ? new OperatorBackend(this, s, scrape, labels) : new StandaloneBackend(this, s, scrape, labels);
    this.scrapeJob = this.backend.jobs.totals;
    this.destinationScrapeJob = this.backend.jobs.destinations;
    this.prometheusUrl = this.backend.prometheusUrl;
    this.alertmanagerUrl = this.backend.alertmanagerUrl;

    // The mixin for these settings (rules, alerts, dashboards), placed by the backend; `proxy-telemetry mixin` resolves
    // its settings through the same function.
    this.mixinSettings = mixinSettingsOf(s, this.backend.datasourceUid);
    this.mixin = proxyMixin(this.mixinSettings);
    this.backend.addContract(this.mixin.records, this.mixin.prometheusAlerts);
    this.dashboards = this.mixin.grafanaDashboards;
    for (const dashboard of this.dashboards) this.addDashboard(dashboard);
  }

  /**
   * The bundled dashboards as JSON files for Grafana's import dialog (`dashboards/<uid>.json`), with a
   * datasource input instead of this stack's datasource.
   */
  public dashboardFiles(): Record<string, string> {
    const dashboards = mixinDashboards({ ...this.mixinSettings, dashboards: { ...this.mixinSettings.dashboards, datasourceUid: undefined } });
    return Object.fromEntries(dashboards.map(d => [`dashboards/${d.uid}.json`, `${JSON.stringify(d, null, 2)}\n`]));
  }

  /** The rendered alertmanager.yml, when Alertmanager is deployed. */
  public renderAlertmanagerConfig(): string | undefined {
    return this.backend instanceof StandaloneBackend ? this.backend.alertmanager?.renderedConfig : undefined;
  }

  /**
   * Adds a recording/alerting rule group: to Prometheus (the global one when sharded, or every shard with
   * `onShards`), or in mode 'prometheus-operator' to the PrometheusRule.
   */
  public addRuleGroup(group: RuleGroup, options: RuleGroupOptions = {}): void {
    if (options.onShards && !this.backend.sharded) {
      throw new PropertyError(`ruleGroup(${group.name}).onShards`, true, 'needs prometheus.shards > 1');
    }
    const targets = this.backend.ruleTargets(options.onShards ?? false);
    checkRuleGroup(group, targets);
    for (const target of targets) target.addRuleGroup(group);
  }

  /**
   * Provisions a Grafana dashboard (JSON model with a `uid`): into the stack's Grafana, or in mode
   * 'prometheus-operator' as a ConfigMap labelled for your Grafana's dashboard sidecar.
   */
  public addDashboard(dashboard: DashboardModel): void {
    this.backend.addDashboard(dashboard);
  }

  /**
   * The rendered configuration file of a Prometheus server: `prometheus` (the only or the global one) or
   * `prometheus-shard-<i>`.
   */
  public renderPrometheusConfig(server = 'prometheus'): string {
    return this.backend.renderPrometheusConfig(server);
  }

  /** The rendered rule file of a Prometheus server; in mode 'prometheus-operator', that of the PrometheusRule. */
  public renderRules(server = 'prometheus'): string {
    return this.backend.renderRules(server);
  }
}
