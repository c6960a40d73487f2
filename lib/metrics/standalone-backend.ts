import { Construct } from 'constructs';
import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { scaleOutAlertGroup } from '../../core/alerts';
import { SHARD_LABEL } from '../../core/metric-contract';
import { AlertingRule, ContractRule, CrawlerJobs, RuleGroup, placeRules, ruleGroups } from '../../core/rules';
import { urlPort } from '../../core/validation';
import { DEFAULT_ALERTMANAGER_IMAGE } from '../alertmanager/alertmanager-config';
import { ALERTMANAGER_PORT, AlertmanagerServer } from '../alertmanager/alertmanager-server';
import { DashboardModel } from '../grafana/dashboard';
import { DATASOURCE_UID, GRAFANA_PORT, GrafanaServer } from '../grafana/grafana-server';
import { MonitoringNetworkPolicies } from '../network/monitoring-network-policies';
import { PROMETHEUS_PORT, PrometheusServer } from '../prometheus/prometheus-server';
import { GlobalTierRules } from '../prometheus/global-tier';
import { createGlobalTierServers, createPrometheusServers } from '../prometheus/prometheus-topology';
import { CrawlerScrapeOptions, SIDECAR_METRICS_PORT } from '../prometheus/scrape-config';
import { MetricsBackend, checkRuleGroup } from './backend';
import { crawlerJobs } from './mixin-settings';
import { MetricsSettings } from './settings';

export const DEFAULT_PROMETHEUS_IMAGE = 'quay.io/prometheus/prometheus:v2.53.2';
export const DEFAULT_GRAFANA_IMAGE = 'docker.io/grafana/grafana:11.6.0';
/** Container resources of each Prometheus server. */
export const DEFAULT_PROMETHEUS_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(500), limit: kplus.Cpu.units(2) },
  memory: { request: Size.gibibytes(2), limit: Size.gibibytes(4) },
};
/** Container resources of Grafana. */
export const DEFAULT_GRAFANA_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(100), limit: kplus.Cpu.units(1) },
  memory: { request: Size.mebibytes(256), limit: Size.mebibytes(512) },
};
/** Container resources of Alertmanager. */
export const DEFAULT_ALERTMANAGER_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(500) },
  memory: { request: Size.mebibytes(64), limit: Size.mebibytes(256) },
};
/** Secret whose keys Alertmanager's receivers name. */
export const DEFAULT_ALERTMANAGER_CREDENTIALS_SECRET_NAME = 'alertmanager-credentials';

/**
 * Mode 'standalone': the stack's own Prometheus (one, or shards and a global one), Grafana, optionally
 * Alertmanager, and the NetworkPolicies between them.
 */
export class StandaloneBackend implements MetricsBackend {
  public readonly jobs: CrawlerJobs;
  public readonly datasourceUid = DATASOURCE_UID;
  public readonly sharded: boolean;
  public readonly prometheusUrl: string;
  public readonly alertmanagerUrl?: string;
  public readonly alertmanager?: AlertmanagerServer;
  private readonly prometheus?: PrometheusServer;
  /** The global rules for an external engine's evaluator (`prometheus.globalTier`). */
  private readonly globalRules?: GlobalTierRules;
  private readonly shards: PrometheusServer[];
  private readonly grafana: GrafanaServer;

