import {
  ALL_PODS, COST_RULE_INTERVAL_SECONDS, DestinationGuard, INTERMEDIATE, LABEL, RECORDING_EXPR, RULE, RULE_GROUPS, SHARDED_EXPR,
  UNBOUNDED_DESTINATIONS, destinationRuleExprs, shardPartial,
} from './metric-contract';
import { VendorCatalog } from './vendor';

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

/**
 * Where a contract rule runs when the crawler targets are split across shards:
 * - `shard`: complete on each shard, because it keeps `pod` and a pod is scraped by one shard only;
 * - `partial`: a sum (or count) per shard, recorded as `shardPartial(name)`; the global layer sums the partials;
 * - `global`: on the global Prometheus only, over the totals, the pod-level series and `up` that the shards
 *   send: ratios, cost (price × total), the vendor model constants (one copy, not one per shard) and counts of
 *   `up`. A ratio is never a sum of shard ratios.
 */
export type RulePlacement = 'shard' | 'partial' | 'global';

/** One recording rule of the contract with everything known about it: its group and where it runs when sharded. */
export interface ContractRule extends RecordingRule {
  readonly group: string;
  readonly placement: RulePlacement;
}

/** The `job` label values of the two crawler scrape jobs. */
export interface CrawlerJobs {
  readonly totals: string;
  readonly destinations: string;
}

/** What the contract's recording rules depend on. */
export interface RuleSettings {
  readonly vendors: VendorCatalog;
  readonly jobs: CrawlerJobs;
  /** @default UNBOUNDED_DESTINATIONS */
  readonly destinations?: DestinationGuard;
  /** Evaluation interval of the totals group in seconds, which the cost rules' hourly averages weigh its samples by. @default 30 */
  readonly ruleIntervalSeconds?: number;
}

/**
 * The groups, in the order they are written, and how often each runs. Prometheus evaluates groups concurrently: the
 * totals (reading the request, connection and byte counters: what vendors bill) every evaluation interval; the
 * destinations, the latency buckets and the scrape health (each reading its raw families once per evaluation) and the
 * vendor model every second interval, since their readers (panels stepping by a minute or more, alerts holding for
 * minutes) need no more; and the hourly cost figures every 5 minutes, from the 5-minute rules.
 */
const GROUPS: ReadonlyArray<{ readonly name: string; readonly everyEvaluations?: number; readonly intervalSeconds?: number }> = [
  { name: RULE_GROUPS.totals, everyEvaluations: 1 },
  { name: RULE_GROUPS.destinations, everyEvaluations: 2 },
  { name: RULE_GROUPS.latency, everyEvaluations: 2 },
  { name: RULE_GROUPS.scrape, everyEvaluations: 2 },
  { name: RULE_GROUPS.vendors, everyEvaluations: 2 },
  { name: RULE_GROUPS.cost, intervalSeconds: COST_RULE_INTERVAL_SECONDS },
];

