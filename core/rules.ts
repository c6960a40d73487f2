import { BilledBytes, Vendor, VendorCatalog } from './vendor';
import { DestinationGuard, UNBOUNDED_DESTINATIONS, boundDestinations, foldToRegistrableDomain, listDestinations, withDestination } from './destinations';
import {
  ACCOUNT_LABEL, ALL_PODS, DESTINATION_LABEL, GATEWAY_LABEL, ISTIO, LABEL, NOT_MEASURED_DESTINATION, TOP_PODS, USAGE_METRICS, shardPartial,
} from './metric-contract';
import { anyOf, by, byDirection } from './promql';

/**
 * The recording rules, one record each: name, group, placement when sharded and expression. Adding a rule is adding
 * its record to RULES below; RULE and INTERMEDIATE, the names dashboards and alerts read, are derived from it.
 */

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
  /**
   * Evaluation interval of the totals group in seconds, which the cost rules' hourly averages weigh its samples by.
   * @default DEFAULT_RULE_INTERVAL_SECONDS (30)
   */
  readonly ruleIntervalSeconds?: number;
  /**
   * A usage collector reports what the vendors billed: record the reconciliation of billed with measured.
   * @default false
   */
  readonly usage?: boolean;
}

/** Rule groups, evaluated concurrently by Prometheus: totals, destinations, latency and scrape health read different raw series. */
export const RULE_GROUPS = {
  totals: 'proxy-telemetry.rules',
  destinations: 'proxy-telemetry.destinations',
  latency: 'proxy-telemetry.latency',
  scrape: 'proxy-telemetry.scrape',
  vendors: 'proxy-telemetry.vendors',
  usage: 'proxy-telemetry.usage',
  cost: 'proxy-telemetry.cost',
} as const;
type GroupKey = keyof typeof RULE_GROUPS;

/** Name of the rule group holding the totals, which every deployment loads. */
export const RULE_GROUP = RULE_GROUPS.totals;

/**
 * Rule evaluation interval in seconds when none is given: MetricsStack's `prometheus.evaluationInterval` default
 * ('30s') and the mixin's `ruleIntervalSeconds` default.
 */
export const DEFAULT_RULE_INTERVAL_SECONDS = 30;

/** Evaluation interval of the cost rule group: 1h averages of the 5m rules, which change slowly. */
export const COST_RULE_INTERVAL_SECONDS = 300;

/**
 * The groups, in the order they are written, and how often each runs. Prometheus evaluates groups concurrently: the
 * totals (reading the request, connection and byte counters: what vendors bill) every evaluation interval; the
 * destinations, the latency buckets and the scrape health (each reading its raw families once per evaluation) and the
 * vendor model every second interval, since their readers (panels stepping by a minute or more, alerts holding for
 * minutes) need no more; and the hourly cost figures every 5 minutes, from the 5-minute rules.
 */
const GROUPS: ReadonlyArray<{ readonly key: GroupKey; readonly everyEvaluations?: number; readonly intervalSeconds?: number; readonly onlyWithRules?: boolean }> = [
  { key: 'totals', everyEvaluations: 1 },
  { key: 'destinations', everyEvaluations: 2 },
  { key: 'latency', everyEvaluations: 2 },
  { key: 'scrape', everyEvaluations: 2 },
  { key: 'vendors', everyEvaluations: 2 },
  // Only with a usage collector.
  { key: 'usage', everyEvaluations: 1, onlyWithRules: true },
  { key: 'cost', intervalSeconds: COST_RULE_INTERVAL_SECONDS },
];