  constructor(scope: Construct, private readonly settings: MetricsSettings, scrape: CrawlerScrapeOptions, labels: Record<string, string>) {
    const s = settings;
    const prom = s.prometheus;
    this.jobs = crawlerJobs(s.mode, s.namespace);
    const topology = {
      common: {
        namespace: s.namespace,
        image: prom.image ?? DEFAULT_PROMETHEUS_IMAGE,
        retention: s.retention,
        retentionSize: prom.retentionSize,
        storageSize: s.storageSize,
        storageClassName: prom.storageClassName,
        evaluationInterval: s.evaluationInterval,
        scrape,
        alertmanagers: s.alertmanager ? [`alertmanager.${s.namespace}.svc:${ALERTMANAGER_PORT}`] : undefined,
        resources: prom.resources ?? DEFAULT_PROMETHEUS_RESOURCES,
        labels: { ...labels, 'app.kubernetes.io/name': 'prometheus' },
      },
      shards: s.shards,
      crawlerJobs: [this.jobs.totals, this.jobs.destinations],
      remoteWrite: s.remoteWrite,
      podScrapes: s.podScrapes,
    };
    if (s.globalTier) {
      // An external engine above the shards: no global Prometheus; the global rules go to its evaluator's file.
      const servers = createGlobalTierServers(scope, { ...topology, globalTier: s.globalTier });
      this.shards = servers.shards;
      this.globalRules = servers.globalRules;
      this.sharded = true;
      this.prometheusUrl = s.globalTier.queryUrl;
    } else {
      const servers = createPrometheusServers(scope, topology);
      this.prometheus = servers.main;
      this.shards = servers.shards;
      this.sharded = this.shards.length > 0;
      this.prometheusUrl = `http://prometheus.${s.namespace}.svc:${PROMETHEUS_PORT}`;
    }

    this.grafana = new GrafanaServer(scope, 'Grafana', {
      namespace: s.namespace,
      image: s.grafana.image ?? DEFAULT_GRAFANA_IMAGE,
      adminSecretName: s.grafana.adminSecretName,
      prometheusUrl: s.grafana.datasourceUrl ?? this.prometheusUrl,
      scrapeInterval: s.scrapeInterval,
      resources: s.grafana.resources ?? DEFAULT_GRAFANA_RESOURCES,
      labels: { ...labels, 'app.kubernetes.io/name': 'grafana' },
    });

    const am = s.alertmanager;
    if (am) {
      this.alertmanager = new AlertmanagerServer(scope, 'Alertmanager', {
        namespace: s.namespace,
        image: am.options.image ?? DEFAULT_ALERTMANAGER_IMAGE,
        config: am.config.config,
        credentialsSecretName: am.options.credentialsSecretName ?? DEFAULT_ALERTMANAGER_CREDENTIALS_SECRET_NAME,
        mountCredentials: am.config.secretKeys.length > 0,
        storageSize: am.options.storageSize,
        storageClassName: am.options.storageClassName,
        resources: am.options.resources ?? DEFAULT_ALERTMANAGER_RESOURCES,
        labels: { ...labels, 'app.kubernetes.io/name': 'alertmanager' },
      });
      this.alertmanagerUrl = `http://alertmanager.${s.namespace}.svc:${ALERTMANAGER_PORT}`;
    }

    const np = s.networkPolicies;
    if (np.enabled) {
      const podLabels = (name: string) => ({ ...labels, 'app.kubernetes.io/name': name });
      new MonitoringNetworkPolicies(scope, 'NetworkPolicies', {
        namespace: s.namespace,
        crawlerNamespaces: s.crawlerNamespaces,
        clusterWideDiscovery: s.clusterWideDiscovery,
        stackPodLabels: labels,
        prometheus: { podLabels: podLabels('prometheus'), port: PROMETHEUS_PORT, allowFrom: np.prometheusAllowFrom },
        grafana: { podLabels: podLabels('grafana'), port: GRAFANA_PORT, allowFrom: np.grafanaAllowFrom },
        alertmanager: am ? { podLabels: podLabels('alertmanager'), port: ALERTMANAGER_PORT, allowFrom: np.alertmanagerAllowFrom, egressPorts: am.config.egressPorts } : undefined,
        dns: np.dns,
        kubernetesApiCidrs: np.kubernetesApiCidrs,
        kubernetesApiPorts: np.kubernetesApiPorts,
        sidecarMetricsPort: SIDECAR_METRICS_PORT,
        crawlerAllowFrom: np.crawlerAllowFrom,
        prometheusPeers: this.sharded,
        remoteWritePorts: [...new Set([...s.remoteWrite.map((rw, i) => urlPort(`prometheus.remoteWrite[${i}].url`, rw.url)),
          ...(s.globalTier ? [urlPort('prometheus.globalTier.remoteWrite.url', s.globalTier.remoteWrite.url)] : [])])].sort((a, b) => a - b),
        podScrapes: s.podScrapes,
      });
    }
  }

  public addContract(rules: readonly ContractRule[], alerts: readonly RuleGroup[]): void {
    const add = (group: RuleGroup, onShards = false) => {
      const targets = this.ruleTargets(onShards);
      checkRuleGroup(group, targets);
      for (const target of targets) target.addRuleGroup(group);
    };
    if (this.sharded) {
      // Where each rule runs: its own placement (core/rules.ts); alerts run on the global Prometheus.
      const placed = placeRules(rules, this.settings.ruleIntervalSeconds);
      for (const group of placed.shard) add(group, true);
      for (const group of [...placed.global, ...alerts]) add(group);
    } else {
      for (const group of [...ruleGroups(rules, this.settings.ruleIntervalSeconds), ...alerts]) add(group);
    }
    const scaleOut = scaleOutAlertGroup({ sharded: this.sharded, remoteWrite: this.settings.remoteWrite.length > 0, runbookUrl: this.settings.alerts.runbookUrl });
    if (scaleOut && this.globalRules) {
      // Each shard alerts on its own remote-write failures (what it cannot send never reaches the evaluator); the
      // evaluator on shards that stopped sending their own `up`.
      const shardDown = scaleOut.rules.find((r): r is AlertingRule => 'alert' in r && r.alert === 'PrometheusShardDown');
      add({ ...scaleOut, name: `${scaleOut.name}-shard`, rules: scaleOut.rules.filter(r => r !== shardDown) }, true);
      if (shardDown) {
        const n = this.shards.length;
        add({ ...scaleOut, rules: [{ ...shardDown, expr: `(${n} - (count(up{job="prometheus", ${SHARD_LABEL}!=""} == 1) or vector(0))) > 0`,
          annotations: { ...shardDown.annotations, description: `{{ $value }} of the ${n} Prometheus shards send no samples: the crawler pods they scrape are not measured and every vendor total misses them.` } }] });
      }
    } else if (scaleOut) add(scaleOut);
  }

  public ruleTargets(onShards: boolean) {
    return onShards ? this.shards : [(this.prometheus ?? this.globalRules)!];
  }

  public addDashboard(dashboard: DashboardModel): void {
    this.grafana.addDashboard(dashboard);
  }

  public renderRules(server: string): string {
    if (this.globalRules && server === this.globalRules.name) return this.globalRules.renderRules();
    return this.server(server).renderRules();
  }

  public renderPrometheusConfig(server: string): string {
    return this.server(server).renderConfig();
  }

  private server(name: string): PrometheusServer {
    const all = [...(this.prometheus ? [this.prometheus] : []), ...this.shards];
    const found = all.find(s => s.name === name);
    if (!found) throw new Error(`no Prometheus server '${name}' (servers: ${all.map(s => s.name).join(', ')}${this.globalRules ? `; the global tier's rules: '${this.globalRules.name}'` : ''})`);
    return found;
  }
}
