import { DEMO_GATEWAY_JOB, DEMO_GATEWAY_METRICS, DESTINATION_LABEL, GATEWAY_LABEL, LABEL } from '../core/metric-contract';
import { COST_RULE_INTERVAL_SECONDS, RULE } from '../core/rules';
import { by, byDirection } from '../core/promql';

/**
 * Every PromQL expression of the dashboards, beside the dashboards: they read the contract's rule names and labels
 * from the core, so a label rename is one edit there.
 */

/** Grafana template variables the dashboards define and the panel expressions use. */
export const VAR = {
  vendor: 'vendor',
  namespace: 'namespace',
  pod: 'pod',
  destination: 'destination',
  /** Hidden: the pods of the recorded top lists over the dashboard's range (see topPodsOverRange). */
  topPods: 'top_pods',
} as const;

/** Matchers for the dashboard variables (multi-value, All = `.*`; the pod variable's All is ALL_PODS). */
const byVendor = `${LABEL.vendor}=~"$${VAR.vendor}"`;
const byNamespace = `${byVendor}, ${LABEL.namespace}=~"$${VAR.namespace}"`;

/**
 * Per-pod series for the pod variable: with All (ALL_PODS) the series recorded for all pods (`allRule`, labelled
 * pod_selection="__all__"), with picked pods their own series of `podRule`. `suffix` closes a range function.
 */
function pickedPods(allRule: string, podRule: string, suffix = '', allMatchers = ''): string {
  return `${allRule}{${byNamespace}, ${LABEL.podSelection}=~"$${VAR.pod}"${allMatchers}}${suffix} or on (${LABEL.vendor}, ${LABEL.namespace}, ${LABEL.pod}) ${podRule}{${byNamespace}, ${LABEL.pod}=~"$${VAR.pod}"}${suffix}`;
}
const byDestination = `${byVendor}, ${DESTINATION_LABEL}=~"$${VAR.destination}"`;

/**
 * The n pods that moved the most bytes over the range; with All, of the top_pods candidates. Their names go in as
 * `a|b|c` (Grafana's pipe format): Prometheus 2.42 looks such a set up directly in its index but matches the default
 * regex format `(a|b|c)` against every pod name (findSetMatches in tsdb/querier.go); 2.53 does both directly.
 * Pod names are DNS names: their only regex character, the dot, matches itself (and any character, never fewer pods).
 */
function topPodTotals(n: number): string {
  const overRange = `sum_over_time(${RULE.podBytes5m}`;
  return `topk(${n}, sum ${by(LABEL.vendor, LABEL.namespace, LABEL.pod)} (${pickedPods(overRange, overRange, '[$__range])', `, ${LABEL.pod}=~"\${${VAR.topPods}:pipe}"`)}) * ${COST_RULE_INTERVAL_SECONDS})`;
}

/** The largest total over the range that a pod outside every top list can have had (0 if none can exist). */
function unlistedPodBytesMax(): string {
  return `max(sum_over_time(${RULE.unlistedPodBytesMax5m}{${byNamespace}, ${LABEL.podSelection}=~"$${VAR.pod}"}[$__range])) * ${COST_RULE_INTERVAL_SECONDS} or vector(0)`;
}

/**
 * The total of a per-second rule over the dashboard's time range: the sum of its samples times the
 * interval they were recorded at. Unlike avg × range, a pod that lived for part of the range is not inflated.
 */
function totalOverRange(selector: string, intervalSeconds: number, byLabels?: string): string {
  return `sum ${byLabels ? `by (${byLabels}) ` : ''}(sum_over_time(${selector}[$__range])) * ${intervalSeconds}`;
}

/**
 * The range total of upload plus download. Both rules carry the same labels, so one name regex would
 * collide once sum_over_time drops the name; a `direction` label keeps them apart until the sum.
 */
function bothTotalsOverRange(sent: string, received: string, intervalSeconds: number, byLabels: string): string {
  return `sum by (${byLabels}) (${byDirection(`sum_over_time(${sent}[$__range])`, `sum_over_time(${received}[$__range])`)}) * ${intervalSeconds}`;
}

/** `expr` per vendor, with 0 for vendors that have traffic but none of what `expr` counts. */
function orZeroPerVendor(expr: string, base: string): string {
  return `${expr} or 0 * sum ${by(LABEL.vendor)} (${base})`;
}

