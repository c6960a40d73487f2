import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { DashboardJson } from '../dashboards';
import { Mixin, MixinSettings, mixinDashboards, proxyMixin } from '../mixin';
import { DestinationGuard } from '../core/destinations';
import { RuleGroup } from '../core/rules';
import { PropertyChecks, PropertyError } from '../core/validation';
import { VendorCatalog } from '../core/vendor';
import { DashboardModel } from './grafana/dashboard';
import { MetricsBackend, checkRuleGroup } from './metrics/backend';
import { MetricsStackMode, MetricsStackProps } from './metrics/metrics-stack-props';
import { mixinSettingsOf } from './metrics/mixin-settings';
import { OperatorBackend } from './metrics/operator-backend';
import { resolveMetricsSettings } from './metrics/settings';
import { StandaloneBackend } from './metrics/standalone-backend';
import { CrawlerScrapeOptions, PodScrape } from './prometheus/scrape-config';

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

export { DEFAULT_PROMETHEUS_IMAGE, DEFAULT_GRAFANA_IMAGE } from './metrics/standalone-backend';

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
