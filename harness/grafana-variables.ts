import { ALL_PODS, DESTINATION_LABEL } from '../core/metric-contract';
import { escapeRegex } from '../core/promql';
import { DashboardJson, VARIABLES } from '../dashboards';
import { DATASOURCE_VAR } from '../dashboards/common';
import { VAR } from '../dashboards/queries';
import { PrometheusApi } from './prometheus-api';

/**
 * What Grafana does with the dashboards' queries, for the tests and the benchmark that run them against a real
 * Prometheus: list every panel query, substitute the variables, resolve the hidden top_pods variable.
 */

/** One query of one panel. */
export interface PanelQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  /** PromQL with Grafana variables. */
  readonly expr: string;
  /** Instant (true) or range query. */
  readonly instant: boolean;
  /** Panel relative time such as 'now/M', if the panel overrides the dashboard range. */
  readonly timeFrom?: string;
  /** The panel's minimum query step (Grafana's "Min interval"), e.g. '1m'. */
  readonly interval?: string;
}

/** Every panel query of the given dashboards (default: the five, for any vendor model). */
export function panelQueries(dashboards: DashboardJson[]): PanelQuery[] {
  return dashboards.flatMap(d => (d.panels ?? []).flatMap((p: any) => (p.targets ?? []).map((t: any) => ({
    dashboard: d.uid, panel: p.title, refId: t.refId, expr: t.expr, instant: t.instant === true, ...(p.timeFrom ? { timeFrom: p.timeFrom } : {}),
    ...(p.interval ? { interval: p.interval } : {}),
  }))));
}

/** Values of the dashboard variables; unset ones mean All. */
export interface VariableValues {
  readonly vendor?: string[];
  readonly namespace?: string[];
  readonly pod?: string[];
  readonly destination?: string[];
  /**
   * Values of the hidden top_pods variable: what Grafana's query of it (VARIABLES.topPods) returns over the range.
   * Required by the queries that use it; an empty list matches no pod.
   */
  readonly topPods?: string[];
  /** `$__range` in seconds. @default 3600 */
  readonly rangeSeconds?: number;
  /** `$__rate_interval` in seconds. @default 60 */
  readonly rateIntervalSeconds?: number;
}

/** Whether a query reads the hidden top_pods variable, which must be resolved before it runs. */
export function readsTopPods(expr: string): boolean {
  return new RegExp(`\\$\\{?${VAR.topPods}\\b`).test(expr);
}

/**
 * Substitutes Grafana's variables as Grafana does for Prometheus: a multi-value selection becomes a regex
 * alternation of escaped values, All becomes `.*`; unknown `$name` references are left alone.
 */
export function expandVariables(expr: string, values: VariableValues = {}): string {
  const multi = (selected?: string[]) => (selected === undefined ? '.*'
    : selected.length === 1 ? escapeRegex(selected[0]) : `(${selected.map(escapeRegex).join('|')})`);
  const range = values.rangeSeconds ?? 3600;
  const vars: Record<string, string> = {
    vendor: multi(values.vendor),
    namespace: multi(values.namespace),
    pod: values.pod === undefined ? ALL_PODS : multi(values.pod),
    [DESTINATION_LABEL]: multi(values.destination),
    __range_s: String(range),
    __range: `${range}s`,
    __rate_interval: `${values.rateIntervalSeconds ?? 60}s`,
    [DATASOURCE_VAR]: 'prometheus',
  };
  if (values.topPods !== undefined) {
    // Grafana's All without an All value: the alternation of every value, or nothing to match when there is none.
    vars[VAR.topPods] = values.topPods.length === 0 ? '' : `(${values.topPods.map(escapeRegex).join('|')})`;
    // Grafana's pipe format: the values joined by '|', unescaped.
    vars[`${VAR.topPods}:pipe`] = values.topPods.join('|');
  } else if (readsTopPods(expr)) {
    throw new Error(`expandVariables: the query reads $${VAR.topPods}; resolve it first (VARIABLES.topPods over the range) and pass 'topPods'`);
  }
  return expr.replace(/\$\{(\w+(?::pipe)?)\}|\$(\w+)/g, (match, braced: string | undefined, bare: string | undefined) => vars[braced ?? bare!] ?? match);
}

/**
 * Resolves the hidden top_pods variable as Grafana does for a Prometheus query variable `label_values(selector, label)`:
 * the label's values over the series matching the selector (vendor and namespace substituted) with samples in the
 * dashboard's time range, here the `rangeSeconds` ending at `endMs`.
 */
export async function resolveTopPods(prom: PrometheusApi, values: VariableValues, endMs: number, via: 'label values' | 'series' = 'label values'): Promise<string[]> {
  const m = /^label_values\((.+), (\w+)\)$/.exec(VARIABLES.topPods.query);
  if (!m) throw new Error(`top_pods variable query '${VARIABLES.topPods.query}' is not label_values(selector, label)`);
  const rangeMs = (values.rangeSeconds ?? 3600) * 1000;
  const [selector, label] = [expandVariables(m[1], values), m[2]];
  if (via === 'label values') return prom.labelValues(label, selector, endMs - rangeMs, endMs);
  // Grafana's other way, for a datasource that does not declare a Prometheus version: the series, then their labels.
  const found = await prom.series(selector, endMs - rangeMs, endMs);
  return [...new Set(found.map(s => s[label]).filter(v => v !== undefined))].sort();
}

/** Grafana's substitution of a panel query at `endMs`, with top_pods resolved first. */
export async function expandPanelQuery(prom: PrometheusApi, expr: string, values: VariableValues, endMs: number): Promise<string> {
  const topPods = readsTopPods(expr) ? await resolveTopPods(prom, values, endMs) : undefined;
  return expandVariables(expr, { ...values, ...(topPods ? { topPods } : {}) });
}
