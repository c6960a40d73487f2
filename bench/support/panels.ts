import { MONTH_SECONDS, RECORDING_EXPR, RULE } from '../../lib/metric-contract';

/**
 * The dashboard queries the benchmark times: each panel on the recording rules, and the same question on raw
 * series (every rule name inlined with its RECORDING_EXPR). Until the dashboards export `panelQueries()` and
 * `expandVariables()` from dashboards/index.ts, this file provides them with the same signatures; switching
 * is the one import in bench/cardinality.ts.
 */

export interface PanelQuery { dashboard: string; panel: string; refId: string; expr: string }

const SEL = 'proxy_vendor=~"$vendor"';
const q = (dashboard: string, panel: string, expr: string): PanelQuery => ({ dashboard, panel, refId: 'A', expr });

/** One query per panel, written as a Grafana panel would (template variables unexpanded). */
export function panelQueries(): PanelQuery[] {
  return [
    q('overview', 'Requests and connections per second', `sum by (proxy_vendor, request_protocol) (${RULE.requests}{${SEL}})`),
    q('overview', 'Upload bytes per second', `sum by (proxy_vendor) (${RULE.vendorSentBytes}{${SEL}})`),
    q('overview', 'Download bytes per second', `sum by (proxy_vendor) (${RULE.vendorReceivedBytes}{${SEL}})`),
    q('overview', 'Error ratio', `${RULE.errorRatio}{${SEL}}`),
    q('overview', 'Responses by code', `sum by (proxy_vendor, response_code) (${RULE.responseCodes}{${SEL}})`),
    q('overview', 'Latency p95', `histogram_quantile(0.95, sum by (proxy_vendor, le) (${RULE.durationBuckets}{${SEL}}))`),
    q('overview', 'Crawler pods', `${RULE.crawlerPods}{${SEL}}`),
    q('cost', 'Projected monthly spend', `${RULE.spend1h}{${SEL}} * ${MONTH_SECONDS}`),
    q('cost', 'GiB per hour', `${RULE.bytes1h}{${SEL}} * 3600 / 2^30`),
    q('destinations', 'Top destinations by requests', `topk(10, sum by (destination) (${RULE.destinationRequests}{${SEL}, destination=~"$destination"}))`),
    q('destinations', 'Top destinations by download', `topk(10, sum by (destination) (${RULE.destinationReceivedBytes}{${SEL}, destination=~"$destination"}))`),
    q('pods', 'Upload per pod (top 20)', `topk(20, ${RULE.podSentBytes}{${SEL}, namespace=~"$namespace", pod=~"$pod"})`),
    q('pods', 'Download per pod (top 20)', `topk(20, ${RULE.podReceivedBytes}{${SEL}, namespace=~"$namespace", pod=~"$pod"})`),
    q('pods', 'Unattributed bytes', `${RULE.unattributedBytes}{namespace=~"$namespace"}`),
  ];
}

/** Substitutes Grafana's variables: All = `.*`, $__rate_interval 1m, $__range 1h, $__interval 15s. */
export function expandVariables(expr: string, values: Partial<Record<string, string>> = {}): string {
  const v: Record<string, string> = { __rate_interval: '1m', __range: '1h', __interval: '15s', __range_s: '3600', ...values } as Record<string, string>;
  return expr.replace(/\$\{?(__[a-z_]+|[a-zA-Z_][a-zA-Z0-9_]*)\}?/g, (_, name: string) => v[name] ?? '.*');
}

/** Rule names → their expressions (rules that are constants of the vendor model are left as they are). */
function ruleExpressions(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, name] of Object.entries(RULE)) {
    const expr = (RECORDING_EXPR as Record<string, string | ((job: string) => string)>)[key];
    if (typeof expr === 'string') out.set(name, expr);
    else if (typeof expr === 'function') out.set(name, expr('crawler-sidecars'));
  }
  return out;
}

/** Labels that raw series carry under the same name as the rules' output. */
const RAW_LABELS = new Set(['proxy_vendor', 'namespace', 'pod', 'request_protocol', 'response_code', 'le']);

/**
 * The same question on raw series: each recording rule name is replaced by its expression, repeatedly (rules
 * read rules). Matchers `=~".*"` (All) are dropped; other matchers on labels the raw series carry are pushed into
 * every selector of the expression; a matcher on a computed label (destination) makes the panel not inlinable,
 * and undefined is returned.
 */
export function inlineRules(expr: string): string | undefined {
  const rules = ruleExpressions();
  const names = [...rules.keys()].sort((a, b) => b.length - a.length).map(n => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${names.join('|')})(\\{([^}]*)\\})?`, 'g');
  let out = expr;
  for (let depth = 0; depth < 5; depth++) {
    let blocked = false;
    const next = out.replace(re, (_m, name: string, _b, matchers: string | undefined) => {
      const rest = (matchers ?? '').split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/).map(s => s.trim()).filter(m => m && !/^[a-z_]+=~"\.\*"$/.test(m));
      if (rest.some(m => !RAW_LABELS.has(m.split(/[=!~]/)[0]))) blocked = true;
      const body = rest.length ? rules.get(name)!.replace(/\{([^{}]*)\}/g, (_s, inner: string) => `{${inner}, ${rest.join(', ')}}`) : rules.get(name)!;
      return `(${body})`;
    });
    if (blocked) return undefined;
    if (next === out) return out;
    out = next;
  }
  return out;
}
