import { VARIABLES, VariableValues, expandVariables, readsTopPods } from '../../dashboards';
import { PrometheusProcess } from './prometheus-process';

/**
 * Resolves the hidden top_pods variable as Grafana does for a Prometheus query variable `label_values(selector, label)`:
 * the label's values over the series matching the selector (vendor and namespace substituted) with samples in the
 * dashboard's time range, here the `rangeSeconds` ending at `endMs`.
 */
export async function resolveTopPods(prom: PrometheusProcess, values: VariableValues, endMs: number, via: 'label values' | 'series' = 'label values'): Promise<string[]> {
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
export async function expandPanelQuery(prom: PrometheusProcess, expr: string, values: VariableValues, endMs: number): Promise<string> {
  const topPods = readsTopPods(expr) ? await resolveTopPods(prom, values, endMs) : undefined;
  return expandVariables(expr, { ...values, ...(topPods ? { topPods } : {}) });
}
