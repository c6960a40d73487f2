import { Construct } from 'constructs';
import { ContractRule, CrawlerJobs, RuleGroup, ruleGroups } from '../../core/rules';
import { DashboardModel } from '../grafana/dashboard';
import { OperatorMonitoring } from '../operator/operator-monitoring';
import { CrawlerScrapeOptions, crawlerScrapeJobs, podScrapeJob } from '../prometheus/scrape-config';
import { MetricsBackend } from './backend';
import { crawlerJobs } from './mixin-settings';
import { MetricsSettings } from './settings';

/** Uid of the Prometheus datasource kube-prometheus-stack's Grafana provisions. */
const OPERATOR_DATASOURCE_UID = 'prometheus';

/**
 * Mode 'prometheus-operator': a PodMonitor per scrape job, one PrometheusRule and dashboard ConfigMaps for an
 * existing prometheus-operator and its Grafana. Runs nothing.
 */
export class OperatorBackend implements MetricsBackend {
  public readonly jobs: CrawlerJobs;
  public readonly datasourceUid = OPERATOR_DATASOURCE_UID;
  public readonly sharded = false;
  private readonly monitoring: OperatorMonitoring;

  constructor(scope: Construct, private readonly settings: MetricsSettings, scrape: CrawlerScrapeOptions, labels: Record<string, string>) {
    const operator = settings.operator!;
    this.jobs = crawlerJobs(settings.mode, settings.namespace);
    this.monitoring = new OperatorMonitoring(scope, 'Operator', {
      namespace: settings.namespace,
      scrapeJobs: [...crawlerScrapeJobs(scrape), ...settings.podScrapes.map(t => podScrapeJob(t, settings.scrapeInterval))],
      podMonitorLabels: operator.podMonitorLabels,
      ruleName: 'proxy-telemetry',
      ruleLabels: operator.ruleLabels,
      dashboardLabel: operator.dashboardLabel,
      dashboardLabelValue: operator.dashboardLabelValue,
      dashboardNamespace: operator.dashboardNamespace,
      labels,
    });
  }

  public addContract(rules: readonly ContractRule[], alerts: readonly RuleGroup[]): void {
    // An explicit interval: the dashboards' range totals multiply rule samples by it, whatever your global setting.
    for (const group of [...ruleGroups(rules, this.settings.ruleIntervalSeconds), ...alerts]) this.monitoring.addRuleGroup({ ...group, interval: group.interval ?? this.settings.evaluationInterval });
  }

  public ruleTargets() {
    return [this.monitoring];
  }

  public addDashboard(dashboard: DashboardModel): void {
    this.monitoring.addDashboard(dashboard);
  }

  public renderRules(server: string): string {
    if (server === 'prometheus') return this.monitoring.renderRules();
    return this.renderPrometheusConfig();
  }

  public renderPrometheusConfig(): string {
    throw new Error('mode \'prometheus-operator\' runs no Prometheus of its own: the PodMonitor and PrometheusRule configure yours');
  }
}
