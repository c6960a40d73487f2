import { DESTINATION_SCRAPE_JOB } from '../../core/metric-contract';
import { COST_RULE_INTERVAL_SECONDS, RULE, contractRules } from '../../core/rules';
import { VendorCatalog } from '../../core/vendor';

/**
 * The same question as a dashboard panel, asked of raw series: every recording rule name in the panel's
 * expression is replaced by the rule's expression (repeatedly: rules read rules). The vendor-model constants
 * (`...:constant`) stay as they are; they are not derived from scraped series.
 */

/** Labels that raw series carry under the same name as the rules' output. */
const RAW_LABELS = new Set(['proxy_vendor', 'namespace', 'pod', 'request_protocol', 'response_code', 'le']);
/** Rules of the cost group, recorded once a minute; the others every 30 s (the default evaluation interval). */
const COST_RULES = new Set<string>([RULE.bytes1h, RULE.requests1h, RULE.spend1h]);

function ruleExpressions(job: string): Map<string, string> {
  const records = contractRules({ vendors: new VendorCatalog([]), jobs: { totals: job, destinations: DESTINATION_SCRAPE_JOB } });
  return new Map(records.map(r => [r.record, r.expr]));
}

/**
 * Matchers `=~".*"` (All) are dropped; other matchers on labels the raw series carry are pushed into every
 * selector of the rule's expression; a matcher on a computed label (destination) makes the panel not
 * inlinable and undefined is returned. A range over a rule (`rule[1h]`) becomes a subquery at the rule's
 * evaluation interval, which is what the recorded samples were.
 */
export function inlineRules(expr: string, job: string, ruleIntervalSeconds = 30): string | undefined {
  const rules = ruleExpressions(job);
  const names = [...rules.keys()].sort((a, b) => b.length - a.length).map(n => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${names.join('|')})(\\{([^}]*)\\})?(\\[([0-9a-z]+)\\])?`, 'g');
  let out = expr;
  for (let depth = 0; depth < 5; depth++) {
    let blocked = false;
    const next = out.replace(re, (_m, name: string, _b, matchers: string | undefined, _r, range: string | undefined) => {
      const rest = (matchers ?? '').split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/).map(s => s.trim()).filter(m => m && !/^[a-z_]+=~"\.\*"$/.test(m));
      if (rest.some(m => !RAW_LABELS.has(m.split(/[=!~]/)[0]))) blocked = true;
      const body = rest.length ? rules.get(name)!.replace(/\{([^{}]*)\}/g, (_s, inner: string) => `{${inner}, ${rest.join(', ')}}`) : rules.get(name)!;
      const step = COST_RULES.has(name) ? COST_RULE_INTERVAL_SECONDS : ruleIntervalSeconds;
      return range ? `(${body})[${range}:${step}s]` : `(${body})`;
    });
    if (blocked) return undefined;
    if (next === out) return out;
    out = next;
  }
  return out;
}