/** A group's interval: none for the totals (Prometheus' evaluation interval), else as a duration. */
function groupInterval(group: (typeof GROUPS)[number], ruleIntervalSeconds: number): string | undefined {
  if (group.everyEvaluations === 1) return undefined;
  const seconds = groupIntervalSeconds(group.key, ruleIntervalSeconds);
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

/**
 * Seconds between two evaluations of a rule group.
 * @internal
 */
export function groupIntervalSeconds(key: GroupKey, ruleIntervalSeconds: number): number {
  const group = GROUPS.find(g => g.key === key)!;
  return group.intervalSeconds ?? group.everyEvaluations! * ruleIntervalSeconds;
}

/** What a rule's expression is built from: RuleSettings with every default applied. */
interface RuleContext {
  readonly vendors: VendorCatalog;
  readonly jobs: CrawlerJobs;
  readonly destinations: DestinationGuard;
  readonly ruleIntervalSeconds: number;
  readonly usage: boolean;
}

/** One recording rule: a PromQL expression (undefined: not recorded with these settings), or a vendor-model constant. */
type RuleSpec = {
  readonly record: string;
  readonly group: GroupKey;
  readonly placement: RulePlacement;
  /** Not part of the contract: read by other rules only, never remote-written with the contract. */
  readonly intermediate: boolean;
  /** Labels of the recorded series. */
  readonly labels?: Readonly<Record<string, string>>;
} & (
  | { readonly expr: (c: RuleContext) => string | undefined }
  | { readonly perVendor: (v: Vendor) => { readonly value: number; readonly labels?: Record<string, string> } | undefined }
);

const rule = (record: string, group: GroupKey, placement: RulePlacement, expr: (c: RuleContext) => string | undefined, labels?: Record<string, string>) =>
  ({ record, group, placement, expr, labels, intermediate: false as const });
const intermediate = (record: string, group: GroupKey, placement: RulePlacement, expr: (c: RuleContext) => string | undefined) =>
  ({ record, group, placement, expr, intermediate: true as const });
/** A vendor-model constant: one series per vendor that sets it, labelled with the vendor, on the global Prometheus only. */
const constant = (record: string, value: (v: Vendor) => number | undefined, labels?: (v: Vendor) => Record<string, string>) =>
  ({
    record, group: 'vendors' as const, placement: 'global' as const, intermediate: false as const,
    perVendor: (v: Vendor) => {
      const x = value(v);
      return x === undefined ? undefined : { value: x, labels: labels?.(v) };
    },
  });

/** Counters per destination (B): HTTP requests by host, TCP connections by SNI (counted when they close). */
const DESTINATION_COUNTERS = [ISTIO.requests, ISTIO.tcpClosed];
/** Upload: request wire bytes plus bytes the sidecar received from the app. */
const UPLOAD_COUNTERS = [`${ISTIO.requestBytes}_sum`, ISTIO.tcpReceivedBytes];
/** Download: response wire bytes plus bytes the sidecar sent to the app. */
const DOWNLOAD_COUNTERS = [`${ISTIO.responseBytes}_sum`, ISTIO.tcpSentBytes];

/** Outbound traffic of vendor-labelled crawler pods. */
const ATTRIBUTED = `reporter="source", ${LABEL.vendor}!=""`;
const UNATTRIBUTED = `reporter="source", ${LABEL.vendor}=""`;
const GIB = 1024 ** 3;

/**
 * A selector over several counters. Summing one `rate()` of a name regex keeps a vendor that has only
 * one of them, where `a + b` would drop it. HTTP and TCP series differ in request_protocol, so no
 * two series collide once the name is dropped.
 */
function counters(names: readonly string[], matchers: string): string {
  return `{__name__=~"${names.join('|')}", ${matchers}}`;
}

function rate(names: readonly string[], matchers: string, window: string): string {
  return `rate(${counters(names, matchers)}[${window}])`;
}

/**
 * Upload and download rates side by side. Request and response byte series carry the same labels, so
 * one name regex over both would collide once rate() drops the name; a `direction` label keeps them apart.
 */
function bothDirections(matchers: string, window: string): string {
  return byDirection(rate(UPLOAD_COUNTERS, matchers, window), rate(DOWNLOAD_COUNTERS, matchers, window));
}

/**
 * The average of a recorded rate over the last hour: its samples' sum over their count, or over the samples a full
 * hour holds (3600 / interval) when the series is younger than that. An hour's window holds one sample more than
 * that when the evaluation times fall on both its ends; the count absorbs it.
 */
function hourlyAverage(rule: string, intervalSeconds: number): string {
  return windowAverage(rule, '1h', 3600, intervalSeconds);
}

/** The average of a recorded rate over a window of `seconds`, as hourlyAverage. */
function windowAverage(rule: string, window: string, seconds: number, intervalSeconds: number): string {
  return `sum_over_time(${rule}[${window}]) / clamp_min(count_over_time(${rule}[${window}]), ${Math.floor(seconds / intervalSeconds)})`;
}

/**
 * What the vendors billed, net of what revisions took back: the collector's two counters under a `kind` label each, so
 * that one sum adds them (an account's billed and withdrawn series carry the same labels once rate() drops the name).
 */
function netBilled(billed: string, withdrawn: string, fn: 'rate' | 'increase', window: string, labels: readonly string[]): string {
  return `sum ${by(...labels)} (label_replace(${fn}(${billed}[${window}]), "kind", "billed", "", "") or label_replace(-${fn}(${withdrawn}[${window}]), "kind", "withdrawn", "", ""))`;
}

/**
 * Bytes/s per direction that crawler sidecars sent to each vendor's gateways, under the vendor that owns the gateway
 * (it bills them, whichever pods sent them): TCP bytes by `destination_service`; for inspected gateways the HTTP
 * bytes of the vendor's pods (request and response sizes carry no destination, so a vendor's pods' direct HTTP counts
 * too). Undefined without gateways.
 */
function gatewayBytesExpr(c: RuleContext): string | undefined {
  const tcp = c.vendors.vendors.filter(v => v.endpoints.length > 0 && !v.inspected);
  const inspected = c.vendors.vendors.filter(v => v.inspected).map(v => v.name);
  if (tcp.length === 0 && inspected.length === 0) return undefined;
  const direction = (tcpCounter: string, httpCounter: string) => [
    ...tcp.map(v => `label_replace(rate(${tcpCounter}{reporter="source", destination_service=~"${anyOf(v.gatewayHosts)}"}[5m]), "${LABEL.vendor}", "${v.name}", "", "")`),
    ...(inspected.length > 0 ? [`rate(${httpCounter}{${ATTRIBUTED}, ${LABEL.vendor}=~"${anyOf(inspected)}"}[5m])`] : []),
  ].join(' or ');
  return `sum ${by(LABEL.vendor, 'direction')} (${byDirection(direction(ISTIO.tcpReceivedBytes, `${ISTIO.requestBytes}_sum`), direction(ISTIO.tcpSentBytes, `${ISTIO.responseBytes}_sum`))})`;
}

/** The gateway bytes each vendor bills (its `billedBytes`), per vendor. */
function measuredBillableExpr(c: RuleContext): string {
  const counting = (b: BilledBytes[]) => c.vendors.vendors.filter(v => b.includes(v.billedBytes)).map(v => v.name);
  const sent = counting(['upload-and-download', 'upload']);
  const received = counting(['upload-and-download', 'download']);
  return `sum ${by(LABEL.vendor)} (${[
    ...(sent.length > 0 ? [`${RULE.gatewayBytes}{direction="sent", ${LABEL.vendor}=~"${anyOf(sent)}"}`] : []),
    ...(received.length > 0 ? [`${RULE.gatewayBytes}{direction="received", ${LABEL.vendor}=~"${anyOf(received)}"}`] : []),
  ].join(' or ')})`;
}

/** Series the dashboards read when no pod is picked. */
const ALL_PODS_LABELS = { [LABEL.podSelection]: ALL_PODS };
const podLevel = [LABEL.vendor, LABEL.namespace, LABEL.pod];
/** Busiest pods per vendor whose share of the vendor's bytes is recorded for the pod-share alert. */
export const TOP_SHARE_PODS = 5;
const gatewayHosts = (c: RuleContext) => [...new Set(c.vendors.vendors.flatMap(v => v.gatewayHosts))].sort();
const scrapeJobs = (c: RuleContext) => [c.jobs.totals, c.jobs.destinations];

/**
 * Every recording rule, in the order written. Order within a group matters: rules read earlier rules of the same
 * group, which Prometheus evaluates sequentially at the same timestamp. Layered: each raw sidecar family is read once
 * per evaluation, into per-pod or per-host intermediates; everything per vendor, code or gateway is summed from those.
 * Placement (where a rule runs when sharded) is explained at RulePlacement. Expressions spell out their return type:
 * they read RULE, which is derived from this table.
 */
const RULES = {
  // ---- totals: requests, connections, bytes, codes ----
  /** HTTP requests/s per pod and response code, from the request-size histogram's count. */
  podResponseCodes: intermediate('pod_response_code:proxy_http_requests:rate5m', 'totals', 'shard',
    (): string => `sum ${by(...podLevel, 'request_protocol', 'response_code')} (rate(${ISTIO.requestBytes}_count{${ATTRIBUTED}}[5m]))`),
  /** TCP connections/s opened per pod and destination_service. */
  podConnections: intermediate('pod_destination_service:proxy_tcp_connections:rate5m', 'totals', 'shard',
    (): string => `sum ${by(...podLevel, 'request_protocol', 'destination_service')} (rate(${ISTIO.tcpOpened}{${ATTRIBUTED}}[5m]))`),
  /** HTTP requests/s and TCP connections/s opened per crawler pod. */
  // The two intermediates differ in their other labels, so one name regex sums them without collisions.
  podRequests: rule('proxy_vendor_pod:proxy_requests:rate5m', 'totals', 'shard',
    (): string => `sum ${by(...podLevel, 'request_protocol')} ({__name__=~"${INTERMEDIATE.podResponseCodes}|${INTERMEDIATE.podConnections}"})`),
  /** HTTP requests/s (`request_protocol="http"`) and TCP connections/s (`"tcp"`) per vendor. */
  requests: rule('proxy_vendor:proxy_requests:rate5m', 'totals', 'partial', (): string => `sum ${by(LABEL.vendor, 'request_protocol')} (${RULE.podRequests})`),
  /** Bytes/s uploaded by each crawler pod. */
  podSentBytes: rule('proxy_vendor_pod:proxy_sent_bytes:rate5m', 'totals', 'shard', (): string => `sum ${by(...podLevel)} (${rate(UPLOAD_COUNTERS, ATTRIBUTED, '5m')})`),
  /** Bytes/s downloaded by each crawler pod. */
  podReceivedBytes: rule('proxy_vendor_pod:proxy_received_bytes:rate5m', 'totals', 'shard', (): string => `sum ${by(...podLevel)} (${rate(DOWNLOAD_COUNTERS, ATTRIBUTED, '5m')})`),
  /**
   * The TOP_PODS pods uploading most per vendor and namespace, at each evaluation. Each shard's busiest: their union
   * holds the fleet's busiest, which the panel picks.
   */
  topPodSentBytes: rule('proxy_vendor_pod:proxy_sent_bytes:top20_rate5m', 'totals', 'shard',
    (): string => `topk ${by(LABEL.vendor, LABEL.namespace)} (${TOP_PODS}, ${RULE.podSentBytes})`, ALL_PODS_LABELS),
  /** The TOP_PODS pods downloading most per vendor and namespace, at each evaluation. */
  topPodReceivedBytes: rule('proxy_vendor_pod:proxy_received_bytes:top20_rate5m', 'totals', 'shard',
    (): string => `topk ${by(LABEL.vendor, LABEL.namespace)} (${TOP_PODS}, ${RULE.podReceivedBytes})`, ALL_PODS_LABELS),
  /** Bytes/s uploaded per vendor: the sum of the pod-level series every shard sends. */
  vendorSentBytes: rule('proxy_vendor:proxy_sent_bytes:rate5m', 'totals', 'global', (): string => `sum ${by(LABEL.vendor)} (${RULE.podSentBytes})`),
  /** Bytes/s downloaded per vendor. */
  vendorReceivedBytes: rule('proxy_vendor:proxy_received_bytes:rate5m', 'totals', 'global', (): string => `sum ${by(LABEL.vendor)} (${RULE.podReceivedBytes})`),
  /** HTTP requests/s per response code (0 = no response). */
  responseCodes: rule('proxy_vendor_response_code:proxy_requests:rate5m', 'totals', 'partial',
    (): string => `sum ${by(LABEL.vendor, 'response_code')} (${INTERMEDIATE.podResponseCodes})`),
  /** Share of HTTP requests answered 4xx/5xx or not at all; 0, not a missing series, for vendors without errors. */
  errorRatio: rule('proxy_vendor:proxy_request_errors:ratio_rate5m', 'totals', 'global',
    (): string => `(sum ${by(LABEL.vendor)} (${RULE.responseCodes}{response_code=~"0|4..|5.."}) or 0 * sum ${by(LABEL.vendor)} (${RULE.responseCodes})) / sum ${by(LABEL.vendor)} (${RULE.responseCodes})`),
  /**
   * Bytes/s of crawler-namespace pods without the vendor label: traffic no vendor is charged for here. 0 for crawler
   * namespaces without unattributed pods: "none", where no series would read as "not measured".
   */
  unattributedBytes: rule('namespace:proxy_unattributed_bytes:rate5m', 'totals', 'partial',
    (): string => `sum ${by(LABEL.namespace)} (${bothDirections(UNATTRIBUTED, '5m')} or 0 * ${RULE.podSentBytes})`),
  /**
   * HTTP requests per successful (2xx, 3xx) response per vendor: 1 when every request succeeds, growing as crawlers
   * retry failures; +Inf when nothing succeeds.
   */
  requestsPerSuccess: rule('proxy_vendor:proxy_requests_per_success:ratio_rate5m', 'totals', 'global',
    (): string => `sum ${by(LABEL.vendor)} (${RULE.responseCodes}) / sum ${by(LABEL.vendor)} (${RULE.responseCodes}{response_code=~"[23].."})`),
  /**
   * The busiest pods' share of their vendor's bytes (upload + download), the TOP_SHARE_PODS largest per vendor: what
   * the pod-share alert compares with the last hour.
   */
  podShare: rule('proxy_vendor_pod:proxy_bytes:share_rate5m', 'totals', 'global',
    (): string => `topk ${by(LABEL.vendor)} (${TOP_SHARE_PODS}, sum ${by(...podLevel)} ({__name__=~"${RULE.podSentBytes}|${RULE.podReceivedBytes}"}))`
      + ` / on (${LABEL.vendor}) group_left () sum ${by(LABEL.vendor)} ({__name__=~"${RULE.vendorSentBytes}|${RULE.vendorReceivedBytes}"})`),
  /** Upload (`direction="sent"`) and download bytes/s to each vendor's gateways, under the vendor that owns them. See gatewayBytesExpr. */
  gatewayBytes: rule('proxy_vendor_direction:proxy_gateway_bytes:rate5m', 'totals', 'partial',
    (c): string | undefined => (c.usage ? gatewayBytesExpr(c) : undefined)),

  // ---- scrape health: per-target series summed per vendor, so the health panels read a few series, not one per pod ----
  /** Scraped crawler sidecars per vendor. */
  crawlerPods: rule('proxy_vendor:proxy_crawler_pods:count', 'scrape', 'global', (c): string | undefined => `count ${by(LABEL.vendor)} (up{job="${c.jobs.totals}", ${LABEL.vendor}!=""})`),
  /** Crawler sidecar targets whose last scrape failed, per vendor and crawler scrape job (0 when none). Per shard. */
  scrapeTargetsDown: rule('proxy_vendor_job:proxy_scrape_targets_down:sum', 'scrape', 'shard',
    (c): string | undefined => `sum ${by(LABEL.vendor, 'job')} (up{job=~"${anyOf(scrapeJobs(c))}", ${LABEL.vendor}!=""} == bool 0)`),
  /** Slowest crawler sidecar scrape per vendor and job, in seconds. */
  scrapeDurationMax: rule('proxy_vendor_job:proxy_scrape_duration_seconds:max', 'scrape', 'shard',
    (c): string | undefined => `max ${by(LABEL.vendor, 'job')} (scrape_duration_seconds{job=~"${anyOf(scrapeJobs(c))}", ${LABEL.vendor}!=""})`),
  /** Most samples one crawler sidecar's scrape kept, per vendor and job. */
  scrapeSamplesMax: rule('proxy_vendor_job:proxy_scrape_samples:max', 'scrape', 'shard',
    (c): string | undefined => `max ${by(LABEL.vendor, 'job')} (scrape_samples_post_metric_relabeling{job=~"${anyOf(scrapeJobs(c))}", ${LABEL.vendor}!=""})`),

  // ---- destinations ----
  /** The unbounded per-destination sums; they add up across shards. See destinationRuleExprs. */
  destinations: intermediate('destination_unbounded:proxy_requests:rate5m', 'destinations', 'partial',
    (c): string | undefined => destinationRuleExprs(c.destinations, c.jobs.destinations).destinations),
  /** The bound's top list per vendor and protocol, from fleet-wide sums and its own previous list. See listDestinations. */
  destinationsListed: intermediate('destination_listed:proxy_requests:rank_score', 'destinations', 'global',
    (c): string | undefined => destinationRuleExprs(c.destinations, c.jobs.destinations).destinationsListed),
  /** Requests and connections per vendor, protocol and destination host, bounded; ranked on the global Prometheus. */
  destinationRequests: rule('proxy_vendor_destination:proxy_requests:rate5m', 'destinations', 'global',
    (c): string | undefined => destinationRuleExprs(c.destinations, c.jobs.destinations).destinationRequests),
  /**
   * The destination rule summed per vendor and protocol, so that panels need not read its every destination over a
   * range (top-N membership changes, so a range holds many more series than one evaluation).
   */
  destinationTotal: rule('proxy_vendor:proxy_destination_requests:rate5m', 'destinations', 'global',
    (): string => `sum ${by(LABEL.vendor, 'request_protocol')} (${RULE.destinationRequests})`),
  /**
   * Requests (inspected gateways, from the destination counters) and connections (TCP gateways, from the per-pod
   * intermediate) per vendor gateway host, whichever vendor's pods sent them. Only with gateways: the misrouting alert
   * reads it.
   */
  gatewayRequests: rule('proxy_vendor_gateway:proxy_requests:rate5m', 'destinations', 'partial', (c): string | undefined => {
    if (gatewayHosts(c).length === 0) return undefined;
    const gateway = `destination_service=~"${anyOf(gatewayHosts(c))}"`;
    return `sum ${by(LABEL.vendor, GATEWAY_LABEL, 'request_protocol')} (label_replace(${INTERMEDIATE.podConnections}{${gateway}} or rate(${ISTIO.requests}{${ATTRIBUTED}, ${gateway}}[5m]), "${GATEWAY_LABEL}", "$1", "destination_service", "(.*)"))`;
  }),

  // ---- latency: histogram buckets add up; quantiles are taken from the global sum ----
  /** HTTP request duration histogram per vendor. */
  durationBuckets: rule('proxy_vendor_le:proxy_request_duration_milliseconds_bucket:rate5m', 'latency', 'partial',
    (): string => `sum ${by(LABEL.vendor, 'le')} (rate(${ISTIO.duration}_bucket{${ATTRIBUTED}}[5m]))`),

  // ---- the vendor model as series, so rules and dashboards can join prices and budgets by proxy_vendor ----
  /** What the sidecars parse of the vendor's gateway traffic: `validate` checks that they really do. */
  vendorInfo: constant('proxy_vendor:proxy_vendor_info:constant', () => 1,
    v => ({ [LABEL.gatewayInspection]: v.endpoints.length === 0 ? 'none' : v.inspect })),
  pricePerGiB: constant('proxy_vendor:proxy_price_per_gib:constant', v => v.pricePerGiB),
  pricePer1kRequests: constant('proxy_vendor:proxy_price_per_1k_requests:constant', v => v.pricePer1kRequests),
  monthlyBudget: constant('proxy_vendor:proxy_monthly_budget:constant', v => v.monthlyBudget),
  monthlyTrafficBudgetBytes: constant('proxy_vendor:proxy_monthly_traffic_budget_bytes:constant',
    v => (v.monthlyTrafficBudgetGiB === undefined ? undefined : v.monthlyTrafficBudgetGiB * GIB)),

  // ---- usage: what the vendors billed (the usage collector's counters) beside what the sidecars measured ----
  /** Bytes/s billed per vendor and account, net of revisions. */
  billedAccountBytes: rule('proxy_vendor_account:proxy_billed_bytes:rate5m', 'usage', 'global',
    (c): string | undefined => (c.usage ? netBilled(USAGE_METRICS.billedBytes, USAGE_METRICS.withdrawnBytes, 'rate', '5m', [LABEL.vendor, ACCOUNT_LABEL]) : undefined)),
  /** Requests/s billed per vendor and account, net of revisions. */
  billedAccountRequests: rule('proxy_vendor_account:proxy_billed_requests:rate5m', 'usage', 'global',
    (c): string | undefined => (c.usage ? netBilled(USAGE_METRICS.billedRequests, USAGE_METRICS.withdrawnRequests, 'rate', '5m', [LABEL.vendor, ACCOUNT_LABEL]) : undefined)),
  /** Bytes/s billed per vendor. */
  billedBytes: rule('proxy_vendor:proxy_billed_bytes:rate5m', 'usage', 'global',
    (c): string | undefined => (c.usage ? `sum ${by(LABEL.vendor)} (${RULE.billedAccountBytes})` : undefined)),
  /** Requests/s billed per vendor. */
  billedRequests: rule('proxy_vendor:proxy_billed_requests:rate5m', 'usage', 'global',
    (c): string | undefined => (c.usage ? `sum ${by(LABEL.vendor)} (${RULE.billedAccountRequests})` : undefined)),
  /** Bytes/s the sidecars measured to the vendor's gateways, counted as the vendor bills them (its `billedBytes`). */
  measuredBillableBytes: rule('proxy_vendor:proxy_measured_billable_bytes:rate5m', 'usage', 'global',
    (c): string | undefined => (c.usage && gatewayBytesExpr(c) !== undefined ? measuredBillableExpr(c) : undefined)),
  /**
   * Billed minus measured bytes/s per vendor: what the vendor carried that no sidecar of the fleet sent (leaked
   * credentials, a job outside the mesh). The whole billed rate where the fleet sent nothing.
   */
  unmeasuredBilledBytes: rule('proxy_vendor:proxy_unmeasured_billed_bytes:rate5m', 'usage', 'global',
    (c): string | undefined => (c.usage ? `${RULE.billedBytes} - on (${LABEL.vendor}) (${RULE.measuredBillableBytes} or 0 * ${RULE.billedBytes})` : undefined)),

  // ---- cost: hourly averages of global rules, every 5 minutes ----
  /**
   * Upload + download bytes/s per vendor over 1h, for cost: the last hour's average of the 5m rules' samples
   * (recorded every `ruleIntervalSeconds`) rather than raw [1h] windows; an hour with ten minutes of traffic averages
   * over the hour, as a raw rate would.
   */
  bytes1h: rule('proxy_vendor:proxy_bytes:rate1h', 'cost', 'global',
    (c): string | undefined => `sum ${by(LABEL.vendor)} (${byDirection(hourlyAverage(RULE.vendorSentBytes, c.ruleIntervalSeconds), hourlyAverage(RULE.vendorReceivedBytes, c.ruleIntervalSeconds))})`),
  /** Requests + connections per second per vendor over 1h, for cost. */
  requests1h: rule('proxy_vendor:proxy_requests:rate1h', 'cost', 'global', (c): string | undefined => `sum ${by(LABEL.vendor)} (${hourlyAverage(RULE.requests, c.ruleIntervalSeconds)})`),
  /** Spend per second (billing currency) per vendor over 1h. Traffic and request costs under distinct labels: a vendor priced one way is kept. */
  spend1h: rule('proxy_vendor:proxy_spend:rate1h', 'cost', 'global', (): string => `sum ${by(LABEL.vendor)} (`
    + `label_replace(${RULE.bytes1h} * on (${LABEL.vendor}) ${RULE.pricePerGiB} / ${GIB}, "cost", "traffic", "", "")`
    + ` or label_replace(${RULE.requests1h} * on (${LABEL.vendor}) ${RULE.pricePer1kRequests} / 1000, "cost", "requests", "", ""))`),
  /** Spend per second per vendor over 1h, traffic and requests together: what the spend anomaly alert compares. */
  spendTotal1h: rule('proxy_vendor:proxy_spend:sum_rate1h', 'cost', 'global', (): string => `sum ${by(LABEL.vendor)} (${RULE.spend1h})`),
  /** Bytes billed per vendor in the last hour (exact: the collector's counters, net of revisions). */
  billedBytes1h: rule('proxy_vendor:proxy_billed_bytes:increase1h', 'cost', 'global',
    (c): string | undefined => (c.usage ? netBilled(USAGE_METRICS.billedBytes, USAGE_METRICS.withdrawnBytes, 'increase', '1h', [LABEL.vendor]) : undefined)),
  /** Requests billed per vendor in the last hour. */
  billedRequests1h: rule('proxy_vendor:proxy_billed_requests:increase1h', 'cost', 'global',
    (c): string | undefined => (c.usage ? netBilled(USAGE_METRICS.billedRequests, USAGE_METRICS.withdrawnRequests, 'increase', '1h', [LABEL.vendor]) : undefined)),
  /** Bytes the sidecars measured to the vendor's gateways in the last hour, counted as it bills them. */
  measuredBillableBytes1h: rule('proxy_vendor:proxy_measured_billable_bytes:increase1h', 'cost', 'global',
    (c): string | undefined => (c.usage && gatewayBytesExpr(c) !== undefined ? `3600 * ${hourlyAverage(RULE.measuredBillableBytes, c.ruleIntervalSeconds)}` : undefined)),
  /** Billed over measured bytes per vendor in the last hour: 1 when the bill matches the fleet. */
  billedToMeasured1h: rule('proxy_vendor:proxy_billed_to_measured_bytes:ratio1h', 'cost', 'global',
    (c): string | undefined => (c.usage && gatewayBytesExpr(c) !== undefined ? `${RULE.billedBytes1h} / ${RULE.measuredBillableBytes1h}` : undefined)),
  /** Bytes billed per vendor in the last day. */
  billedBytes1d: rule('proxy_vendor:proxy_billed_bytes:increase1d', 'cost', 'global',
    (c): string | undefined => (c.usage ? netBilled(USAGE_METRICS.billedBytes, USAGE_METRICS.withdrawnBytes, 'increase', '1d', [LABEL.vendor]) : undefined)),
  /** Requests billed per vendor in the last day. */
  billedRequests1d: rule('proxy_vendor:proxy_billed_requests:increase1d', 'cost', 'global',
    (c): string | undefined => (c.usage ? netBilled(USAGE_METRICS.billedRequests, USAGE_METRICS.withdrawnRequests, 'increase', '1d', [LABEL.vendor]) : undefined)),
  /** Bytes the sidecars measured to the vendor's gateways in the last day, counted as it bills them. */
  measuredBillableBytes1d: rule('proxy_vendor:proxy_measured_billable_bytes:increase1d', 'cost', 'global',
    (c): string | undefined => (c.usage && gatewayBytesExpr(c) !== undefined ? `86400 * ${windowAverage(RULE.measuredBillableBytes, '1d', 86400, c.ruleIntervalSeconds)}` : undefined)),
  /** Billed over measured bytes per vendor in the last day. */
  billedToMeasured1d: rule('proxy_vendor:proxy_billed_to_measured_bytes:ratio1d', 'cost', 'global',
    (c): string | undefined => (c.usage && gatewayBytesExpr(c) !== undefined ? `${RULE.billedBytes1d} / ${RULE.measuredBillableBytes1d}` : undefined)),
  /**
   * Upload + download bytes/s per pod over 5 minutes, recorded every 5 minutes: range totals per pod at 1/10 the
   * samples. The two rules carry the same labels; a sum over a name regex adds them per pod.
   */
  podBytes5m: rule('proxy_vendor_pod:proxy_bytes:rate5m', 'cost', 'shard',
    (): string => `sum ${by(...podLevel)} ({__name__=~"${RULE.podSentBytes}|${RULE.podReceivedBytes}"})`, ALL_PODS_LABELS),
  /**
   * The TOP_PODS pods per vendor and namespace by 5-minute bytes, every 5 minutes: the candidates of the dashboards'
   * top list over a range, which then reads these pods' series only.
   */
  topPodBytes5m: rule('proxy_vendor_pod:proxy_bytes:top20_rate5m', 'cost', 'shard',
    (): string => `topk ${by(LABEL.vendor, LABEL.namespace)} (${TOP_PODS}, ${RULE.podBytes5m})`, ALL_PODS_LABELS),
  /**
   * Per vendor and namespace, the largest 5-minute bytes/s of a pod outside the TOP_PODS (the next one down): no pod
   * that was never a candidate moved more in that window, so the sum of these over a range bounds its total.
   */
  unlistedPodBytesMax5m: rule('proxy_vendor_namespace:proxy_pod_bytes:max_rate5m_outside_top20', 'cost', 'shard',
    (): string => `max ${by(LABEL.vendor, LABEL.namespace)} (${RULE.podBytes5m} unless on (${podLevel.join(', ')}) ${RULE.topPodBytes5m})`, ALL_PODS_LABELS),
};

type Specs = typeof RULES;
type KeysWhere<F extends boolean> = { [K in keyof Specs]: Specs[K]['intermediate'] extends F ? K : never }[keyof Specs];
const namesOf = <F extends boolean>(isIntermediate: F) =>
  Object.fromEntries(Object.entries(RULES).filter(([, s]) => s.intermediate === isIntermediate).map(([k, s]) => [k, s.record])) as { readonly [K in KeysWhere<F>]: string };

/** Recording rules: the public names users and dashboards query. */
export const RULE = namesOf(false);

/**
 * Recording rules the contract's rules are built from, so that raw sidecar series are read about once per
 * evaluation. Not part of the contract: their level does not start with `proxy_vendor`, so contract-only remote write
 * leaves them out, and a shard keeps them to itself.
 */
export const INTERMEDIATE = namesOf(true);

/** Labels each destination rule keeps beside `destination`: the bound ranks destinations within them. */
export const DESTINATION_RULE_LABELS: Readonly<Record<string, readonly string[]>> = {
  [RULE.destinationRequests]: [LABEL.vendor, 'request_protocol'],
};

/**
 * The per-destination rules. `destinations` (intermediate): requests by host and connections by server name from the
 * destination job, summed per vendor, protocol and the Istio tags before the label functions run (on a few series per
 * host, not per pod), folded if asked; plus, as destination "(not measured)", the requests and connections of pods
 * whose destination scrape is failing (`up == 0` there, from the totals), so they always add up to the vendor's
 * total. `destinationsListed` (intermediate): the top list, steadied by its own previous one. `destinationRequests`
 * (the contract's): the recorded sums, by name if listed or pinned, else in "(other)".
 */
export function destinationRuleExprs(guard: DestinationGuard, destinationJob: string): { destinations: string; destinationsListed?: string; destinationRequests: string } {
  const keep = DESTINATION_RULE_LABELS[RULE.destinationRequests];
  const d = DESTINATION_LABEL;
  const perTags = `sum ${by(...keep, LABEL.sni, LABEL.host, 'destination_service')} (${rate(DESTINATION_COUNTERS, ATTRIBUTED, '5m')})`;
  const perHost = `sum ${by(...keep, d)} (${withDestination(perTags)})`;
  // Folding the per-host sums runs the regex once per host and vendor.
  const folded = guard.fold === 'registrable-domain' ? `sum ${by(...keep, d)} (${foldToRegistrableDomain(perHost, guard)})` : perHost;
  const notMeasured = `label_replace(sum ${by(...keep)} (${RULE.podRequests} and on (${LABEL.namespace}, ${LABEL.pod}) (up{job="${destinationJob}"} == 0)), "${d}", "${NOT_MEASURED_DESTINATION}", "", "")`;
  return {
    // One outer sum: the shape the sharded layer sums partials of.
    destinations: `sum ${by(...keep, d)} (${folded} or ${notMeasured})`,
    destinationsListed: listDestinations(INTERMEDIATE.destinations, keep, guard, INTERMEDIATE.destinationsListed),
    destinationRequests: boundDestinations(INTERMEDIATE.destinations, keep, guard, INTERMEDIATE.destinationsListed),
  };
}

/**
 * Every recording rule for these settings, one record each, in the order written; the vendor model's constants
 * vendor by vendor.
 */
export function contractRules(settings: RuleSettings): ContractRule[] {
  const c: RuleContext = {
    vendors: settings.vendors,
    jobs: settings.jobs,
    destinations: settings.destinations ?? UNBOUNDED_DESTINATIONS,
    ruleIntervalSeconds: settings.ruleIntervalSeconds ?? DEFAULT_RULE_INTERVAL_SECONDS,
    usage: settings.usage ?? false,
  };
  const specs: RuleSpec[] = Object.values(RULES);
  const out: ContractRule[] = [];
  let constantsDone = false;
  for (const spec of specs) {
    const base = { group: RULE_GROUPS[spec.group], placement: spec.placement };
    if ('expr' in spec) {
      const expr = spec.expr(c);
      // A new labels object per rule, never shared (YAML would alias it).
      if (expr !== undefined) out.push(spec.labels ? { record: spec.record, expr, labels: { ...spec.labels }, ...base } : { record: spec.record, expr, ...base });
    } else if (!constantsDone) {
      constantsDone = true;
      const constants = specs.filter(s => 'perVendor' in s) as Array<Extract<RuleSpec, { perVendor: unknown }>>;
      for (const v of c.vendors.vendors) {
        for (const k of constants) {
          const x = k.perVendor(v);
          if (x) out.push({ record: k.record, expr: `vector(${x.value})`, labels: { [LABEL.vendor]: v.name, ...x.labels }, ...base });
        }
      }
    }
  }
  return out;
}

/** A plain recording rule, as written to a rule file. */
function plain(rule: ContractRule): RecordingRule {
  return rule.labels ? { record: rule.record, expr: rule.expr, labels: rule.labels } : { record: rule.record, expr: rule.expr };
}

/**
 * Rules into their groups, in the groups' order; every group is written, empty ones too (the vendor model may be),
 * but the usage group only with a usage collector.
 */
export function ruleGroups(rules: readonly ContractRule[], ruleIntervalSeconds = 30): RuleGroup[] {
  const names = GROUPS.map(g => RULE_GROUPS[g.key]);
  const unknown = rules.filter(r => !names.includes(r.group as never));
  if (unknown.length > 0) throw new Error(`recording rule ${unknown[0].record} is in group '${unknown[0].group}', which is not one of ${names.join(', ')}`);
  return GROUPS.filter(g => !g.onlyWithRules || rules.some(r => r.group === RULE_GROUPS[g.key])).map(g => {
    const interval = groupInterval(g, ruleIntervalSeconds);
    return { name: RULE_GROUPS[g.key], ...(interval ? { interval } : {}), rules: rules.filter(r => r.group === RULE_GROUPS[g.key]).map(plain) };
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

/** Expressions of the global layer over what the shards send. */
export const SHARDED_EXPR = {
  /** A sum over all shards of per-shard sums: exact for sums and counts (never for ratios or quantiles). */
  sumOfPartials: (rule: string, labels: readonly string[]) => `sum ${by(...labels)} (${shardPartial(rule)})`,
} as const;

/**
 * Metric names of the contract's recording rules as one RE2 regex: every `proxy_vendor…:…` name (rules
 * added later by users included) and any other RULE by its exact name.
 */
export const CONTRACT_RULES_REGEX = (() => {
  const pattern = 'proxy_vendor[^:]*:.+';
  const others = Object.values(RULE).filter(name => !new RegExp(`^(?:${pattern})$`).test(name));
  return [pattern, ...others].join('|');
})();
