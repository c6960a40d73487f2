import { ContractRule, CrawlerJobs, RuleGroup, isAlertingRule } from '../../core/rules';
import { PropertyError, parseDuration } from '../../core/validation';
import { DashboardModel } from '../grafana/dashboard';

/** What places the core's rules, alerts and dashboards: the standalone servers, or prometheus-operator's objects. */
export interface MetricsBackend {
  /** The `job` label values of the two crawler scrape jobs, which the rules and dashboards select on. */
  readonly jobs: CrawlerJobs;
  /** Uid of the Prometheus datasource the dashboards name. */
  readonly datasourceUid: string;
  /** Whether Prometheus shards split the crawler targets (rules over raw series then run on every shard). */
  readonly sharded: boolean;
  /** In-cluster URL of the Prometheus to query, when the backend runs one. */
  readonly prometheusUrl?: string;
  /** In-cluster URL of Alertmanager, when the backend runs one. */
  readonly alertmanagerUrl?: string;
  /** The contract's recording rules and alert groups, placed as this backend evaluates them. */
  addContract(rules: readonly ContractRule[], alerts: readonly RuleGroup[]): void;
  /** Where a user's rule group goes: each target must get it. */
  ruleTargets(onShards: boolean): Array<{ readonly groups: readonly RuleGroup[]; addRuleGroup(g: RuleGroup): void }>;
  addDashboard(dashboard: DashboardModel): void;
  renderRules(server: string): string;
  renderPrometheusConfig(server: string): string;
}

/** Checks a rule group before it is added to `targets`: a unique name, valid durations, non-empty expressions. */
export function checkRuleGroup(group: RuleGroup, targets: ReturnType<MetricsBackend['ruleTargets']>): void {
  const path = `ruleGroup(${group.name})`;
  if (!group.name || targets.some(t => t.groups.some(g => g.name === group.name))) {
    throw new PropertyError(`${path}.name`, group.name, 'must be a non-empty name not used by another group');
  }
  if (group.interval !== undefined) parseDuration(`${path}.interval`, group.interval);
  group.rules.forEach((rule, i) => {
    if (isAlertingRule(rule) && rule.for !== undefined) parseDuration(`${path}.rules[${i}].for`, rule.for);
    if (!rule.expr || rule.expr.trim() === '') throw new PropertyError(`${path}.rules[${i}].expr`, rule.expr, 'must be a PromQL expression');
  });
}