/** A group's interval: none for the totals (Prometheus' evaluation interval), else as a duration. */
function groupInterval(group: (typeof GROUPS)[number], ruleIntervalSeconds: number): string | undefined {
  if (group.everyEvaluations === 1) return undefined;
  const seconds = group.intervalSeconds ?? group.everyEvaluations! * ruleIntervalSeconds;
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

/**
 * Every recording rule of the contract, one record each. Order within a group matters: rules read earlier rules of
 * the same group, which Prometheus evaluates sequentially at the same timestamp.
 */
export function contractRules(settings: RuleSettings): ContractRule[] {
  const { vendors, jobs } = settings;
  const ruleIntervalSeconds = settings.ruleIntervalSeconds ?? 30;
  const perDestination = destinationRuleExprs(settings.destinations ?? UNBOUNDED_DESTINATIONS, jobs.destinations);
  const gatewayHosts = [...new Set(vendors.vendors.flatMap(v => v.gatewayHosts))].sort();
  const scrapeJobs = [jobs.totals, jobs.destinations];
  const in_ = (group: string) => (record: string, expr: string, placement: RulePlacement, labels?: Record<string, string>): ContractRule =>
    (labels ? { record, expr, labels, group, placement } : { record, expr, group, placement });
  const totals = in_(RULE_GROUPS.totals);
  const destinations = in_(RULE_GROUPS.destinations);
  const cost = in_(RULE_GROUPS.cost);
  const scrape = in_(RULE_GROUPS.scrape);
  // Series the dashboards read when no pod is picked. A new object per rule, never shared (YAML would alias it).
  const allPods = () => ({ [LABEL.podSelection]: ALL_PODS });
  return [
    totals(INTERMEDIATE.podResponseCodes, RECORDING_EXPR.podResponseCodes, 'shard'),
    totals(INTERMEDIATE.podConnections, RECORDING_EXPR.podConnections, 'shard'),
    totals(RULE.podRequests, RECORDING_EXPR.podRequests, 'shard'),
    totals(RULE.requests, RECORDING_EXPR.requests, 'partial'),
    totals(RULE.podSentBytes, RECORDING_EXPR.podSentBytes, 'shard'),
    totals(RULE.podReceivedBytes, RECORDING_EXPR.podReceivedBytes, 'shard'),
    // Each shard's busiest pods per vendor and namespace: their union holds the fleet's busiest, which the panel picks.
    totals(RULE.topPodSentBytes, RECORDING_EXPR.topPodSentBytes, 'shard', allPods()),
    totals(RULE.topPodReceivedBytes, RECORDING_EXPR.topPodReceivedBytes, 'shard', allPods()),
    // The sum of the pod-level series every shard sends.
    totals(RULE.vendorSentBytes, RECORDING_EXPR.vendorSentBytes, 'global'),
    totals(RULE.vendorReceivedBytes, RECORDING_EXPR.vendorReceivedBytes, 'global'),
    totals(RULE.responseCodes, RECORDING_EXPR.responseCodes, 'partial'),
    totals(RULE.errorRatio, RECORDING_EXPR.errorRatio, 'global'),
    scrape(RULE.crawlerPods, RECORDING_EXPR.crawlerPods(jobs.totals), 'global'),
    // Per shard, sent on with the shard's label: the panels sum or take the max over shards.
    scrape(RULE.scrapeTargetsDown, RECORDING_EXPR.scrapeTargetsDown(scrapeJobs), 'shard'),
    scrape(RULE.scrapeDurationMax, RECORDING_EXPR.scrapeDurationMax(scrapeJobs), 'shard'),
    scrape(RULE.scrapeSamplesMax, RECORDING_EXPR.scrapeSamplesMax(scrapeJobs), 'shard'),
    totals(RULE.unattributedBytes, RECORDING_EXPR.unattributedBytes, 'partial'),
    // The per-destination sums add up across shards; the bound ranks the fleet-wide sums, on the global Prometheus.
    destinations(INTERMEDIATE.destinations, perDestination.destinations, 'partial'),
    destinations(RULE.destinationRequests, perDestination.destinationRequests, 'global'),
    destinations(RULE.destinationTotal, RECORDING_EXPR.destinationTotal, 'global'),
    // Only with gateways: the misrouting alert reads it.
    ...(gatewayHosts.length > 0 ? [destinations(RULE.gatewayRequests, RECORDING_EXPR.gatewayRequests(gatewayHosts), 'partial')] : []),
    // Histogram buckets add up; quantiles are taken from the global sum.
    in_(RULE_GROUPS.latency)(RULE.durationBuckets, RECORDING_EXPR.durationBuckets, 'partial'),
    ...vendorConstants(vendors),
    // Hourly averages of global rules.
    cost(RULE.bytes1h, RECORDING_EXPR.bytes1h(ruleIntervalSeconds), 'global'),
    cost(RULE.requests1h, RECORDING_EXPR.requests1h(ruleIntervalSeconds), 'global'),
    cost(RULE.spend1h, RECORDING_EXPR.spend1h, 'global'),
    cost(RULE.podBytes5m, RECORDING_EXPR.podBytes5m, 'shard', allPods()),
  ];
}

/** The vendor model as series, so rules and dashboards can join prices and budgets by proxy_vendor: one copy, global. */
function vendorConstants(vendors: VendorCatalog): ContractRule[] {
  const GIB = 1024 ** 3;
  return vendors.vendors.flatMap(v => {
    const constant = (record: string, value: number | undefined, labels: Record<string, string> = {}): ContractRule[] =>
      value === undefined ? [] : [{ record, expr: `vector(${value})`, labels: { [LABEL.vendor]: v.name, ...labels }, group: RULE_GROUPS.vendors, placement: 'global' }];
    return [
      // What the sidecars parse of the vendor's gateway traffic: `validate` checks that they really do.
      ...constant(RULE.vendorInfo, 1, { [LABEL.gatewayInspection]: v.endpoints.length === 0 ? 'none' : v.inspect }),
      ...constant(RULE.pricePerGiB, v.pricePerGiB),
      ...constant(RULE.pricePer1kRequests, v.pricePer1kRequests),
      ...constant(RULE.monthlyBudget, v.monthlyBudget),
      ...constant(RULE.monthlyTrafficBudgetBytes, v.monthlyTrafficBudgetGiB === undefined ? undefined : v.monthlyTrafficBudgetGiB * GIB),
    ];
  });
}

/** A plain recording rule, as written to a rule file. */
function plain(rule: ContractRule): RecordingRule {
  return rule.labels ? { record: rule.record, expr: rule.expr, labels: rule.labels } : { record: rule.record, expr: rule.expr };
}

/** Rules into their groups, in the groups' order; every group is written, empty ones too (the vendor model may be). */
export function ruleGroups(rules: readonly ContractRule[], ruleIntervalSeconds = 30): RuleGroup[] {
  const unknown = rules.filter(r => !GROUPS.some(g => g.name === r.group));
  if (unknown.length > 0) throw new Error(`recording rule ${unknown[0].record} is in group '${unknown[0].group}', which is not one of ${GROUPS.map(g => g.name).join(', ')}`);
  return GROUPS.map(g => {
    const interval = groupInterval(g, ruleIntervalSeconds);
    return { name: g.name, ...(interval ? { interval } : {}), rules: rules.filter(r => r.group === g.name).map(plain) };
  });
}

/**
 * Splits the contract's rules into what every shard evaluates and what the global Prometheus evaluates, by each
 * rule's own placement. The destination bound runs on the global Prometheus, over the sum of the shards' (folded,
 * unbounded) per-destination partials: the top N are picked from fleet-wide totals, never per shard. Groups keep
 * their names and intervals on both sides, rules their order; groups left empty on a side are not written there.
 */
export function placeRules(rules: readonly ContractRule[], ruleIntervalSeconds = 30): { shard: RuleGroup[]; global: RuleGroup[] } {
  const shard: RuleGroup[] = [];
  const global: RuleGroup[] = [];
  for (const group of ruleGroups(rules, ruleIntervalSeconds)) {
    const onShard: Rule[] = [];
    const onGlobal: Rule[] = [];
    for (const rule of rules.filter(r => r.group === group.name)) {
      if (rule.placement === 'shard') onShard.push(plain(rule));
      if (rule.placement === 'global') onGlobal.push(plain(rule));
      if (rule.placement === 'partial') {
        onShard.push(plain({ ...rule, record: shardPartial(rule.record) }));
        const total: RecordingRule = { record: rule.record, expr: SHARDED_EXPR.sumOfPartials(rule.record, outerSumLabels(rule)) };
        onGlobal.push(rule.labels ? { ...total, labels: rule.labels } : total);
      }
    }
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
