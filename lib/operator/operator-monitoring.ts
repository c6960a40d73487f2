import { Construct } from 'constructs';
import { Lazy } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import * as YAML from 'yaml';
import { PodMonitor, PrometheusRule, PrometheusRuleSpecGroups, PrometheusRuleSpecGroupsRulesExpr } from '../../imports/monitoring.coreos.com';
import { DashboardModel, renderDashboard } from '../grafana/dashboard';
import { PropertyError } from '../../core/validation';
import { RuleGroup, isAlertingRule } from '../../core/rules';
import { podMonitorSpecFromScrapeJob } from './pod-monitor';

/**
 * prometheus-operator skips a PrometheusRule whose rendered spec exceeds half of a ConfigMap's 1 MiB
 * (pkg/operator/rules.go: MaxConfigMapDataSize), with only an event to tell.
 */
export const MAX_PROMETHEUS_RULE_BYTES = 512 * 1024;

/** Resolved settings of the prometheus-operator objects (see OperatorOptions for the meaning). */
export interface OperatorMonitoringProps {
  readonly namespace: string;
  /** The standalone scrape jobs; one PodMonitor, named like its job, is rendered from each. */
  readonly scrapeJobs: ReadonlyArray<Record<string, unknown>>;
  readonly podMonitorLabels: Record<string, string>;
  readonly ruleName: string;
  readonly ruleLabels: Record<string, string>;
  readonly dashboardLabel: string;
  readonly dashboardLabelValue: string;
  readonly dashboardNamespace: string;
  readonly labels: Record<string, string>;
}

/**
 * The objects an existing prometheus-operator / kube-prometheus-stack installation picks up: a PodMonitor per scrape
 * job (each has its own sample limit, which a PodMonitor sets for all its endpoints), a PrometheusRule (recording
 * rules and alerts) and one ConfigMap per dashboard for the Grafana sidecar. Internal to MetricsStack.
 */
export class OperatorMonitoring extends Construct {
  public readonly podMonitors: PodMonitor[];
  public readonly prometheusRule: PrometheusRule;
  private readonly ruleGroups: RuleGroup[] = [];
  private readonly dashboardUids = new Set<string>();
  private readonly props: OperatorMonitoringProps;

  constructor(scope: Construct, id: string, props: OperatorMonitoringProps) {
    super(scope, id);
    this.props = props;
    this.podMonitors = props.scrapeJobs.map((job, i) => new PodMonitor(this, i === 0 ? 'PodMonitor' : `PodMonitor-${job.job_name}`, {
      metadata: { name: String(job.job_name), namespace: props.namespace, labels: { ...props.labels, ...props.podMonitorLabels } },
      spec: podMonitorSpecFromScrapeJob(job),
    }));
    this.prometheusRule = new PrometheusRule(this, 'Rules', {
      metadata: { name: props.ruleName, namespace: props.namespace, labels: { ...props.labels, ...props.ruleLabels } },
      spec: { groups: Lazy.any({ produce: () => this.ruleGroups.map(toOperatorGroup) }) as unknown as PrometheusRuleSpecGroups[] },
    });
  }

  public addRuleGroup(group: RuleGroup): void {
    this.ruleGroups.push(group);
    const size = Buffer.byteLength(this.renderRules());
    if (size > MAX_PROMETHEUS_RULE_BYTES) {
      this.ruleGroups.pop();
      throw new PropertyError(`ruleGroup(${group.name})`, `${size} bytes`, `makes the PrometheusRule exceed ${MAX_PROMETHEUS_RULE_BYTES} bytes, above which prometheus-operator skips it`);
    }
  }

  public get groups(): readonly RuleGroup[] {
    return this.ruleGroups;
  }

  /** The groups as a Prometheus rule file: what the operator generates from the PrometheusRule. */
  public renderRules(): string {
    return YAML.stringify({ groups: this.ruleGroups }, { lineWidth: 0 });
  }

  /** A dashboard ConfigMap labelled for the Grafana sidecar of kube-prometheus-stack. */
  public addDashboard(dashboard: DashboardModel): void {
    const { uid, json } = renderDashboard(dashboard, this.dashboardUids);
    new k8s.KubeConfigMap(this, `Dashboard-${uid}`, {
      metadata: {
        name: `grafana-dashboard-${uid}`,
        namespace: this.props.dashboardNamespace,
        labels: { ...this.props.labels, [this.props.dashboardLabel]: this.props.dashboardLabelValue },
      },
      data: { [`${uid}.json`]: json },
    });
  }
}

function toOperatorGroup(group: RuleGroup): PrometheusRuleSpecGroups {
  return {
    name: group.name,
    interval: group.interval,
    rules: group.rules.map(rule => isAlertingRule(rule)
      ? { alert: rule.alert, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(rule.expr), for: rule.for, labels: rule.labels, annotations: rule.annotations }
      : { record: rule.record, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(rule.expr), labels: rule.labels }),
  };
}