/**
 * A per-day rule (`…:increase1d`, the day before each evaluation) read by the day that starts at each step: the per-day
 * panels step by a day aligned to midnight, and the last sample recorded before the next midnight covers that day. The
 * current day shows its latest sample: the 24 hours until now. `sum by` drops the name: tables merge their queries on
 * the remaining labels.
 */
function perDay(selector: string): string {
  return `sum ${by(LABEL.vendor)} (last_over_time(${selector}[1d] offset -1d))`;
}

/** Label that tells a series of now from the same series a week earlier, in one query. */
export const WHEN_LABEL = 'when';

/** Seconds left in the calendar month at each evaluation time. */
const SECONDS_LEFT_IN_MONTH = 'scalar((days_in_month() - day_of_month() + 1) * 86400) - time() % 86400';

/** A demo gateway series' `vendor` label as `proxy_vendor`, filtered by the dashboards' vendor variable. */
const demoGatewayRate = (direction: 'sent' | 'received') =>
  `sum ${by(LABEL.vendor)} (label_replace(rate(${DEMO_GATEWAY_METRICS.wireBytes}{job="${DEMO_GATEWAY_JOB}", direction="${direction}", vendor=~"$vendor"}[$__rate_interval]), "${LABEL.vendor}", "$1", "vendor", "(.*)"))`;

/** Options of the dashboard expressions that depend on the deployment. */
export interface PanelExprOptions {
  /** Evaluation interval of the contract rule group, in seconds. */
  readonly ruleIntervalSeconds: number;
  /** Scrape job of the crawler sidecars' totals. */
  readonly job: string;
  /** Scrape job of the crawler sidecars' per-destination counters. */
  readonly destinationJob: string;
  /** Regex of destination values that do not name the site crawled: TLS without SNI, TCP gateways, "(not measured)". */
  readonly unknownDestinations: string;
}

