import { ALL_PODS, COST_RULE_INTERVAL_SECONDS, DestinationGuard, INTERMEDIATE, LABEL, RECORDING_EXPR, RULE, RULE_GROUPS, UNBOUNDED_DESTINATIONS, destinationRuleExprs } from '../../core/metric-contract';
import { VendorCatalog } from '../../core/vendor';
import { RecordingRule, RuleGroup } from './rule-group';

/** The `job` label values of the two crawler scrape jobs. */
export interface CrawlerJobs {
  readonly totals: string;
  readonly destinations: string;
}

/**
 * The metric contract's recording rules, in groups Prometheus evaluates concurrently: the totals (reading the
 * request, connection and byte counters), the destinations (reading the per-destination counters) and the latency
 * buckets, each raw family read once per evaluation; the vendor model; and the hourly cost figures, every 5 minutes,
 * from the 5-minute rules. Order within a group matters: rules read earlier rules of the same group, which
 * Prometheus evaluates sequentially at the same timestamp. `ruleIntervalSeconds` is the evaluation interval of the
 * totals group, which the cost rules' hourly averages weigh its samples by.
 */
export function recordingRuleGroups(vendors: VendorCatalog, jobs: CrawlerJobs, destinations: DestinationGuard = UNBOUNDED_DESTINATIONS, ruleIntervalSeconds = 30): RuleGroup[] {
  const r = (record: string, expr: string): RecordingRule => ({ record, expr });
  // Series the dashboards read when no pod is picked.
  const forAllPods = (record: string, expr: string): RecordingRule => ({ record, expr, labels: { [LABEL.podSelection]: ALL_PODS } });
  const perDestination = destinationRuleExprs(destinations, jobs.destinations);
  const gatewayHosts = [...new Set(vendors.vendors.flatMap(v => v.gatewayHosts))].sort();
  return [
    {
      name: RULE_GROUPS.totals,
      rules: [
        r(INTERMEDIATE.podResponseCodes, RECORDING_EXPR.podResponseCodes),
        r(INTERMEDIATE.podConnections, RECORDING_EXPR.podConnections),
        r(RULE.podRequests, RECORDING_EXPR.podRequests),
        r(RULE.requests, RECORDING_EXPR.requests),
        r(RULE.podSentBytes, RECORDING_EXPR.podSentBytes),
        r(RULE.podReceivedBytes, RECORDING_EXPR.podReceivedBytes),
        forAllPods(RULE.topPodSentBytes, RECORDING_EXPR.topPodSentBytes),
        forAllPods(RULE.topPodReceivedBytes, RECORDING_EXPR.topPodReceivedBytes),
        r(RULE.vendorSentBytes, RECORDING_EXPR.vendorSentBytes),
        r(RULE.vendorReceivedBytes, RECORDING_EXPR.vendorReceivedBytes),
        r(RULE.responseCodes, RECORDING_EXPR.responseCodes),
        r(RULE.errorRatio, RECORDING_EXPR.errorRatio),
        r(RULE.crawlerPods, RECORDING_EXPR.crawlerPods(jobs.totals)),
        r(RULE.scrapeTargetsDown, RECORDING_EXPR.scrapeTargetsDown([jobs.totals, jobs.destinations])),
        r(RULE.scrapeDurationMax, RECORDING_EXPR.scrapeDurationMax([jobs.totals, jobs.destinations])),
        r(RULE.scrapeSamplesMax, RECORDING_EXPR.scrapeSamplesMax([jobs.totals, jobs.destinations])),
        r(RULE.unattributedBytes, RECORDING_EXPR.unattributedBytes),
      ],
    },
    {
      name: RULE_GROUPS.destinations,
      rules: [
        r(INTERMEDIATE.destinations, perDestination.destinations),
        r(RULE.destinationRequests, perDestination.destinationRequests),
        // Only with gateways: the misrouting alert reads it.
        ...(gatewayHosts.length > 0 ? [r(RULE.gatewayRequests, RECORDING_EXPR.gatewayRequests(gatewayHosts))] : []),
      ],
    },
    {
      name: RULE_GROUPS.latency,
      rules: [r(RULE.durationBuckets, RECORDING_EXPR.durationBuckets)],
    },
    {
      name: RULE_GROUPS.vendors,
      rules: vendorConstants(vendors),
    },
    {
      name: RULE_GROUPS.cost,
      interval: `${COST_RULE_INTERVAL_SECONDS / 60}m`,
      rules: [
        r(RULE.bytes1h, RECORDING_EXPR.bytes1h(ruleIntervalSeconds)),
        r(RULE.requests1h, RECORDING_EXPR.requests1h(ruleIntervalSeconds)),
        r(RULE.spend1h, RECORDING_EXPR.spend1h),
        forAllPods(RULE.podBytes5m, RECORDING_EXPR.podBytes5m),
      ],
    },
  ];
}

/** The vendor model as series, so rules and dashboards can join prices and budgets by proxy_vendor. */
function vendorConstants(vendors: VendorCatalog): RecordingRule[] {
  const GIB = 1024 ** 3;
  return vendors.vendors.flatMap(v => {
    const constant = (record: string, value: number | undefined, labels: Record<string, string> = {}): RecordingRule[] =>
      value === undefined ? [] : [{ record, expr: `vector(${value})`, labels: { [LABEL.vendor]: v.name, ...labels } }];
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
