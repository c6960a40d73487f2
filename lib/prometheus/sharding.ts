import { INTERMEDIATE, RULE, SHARDED_EXPR, shardPartial } from '../../core/metric-contract';
import { RecordingRule, Rule, RuleGroup, isAlertingRule } from './rule-group';

/** One of `count` Prometheus servers that split the crawler targets between them. */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/**
 * Keeps the targets of one shard: md5 of the target address modulo the shard count, as prometheus-operator
 * shards (`generateAddressShardingRelabelingRules`). Every target lands on exactly one shard.
 */
export function shardRelabelConfigs(shard: ShardSpec): Record<string, unknown>[] {
  return [
    { source_labels: ['__address__'], target_label: '__tmp_hash', modulus: shard.count, action: 'hashmod' },
    { source_labels: ['__tmp_hash'], regex: String(shard.index), action: 'keep' },
  ];
}

/**
 * Where a contract rule runs when the crawler targets are split across shards:
 * - `shard`: complete on each shard, because it keeps `pod` and a pod is scraped by one shard only;
 * - `partial`: a sum (or count) per shard, recorded as `shardPartial(name)`; the global layer sums the partials;
 * - `global`: on the global Prometheus only, over the totals, the pod-level series and `up` that the shards
 *   send: ratios, cost (price × total), the vendor model constants (one copy, not one per shard) and counts of
 *   `up`. A ratio is never a sum of shard ratios.
 */
export type RulePlacement = 'shard' | 'partial' | 'global';

export const RULE_PLACEMENT: Readonly<Record<string, RulePlacement>> = {
  [INTERMEDIATE.podResponseCodes]: 'shard',
  [INTERMEDIATE.podConnections]: 'shard',
  [RULE.podRequests]: 'shard',
  [RULE.requests]: 'partial',
  // The per-destination sums add up across shards; the bound ranks the fleet-wide sums, on the global Prometheus.
  [INTERMEDIATE.destinations]: 'partial',
  [RULE.destinationRequests]: 'global',
  [RULE.gatewayRequests]: 'partial',
  [RULE.podSentBytes]: 'shard',
  [RULE.podReceivedBytes]: 'shard',
  // Each shard's busiest pods per vendor and namespace: their union holds the fleet's busiest, which the panel picks.
  [RULE.topPodSentBytes]: 'shard',
  [RULE.topPodReceivedBytes]: 'shard',
  [RULE.podBytes5m]: 'shard',
  // The sum of the pod-level series every shard sends.
  [RULE.vendorSentBytes]: 'global',
  [RULE.vendorReceivedBytes]: 'global',
  [RULE.responseCodes]: 'partial',
  [RULE.errorRatio]: 'global',
  // Histogram buckets add up; quantiles are taken from the global sum.
  [RULE.durationBuckets]: 'partial',
  [RULE.crawlerPods]: 'global',
  // Per shard, sent on with the shard's label: the panels sum or take the max over shards.
  [RULE.scrapeTargetsDown]: 'shard',
  [RULE.scrapeDurationMax]: 'shard',
  [RULE.scrapeSamplesMax]: 'shard',
  [RULE.unattributedBytes]: 'partial',
  // Hourly averages of global rules.
  [RULE.bytes1h]: 'global',
  [RULE.requests1h]: 'global',
  [RULE.spend1h]: 'global',
  [RULE.vendorInfo]: 'global',
  [RULE.pricePerGiB]: 'global',
  [RULE.pricePer1kRequests]: 'global',
  [RULE.monthlyBudget]: 'global',
  [RULE.monthlyTrafficBudgetBytes]: 'global',
};

/**
 * Splits the contract's rule groups into what every shard evaluates and what the global Prometheus evaluates. The
 * destination bound runs on the global Prometheus, over the sum of the shards' (folded, unbounded) per-destination
 * partials: the top N are picked from fleet-wide totals, never per shard.
 */
export function placeRuleGroups(groups: readonly RuleGroup[]): { shard: RuleGroup[]; global: RuleGroup[] } {
  const shard: RuleGroup[] = [];
  const global: RuleGroup[] = [];
  for (const group of groups) {
    const onShard: Rule[] = [];
    const onGlobal: Rule[] = [];
    for (const rule of group.rules) {
      if (isAlertingRule(rule)) {
        onGlobal.push(rule);
        continue;
      }
      const placement = RULE_PLACEMENT[rule.record];
      if (placement === undefined) {
        throw new Error(`recording rule ${rule.record} has no shard placement: add it to RULE_PLACEMENT`);
      }
      if (placement === 'shard') onShard.push(rule);
      if (placement === 'global') onGlobal.push(rule);
      if (placement === 'partial') {
        onShard.push({ ...rule, record: shardPartial(rule.record) });
        const total: RecordingRule = { record: rule.record, expr: SHARDED_EXPR.sumOfPartials(rule.record, outerSumLabels(rule)) };
        onGlobal.push(rule.labels ? { ...total, labels: rule.labels } : total);
      }
    }
    // Same group names and intervals on both sides; rules keep their order within a group.
    if (onShard.length > 0) shard.push({ ...group, rules: onShard });
    if (onGlobal.length > 0) global.push({ ...group, rules: onGlobal });
  }
  return { shard, global };
}

/**
 * The `by` labels of a rule whose expression is one `sum by (...) (...)`: a partial rule must be of that form,
 * otherwise the sum of partials would not equal the rule over all targets.
 */
function outerSumLabels(rule: RecordingRule): string[] {
  const m = /^sum by \(([^)]*)\) \(/.exec(rule.expr);
  if (!m || closingParen(rule.expr, m[0].length - 1) !== rule.expr.length - 1) {
    throw new Error(`partial rule ${rule.record} must be a single 'sum by (...) (...)' to be summed across shards: ${rule.expr}`);
  }
  return m[1].split(',').map(l => l.trim()).filter(l => l !== '');
}

/** Index of the parenthesis closing the one at `open`, skipping quoted strings. */
function closingParen(expr: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < expr.length; i++) {
    const c = expr[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === '\'' || c === '`') {
      quote = c;
    } else if (c === '(') {
      depth++;
    } else if (c === ')' && --depth === 0) {
      return i;
    }
  }
  return -1;
}
