/** A Prometheus recording rule (`level:metric:operations`). */
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Record<string, string>;
}

/** A Prometheus alerting rule. */
export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  /** How long the condition must hold, e.g. '10m'. */
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export type Rule = RecordingRule | AlertingRule;

/** A Prometheus rule group, as written to a rule file. */
export interface RuleGroup {
  readonly name: string;
  /** Evaluation interval of the group. Defaults to Prometheus' global evaluation_interval. */
  readonly interval?: string;
  readonly rules: Rule[];
}

export function isAlertingRule(rule: Rule): rule is AlertingRule {
  return (rule as AlertingRule).alert !== undefined;
}
