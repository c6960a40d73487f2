import { DESTINATION_SCRAPE_JOB } from '../../core/metric-contract';
import { RULE_GROUPS, contractRules, isAlertingRule, ruleGroups } from '../../core/rules';
import { parseDuration } from '../../core/validation';
import { VendorCatalog } from '../../core/vendor';

/**
 * The same question as a dashboard panel, asked of raw series: every recording rule name in the panel's
 * expression is replaced by the rule's expression (repeatedly: rules read rules). The vendor-model constants
 * (`...:constant`) stay as they are; they are not derived from scraped series.
 */

/** Labels that raw series carry under the same name as the rules' output. */
const RAW_LABELS = new Set(['proxy_vendor', 'namespace', 'pod', 'request_protocol', 'response_code', 'le']);

/**
 * Every rule's expression and the interval its group records it at, from the rule records themselves; the vendor
 * model's constants stay rules (one vendor stands in for the catalog, whose constants are not inlined).
 */
function ruleExpressions(job: string, ruleIntervalSeconds: number): Map<string, { expr: string; intervalSeconds: number }> {
  const records = contractRules({ vendors: new VendorCatalog([{ name: 'inline' }]), jobs: { totals: job, destinations: DESTINATION_SCRAPE_JOB }, ruleIntervalSeconds });
  const out = new Map<string, { expr: string; intervalSeconds: number }>();
  for (const group of ruleGroups(records, ruleIntervalSeconds).filter(g => g.name !== RULE_GROUPS.vendors)) {
    const intervalSeconds = group.interval ? parseDuration(group.name, group.interval) / 1000 : ruleIntervalSeconds;
    for (const rule of group.rules) if (!isAlertingRule(rule)) out.set(rule.record, { expr: rule.expr, intervalSeconds });
  }
  return out;
}

/**
 * Matchers `=~".*"` (All) are dropped; other matchers on labels the raw series carry are pushed into every
 * selector of the rule's expression; a matcher on a computed label (destination) makes the panel not
 * inlinable and undefined is returned. A range over a rule (`rule[1h]`) becomes a subquery at the rule's
 * evaluation interval, which is what the recorded samples were.
 */
export function inlineRules(expr: string, job: string, ruleIntervalSeconds = 30): string | undefined {
  const rules = ruleExpressions(job, ruleIntervalSeconds);
  const names = [...rules.keys()].sort((a, b) => b.length - a.length).map(n => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${names.join('|')})(\\{([^}]*)\\})?(\\[([0-9a-z]+)\\])?`, 'g');
  let out = expr;
  for (let depth = 0; depth < 5; depth++) {
    let blocked = false;
    const next = out.replace(re, (_m, name: string, _b, matchers: string | undefined, _r, range: string | undefined) => {
      const rest = (matchers ?? '').split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/).map(s => s.trim()).filter(m => m && !/^[a-z_]+=~"\.\*"$/.test(m));
      if (rest.some(m => !RAW_LABELS.has(m.split(/[=!~]/)[0]))) blocked = true;
      const rule = rules.get(name)!;
      const body = rest.length ? rule.expr.replace(/\{([^{}]*)\}/g, (_s, inner: string) => `{${inner}, ${rest.join(', ')}}`) : rule.expr;
      return range ? `(${body})[${range}:${rule.intervalSeconds}s]` : `(${body})`;
    });
    if (blocked) return undefined;
    if (next === out) return out;
    out = next;
  }
  return out;
}

/** A copy of `xs` in random order (Fisher–Yates): timed rounds run their queries in a new order each round. */
export function shuffle<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