/** Every PromQL expression of the dashboards; `$vendor`, `$namespace`, `$pod`, `$destination` are Grafana variables. */
export function panelExpr(o: PanelExprOptions) {
  const requests = `${RULE.requests}{${byVendor}}`;
  const responses = `${RULE.responseCodes}{${byVendor}}`;
  const unknown = `${DESTINATION_LABEL}=~"${o.unknownDestinations}"`;
  const mtd = (rule: string) => totalOverRange(`${rule}{${byVendor}}`, COST_RULE_INTERVAL_SECONDS, LABEL.vendor);
  // The denominator from the recorded per-vendor total: reading every destination series over the range costs more.
  const unknownShare = (rule: string, total: string) => {
    const all = `sum ${by(LABEL.vendor)} (${total}{${byVendor}})`;
    return `(sum ${by(LABEL.vendor)} (${rule}{${byVendor}, ${unknown}}) or 0 * ${all}) / ${all}`;
  };
  return {
    // Overview
    httpRequestRate: `sum(${RULE.requests}{${byVendor}, request_protocol="http"}) or vector(0)`,
    tcpConnectionRate: `sum(${RULE.requests}{${byVendor}, request_protocol="tcp"}) or vector(0)`,
    requestsOverRange: totalOverRange(requests, o.ruleIntervalSeconds, 'request_protocol'),
    requestsPerVendor: `sum ${by(LABEL.vendor, 'request_protocol')} (${requests})`,
    requestShare: totalOverRange(requests, o.ruleIntervalSeconds, LABEL.vendor),
    byteShare: bothTotalsOverRange(`${RULE.vendorSentBytes}{${byVendor}}`, `${RULE.vendorReceivedBytes}{${byVendor}}`, o.ruleIntervalSeconds, LABEL.vendor),
    crawlerPods: `sum ${by(LABEL.vendor)} (${RULE.crawlerPods}{${byVendor}})`,
    successRatio: `1 - ${RULE.errorRatio}{${byVendor}}`,
    // Bandwidth
    vendorSentRate: `sum ${by(LABEL.vendor)} (${RULE.vendorSentBytes}{${byVendor}})`,
    vendorReceivedRate: `sum ${by(LABEL.vendor)} (${RULE.vendorReceivedBytes}{${byVendor}})`,
    // The busiest `n` of the selected pods at each step: a graph of thousands of lines shows nothing and costs a lot.
    // All pods: from the recorded busiest ones, so the cost does not grow with the fleet; picked pods: their own series.
    podSentRate: (n: number) => `topk(${n}, sum ${by(LABEL.vendor, LABEL.namespace, LABEL.pod)} (${pickedPods(RULE.topPodSentBytes, RULE.podSentBytes)}))`,
    podReceivedRate: (n: number) => `topk(${n}, sum ${by(LABEL.vendor, LABEL.namespace, LABEL.pod)} (${pickedPods(RULE.topPodReceivedBytes, RULE.podReceivedBytes)}))`,
    // The demo gateways' own count: downloads they served (sent), uploads they received.
    demoGatewayServedRate: demoGatewayRate('sent'),
    demoGatewayReceivedRate: demoGatewayRate('received'),
    // Requests/s that reached the demo gateways with a header the crawler sidecars added, per vendor and header.
    injectedHeaderRate: `sum ${by(LABEL.vendor, 'header')} (label_replace(rate(${DEMO_GATEWAY_METRICS.injectedHeaders}{job="${DEMO_GATEWAY_JOB}", vendor=~"$vendor"}[$__rate_interval]), "${LABEL.vendor}", "$1", "vendor", "(.*)"))`,
    sentOverRange: totalOverRange(`${RULE.vendorSentBytes}{${byVendor}}`, o.ruleIntervalSeconds),
    receivedOverRange: totalOverRange(`${RULE.vendorReceivedBytes}{${byVendor}}`, o.ruleIntervalSeconds),
    vendorSentOverRange: totalOverRange(`${RULE.vendorSentBytes}{${byVendor}}`, o.ruleIntervalSeconds, LABEL.vendor),
    vendorReceivedOverRange: totalOverRange(`${RULE.vendorReceivedBytes}{${byVendor}}`, o.ruleIntervalSeconds, LABEL.vendor),
    // Per-pod totals from the 5-minute samples of the 5-minute rate. With All, of the candidates only: the pods in
    // the recorded top lists during the range (the hidden top_pods variable), so the cost follows the lists' churn,
    // not the fleet. Exact for every pod listed; topPodsComplete says whether a pod outside could rank higher.
    topPodsOverRange: (n: number) => topPodTotals(n),
    // No pod that was never a candidate moved more than this: per vendor and namespace, the sum over the range of the
    // next pod below each top list. 0 when every pod was a candidate or pods are picked.
    unlistedPodBytesMax: unlistedPodBytesMax(),
    // 1 when the n-th listed pod moved at least that bound (the list is the true top n), else 0.
    topPodsComplete: (n: number) => `(min(${topPodTotals(n)}) >= bool (${unlistedPodBytesMax()})) or vector(1)`,
    // Destinations
    topDestinationRequests: (n: number) => `topk(${n}, sum ${by(LABEL.vendor, DESTINATION_LABEL, 'request_protocol')} (${RULE.destinationRequests}{${byDestination}}))`,
    destinationRequestRate: (n: number) => `topk(${n}, sum ${by(DESTINATION_LABEL)} (${RULE.destinationRequests}{${byDestination}}))`,
    gatewayRequestRate: `sum ${by(LABEL.vendor, GATEWAY_LABEL, 'request_protocol')} (${RULE.gatewayRequests}{${byVendor}})`,
    unknownDestinationRequestShare: unknownShare(RULE.destinationRequests, RULE.destinationTotal),
    // Pods whose destination scrape fails (over its sample limit), 0 for vendors with none.
    destinationsNotMeasured: `sum ${by(LABEL.vendor)} (${RULE.scrapeTargetsDown}{job="${o.destinationJob}", ${byVendor}})`,
    destinationScrapeSamples: `max ${by(LABEL.vendor)} (${RULE.scrapeSamplesMax}{job="${o.destinationJob}", ${byVendor}})`,
    // Performance & health
    latencyQuantile: (q: number) => `histogram_quantile(${q}, sum ${by(LABEL.vendor, 'le')} (${RULE.durationBuckets}{${byVendor}}))`,
    errorRatio: `${RULE.errorRatio}{${byVendor}}`,
    responseClassShare: `sum ${by(LABEL.vendor, 'class')} (label_replace(label_replace(${responses}, "class", "\${1}xx", "response_code", "([1-5])[0-9][0-9]"), "class", "no response", "response_code", "0"))`
      + ` / on (${LABEL.vendor}) group_left sum ${by(LABEL.vendor)} (${responses})`,
    codeRate: (code: number) => orZeroPerVendor(`sum ${by(LABEL.vendor)} (${RULE.responseCodes}{${byVendor}, response_code="${code}"})`, responses),
    targetsDown: `sum ${by(LABEL.vendor)} (${RULE.scrapeTargetsDown}{job="${o.job}", ${byVendor}})`,
    scrapeDuration: `max ${by(LABEL.vendor)} (${RULE.scrapeDurationMax}{job="${o.job}", ${byVendor}})`,
    scrapeSamples: `max ${by(LABEL.vendor)} (${RULE.scrapeSamplesMax}{job="${o.job}", ${byVendor}})`,
    headSeries: 'max by (instance) (prometheus_tsdb_head_series)',
    samplesAppended: 'sum by (instance) (rate(prometheus_tsdb_head_samples_appended_total[$__rate_interval]))',
    unattributedBytes: `sum ${by(LABEL.namespace)} (${RULE.unattributedBytes})`,
    // Cost & budget
    spendPerHour: `sum ${by(LABEL.vendor)} (${RULE.spend1h}{${byVendor}}) * 3600`,
    spendMonthToDate: mtd(RULE.spend1h),
    budgetUsed: `${mtd(RULE.spend1h)} / on (${LABEL.vendor}) ${RULE.monthlyBudget}{${byVendor}}`,
    projectedSpend: `${mtd(RULE.spend1h)} + sum ${by(LABEL.vendor)} (${RULE.spend1h}{${byVendor}}) * (${SECONDS_LEFT_IN_MONTH})`,
    monthlyBudget: `${RULE.monthlyBudget}{${byVendor}}`,
    trafficMonthToDate: mtd(RULE.bytes1h),
    trafficBudgetUsed: `${mtd(RULE.bytes1h)} / on (${LABEL.vendor}) ${RULE.monthlyTrafficBudgetBytes}{${byVendor}}`,
    pricePerGiB: `${RULE.pricePerGiB}{${byVendor}}`,
    pricePer1kRequests: `${RULE.pricePer1kRequests}{${byVendor}}`,
    // Cost & budget, billed and measured: what the vendors billed (usage collector) beside what the sidecars measured
    billedBytesRate: `${RULE.billedBytes}{${byVendor}}`,
    measuredBillableBytesRate: `${RULE.measuredBillableBytes}{${byVendor}}`,
    unmeasuredBilledBytesRate: `${RULE.unmeasuredBilledBytes}{${byVendor}}`,
    billedAccountBytesRate: `${RULE.billedAccountBytes}{${byVendor}}`,
    billedToMeasured1h: `${RULE.billedToMeasured1h}{${byVendor}}`,
    billedBytesPerDay: perDay(`${RULE.billedBytes1d}{${byVendor}}`),
    measuredBytesPerDay: perDay(`${RULE.measuredBillableBytes1d}{${byVendor}}`),
    // The whole bill where nothing was measured (a vendor without gateways), as the per-evaluation rule counts it.
    unmeasuredBytesPerDay: `${perDay(`${RULE.billedBytes1d}{${byVendor}}`)} - on (${LABEL.vendor}) `
      + `(${perDay(`${RULE.measuredBillableBytes1d}{${byVendor}}`)} or 0 * ${perDay(`${RULE.billedBytes1d}{${byVendor}}`)})`,
    billedOverMeasuredPerDay: `${perDay(`${RULE.billedToMeasured1d}{${byVendor}}`)} - 1`,
    billedRequestsPerDay: perDay(`${RULE.billedRequests1d}{${byVendor}}`),
    // Cost & budget, anomaly signals (the signals of the retry storm, pod share and spend anomaly alerts)
    requestsPerSuccess: `${RULE.requestsPerSuccess}{${byVendor}}`,
    podShare: `${RULE.podShare}{${byVendor}}`,
    // One query for both: the week-earlier series is empty on a Prometheus younger than a week, the current one is not.
    spendPerHourWeekOverWeek: `label_replace(${RULE.spendTotal1h}{${byVendor}} * 3600, "${WHEN_LABEL}", "now", "", "")`
      + ` or label_replace(${RULE.spendTotal1h}{${byVendor}} offset 1w * 3600, "${WHEN_LABEL}", "a week earlier", "", "")`,
  };
}

/** The dashboards' expressions, as returned by panelExpr. */
export type PanelExpr = ReturnType<typeof panelExpr>;
