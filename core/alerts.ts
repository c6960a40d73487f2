import { ACCOUNT_LABEL, GATEWAY_LABEL, LABEL, MONTH_SECONDS, SHARDS_JOB, USAGE_METRICS } from './metric-contract';
import { anyOf, by } from './promql';
import { AlertingRule, CrawlerJobs, RULE, RuleGroup, isAlertingRule } from './rules';
import { checkHttpUrl, checkNumber, parseDuration } from './validation';
import { VendorCatalog } from './vendor';

/** Alert thresholds; every field has a default. */
export interface AlertOptions {
  /**
   * Fire when more than this percentage of crawler sidecar targets of a namespace are down.
   * @default DEFAULT_TARGETS_DOWN_PERCENT (10)
   */
  readonly targetsDownPercent?: number;
  /**
   * Share of HTTP requests answered 4xx/5xx or not at all above which a vendor alerts.
   * @default DEFAULT_ERROR_RATIO (0.05)
   */
  readonly errorRatio?: number;
  /**
   * Share of HTTP requests answered 407 (proxy authentication required) above which a vendor alerts.
   * @default DEFAULT_PROXY_AUTH_RATIO (0.01)
   */
  readonly proxyAuthRatio?: number;
  /**
   * Share of HTTP requests answered 429 (rate limited) above which a vendor alerts.
   * @default DEFAULT_RATE_LIMIT_RATIO (0.05)
   */
  readonly rateLimitRatio?: number;
  /**
   * Fraction of the scrape sample limit at which a target is reported as close to it.
   * @default DEFAULT_SAMPLE_LIMIT_RATIO (0.8)
   */
  readonly sampleLimitRatio?: number;
  /**
   * How long a vendor may carry no traffic before it alerts.
   * @default DEFAULT_TRAFFIC_STOPPED_FOR ('15m')
   */
  readonly trafficStoppedFor?: string;
  /**
   * Share of the measured gateway bytes by which a vendor's bill may exceed them before the excess counts as usage
   * outside the fleet.
   * @default DEFAULT_USAGE_OUTSIDE_FLEET_RATIO (0.05)
   */
  readonly usageOutsideFleetRatio?: number;
  /**
   * Billed bytes/s above measured below which no usage outside the fleet is reported, however large the share.
   * @default DEFAULT_USAGE_OUTSIDE_FLEET_MIN_BYTES_PER_SECOND (10240)
   */
  readonly usageOutsideFleetMinBytesPerSecond?: number;
  /**
   * How long billed must exceed measured before the usage-outside-the-fleet alert fires.
   * @default DEFAULT_USAGE_OUTSIDE_FLEET_FOR ('5m')
   */
  readonly usageOutsideFleetFor?: string;
  /**
   * How long a vendor's usage source may go without a successful poll before it is stale.
   * @default DEFAULT_USAGE_STALE_AFTER ('15m')
   */
  readonly usageStaleAfter?: string;
  /**
   * HTTP requests per successful response above which a vendor is in a retry storm.
   * @default DEFAULT_RETRY_STORM_RATIO (3)
   */
  readonly retryStormRatio?: number;
  /**
   * How long a retry storm must last before it alerts.
   * @default DEFAULT_RETRY_STORM_FOR ('2m')
   */
  readonly retryStormFor?: string;
  /**
   * Share of its vendor's bytes above which a pod whose share grew `podShareJumpFactor` times is reported.
   * @default DEFAULT_POD_SHARE_MIN (0.25)
   */
  readonly podShareMin?: number;
  /**
   * How many times its average share of the past hour a pod's share must reach to count as a jump.
   * @default DEFAULT_POD_SHARE_JUMP_FACTOR (2)
   */
  readonly podShareJumpFactor?: number;
  /**
   * How long a pod's share must stay jumped before it alerts.
   * @default DEFAULT_POD_SHARE_JUMP_FOR ('2m')
   */
  readonly podShareJumpFor?: string;
  /**
   * How many times both the same hour a week earlier and the past day's median the hourly spend must be to be an anomaly.
   * @default DEFAULT_SPEND_ANOMALY_FACTOR (2)
   */
  readonly spendAnomalyFactor?: number;
  /**
   * Base URL of the runbook; each alert links to `<runbookUrl>#<alert name in lower case>`.
   * @default DEFAULT_RUNBOOK_URL ('https://github.com/proxy-telemetry/proxy-telemetry/blob/main/docs/runbook.md')
   */
  readonly runbookUrl?: string;
}

export const DEFAULT_TARGETS_DOWN_PERCENT = 10;
export const DEFAULT_ERROR_RATIO = 0.05;
export const DEFAULT_PROXY_AUTH_RATIO = 0.01;
export const DEFAULT_RATE_LIMIT_RATIO = 0.05;
export const DEFAULT_SAMPLE_LIMIT_RATIO = 0.8;
export const DEFAULT_TRAFFIC_STOPPED_FOR = '15m';
export const DEFAULT_USAGE_OUTSIDE_FLEET_RATIO = 0.05;
export const DEFAULT_USAGE_OUTSIDE_FLEET_MIN_BYTES_PER_SECOND = 10240;
export const DEFAULT_USAGE_OUTSIDE_FLEET_FOR = '5m';
export const DEFAULT_USAGE_STALE_AFTER = '15m';
export const DEFAULT_RETRY_STORM_RATIO = 3;
export const DEFAULT_RETRY_STORM_FOR = '2m';
export const DEFAULT_POD_SHARE_MIN = 0.25;
export const DEFAULT_POD_SHARE_JUMP_FACTOR = 2;
export const DEFAULT_POD_SHARE_JUMP_FOR = '2m';
export const DEFAULT_SPEND_ANOMALY_FACTOR = 2;
/** HTTP requests/s per vendor below which no retry storm is reported. */
export const RETRY_STORM_MIN_REQUESTS_PER_SECOND = 1;
export const DEFAULT_RUNBOOK_URL = 'https://github.com/proxy-telemetry/proxy-telemetry/blob/main/docs/runbook.md';

/** Resolves and validates alert options. */
export function resolveAlertOptions(o: AlertOptions = {}): Required<AlertOptions> {
  const ratio = (name: keyof AlertOptions, value: number) => checkNumber(`alerts.${name}`, value, { minExclusive: 0, max: 1 });
  const resolved: Required<AlertOptions> = {
    targetsDownPercent: checkNumber('alerts.targetsDownPercent', o.targetsDownPercent ?? DEFAULT_TARGETS_DOWN_PERCENT, { min: 0, max: 100 }),
    errorRatio: ratio('errorRatio', o.errorRatio ?? DEFAULT_ERROR_RATIO),
    proxyAuthRatio: ratio('proxyAuthRatio', o.proxyAuthRatio ?? DEFAULT_PROXY_AUTH_RATIO),
    rateLimitRatio: ratio('rateLimitRatio', o.rateLimitRatio ?? DEFAULT_RATE_LIMIT_RATIO),
    sampleLimitRatio: ratio('sampleLimitRatio', o.sampleLimitRatio ?? DEFAULT_SAMPLE_LIMIT_RATIO),
    trafficStoppedFor: o.trafficStoppedFor ?? DEFAULT_TRAFFIC_STOPPED_FOR,
    usageOutsideFleetRatio: checkNumber('alerts.usageOutsideFleetRatio', o.usageOutsideFleetRatio ?? DEFAULT_USAGE_OUTSIDE_FLEET_RATIO, { min: 0 }),
    usageOutsideFleetMinBytesPerSecond: checkNumber('alerts.usageOutsideFleetMinBytesPerSecond', o.usageOutsideFleetMinBytesPerSecond ?? DEFAULT_USAGE_OUTSIDE_FLEET_MIN_BYTES_PER_SECOND, { min: 0 }),
    usageOutsideFleetFor: o.usageOutsideFleetFor ?? DEFAULT_USAGE_OUTSIDE_FLEET_FOR,
    usageStaleAfter: o.usageStaleAfter ?? DEFAULT_USAGE_STALE_AFTER,
    retryStormRatio: checkNumber('alerts.retryStormRatio', o.retryStormRatio ?? DEFAULT_RETRY_STORM_RATIO, { minExclusive: 1 }),
    retryStormFor: o.retryStormFor ?? DEFAULT_RETRY_STORM_FOR,
    podShareMin: ratio('podShareMin', o.podShareMin ?? DEFAULT_POD_SHARE_MIN),
    podShareJumpFactor: checkNumber('alerts.podShareJumpFactor', o.podShareJumpFactor ?? DEFAULT_POD_SHARE_JUMP_FACTOR, { minExclusive: 1 }),
    podShareJumpFor: o.podShareJumpFor ?? DEFAULT_POD_SHARE_JUMP_FOR,
    spendAnomalyFactor: checkNumber('alerts.spendAnomalyFactor', o.spendAnomalyFactor ?? DEFAULT_SPEND_ANOMALY_FACTOR, { minExclusive: 1 }),
    runbookUrl: o.runbookUrl ?? DEFAULT_RUNBOOK_URL,
  };
  for (const name of ['trafficStoppedFor', 'usageOutsideFleetFor', 'usageStaleAfter', 'retryStormFor', 'podShareJumpFor'] as const) {
    parseDuration(`alerts.${name}`, resolved[name]);
  }
  checkHttpUrl('alerts.runbookUrl', resolved.runbookUrl);
  return resolved;
}

/** A matcher for the listed vendors. */
const vendorIn = (vendors: readonly string[]) => `${LABEL.vendor}=~"${anyOf(vendors)}"`;

/** Expressions of the alerts; thresholds are parameters. */
export const ALERT_EXPR = {
  targetsDown: (job: string, percent: number) =>
    `100 * (count by (job, ${LABEL.namespace}) (up{job="${job}"} == 0) / count by (job, ${LABEL.namespace}) (up{job="${job}"})) > ${percent}`,
  /**
   * Neither requests/connections nor bytes: a long-lived tunnel opens no connection for hours, but the sidecar
   * reports its bytes while it is open.
   */
  trafficStopped: `sum ${by(LABEL.vendor)} (${RULE.vendorInfo}) unless on (${LABEL.vendor}) (sum ${by(LABEL.vendor)} (${RULE.requests}) > 0 or sum ${by(LABEL.vendor)} (${RULE.vendorSentBytes}) > 0 or sum ${by(LABEL.vendor)} (${RULE.vendorReceivedBytes}) > 0)`,
  /** For the vendors whose traffic the sidecar parses as HTTP: the others have no response codes. */
  errorRatio: (ratio: number, vendors: readonly string[]) => `${RULE.errorRatio}{${vendorIn(vendors)}} > ${ratio}`,
  /** Share of HTTP requests with one response code, e.g. 407 or 429, for the listed vendors. */
  codeRatio: (code: number, ratio: number, vendors: readonly string[]) =>
    `sum ${by(LABEL.vendor)} (${RULE.responseCodes}{response_code="${code}", ${vendorIn(vendors)}}) / sum ${by(LABEL.vendor)} (${RULE.responseCodes}{${vendorIn(vendors)}}) > ${ratio}`,
  spendOverBudget: `${RULE.spend1h} * ${MONTH_SECONDS} > on (${LABEL.vendor}) ${RULE.monthlyBudget}`,
  trafficOverBudget: `${RULE.bytes1h} * ${MONTH_SECONDS} > on (${LABEL.vendor}) ${RULE.monthlyTrafficBudgetBytes}`,
  /**
   * Crawlers of one vendor sending to another vendor's gateway hosts: one expression for all vendors, with the
   * gateway's owner as label `gateway_vendor`.
   */
  misrouted: (gateways: ReadonlyArray<{ vendor: string; hosts: readonly string[] }>) => gateways
    .map(g => `label_replace(sum ${by(LABEL.vendor, GATEWAY_LABEL)} (${RULE.gatewayRequests}{${GATEWAY_LABEL}=~"${anyOf(g.hosts)}", ${LABEL.vendor}!="${g.vendor}"}) > 0, "gateway_vendor", "${g.vendor}", "", "")`)
    .join(' or '),
  /** Targets of any of the jobs above `ratio` of their job's sample limit. */
  sampleLimitNear: (limits: ReadonlyArray<{ job: string; sampleLimit: number }>, ratio: number) => limits
    .map(l => `scrape_samples_post_metric_relabeling{job="${l.job}"} > ${Math.floor(l.sampleLimit * ratio)}`).join(' or '),
  /** Targets above their job's sample limit: Prometheus rejects their whole scrape (`up` 0), yet reports the count. */
  sampleLimitHit: (job: string, sampleLimit: number) => `scrape_samples_post_metric_relabeling{job="${job}"} > ${sampleLimit}`,
  /**
   * Billed above measured bytes/s by more than `ratio` of measured and `minBytesPerSecond`, with the account whose billed
   * rate grew most in the last 30 minutes as label `account` (the alert's value stays the excess).
   */
  usageOutsideFleet: (ratio: number, minBytesPerSecond: number) =>
    `(${RULE.unmeasuredBilledBytes} > on (${LABEL.vendor}) ${ratio} * (${RULE.measuredBillableBytes} or 0 * ${RULE.billedBytes}) and ${RULE.unmeasuredBilledBytes} > ${minBytesPerSecond})`
    + ` + on (${LABEL.vendor}) group_left (${ACCOUNT_LABEL}) (0 * topk ${by(LABEL.vendor)} (1, ${RULE.billedAccountBytes} - (${RULE.billedAccountBytes} offset 30m or 0 * ${RULE.billedAccountBytes})))`,
  /** Seconds since the vendor's usage source last answered, above `seconds`; a week's memory survives a collector that is down. */
  usageSourceStale: (seconds: number) => `time() - max ${by(LABEL.vendor)} (max_over_time(${USAGE_METRICS.lastSuccess}[1w])) > ${seconds}`,
  /** HTTP requests per successful response above `ratio`, for vendors with at least RETRY_STORM_MIN_REQUESTS_PER_SECOND. */
  retryStorm: (ratio: number, vendors: readonly string[]) =>
    `${RULE.requestsPerSuccess}{${vendorIn(vendors)}} > ${ratio} and on (${LABEL.vendor}) sum ${by(LABEL.vendor)} (${RULE.responseCodes}) > ${RETRY_STORM_MIN_REQUESTS_PER_SECOND}`,
  /**
   * A pod's share of its vendor's bytes above `min` and `factor` times its average share of the hour before the last 10
   * minutes (0 for a pod that was not among the busiest then, once the vendor has that history).
   */
  podShareJump: (min: number, factor: number) => {
    const before = `avg_over_time(${RULE.podShare}[1h] offset 10m)`;
    return `${RULE.podShare} > ${min} and ${RULE.podShare} > ${factor} * (${before} or (0 * ${RULE.podShare} and on (${LABEL.vendor}) count ${by(LABEL.vendor)} (${before})))`;
  },
  /**
   * Hourly spend (the value: per hour) above `factor` times the same hour a week earlier (or no spend then) and `factor` times the past day's
   * median: a weekly pattern is no anomaly, nor is a level held for a day.
   */
  spendAnomaly: (factor: number) => {
    const s = RULE.spendTotal1h;
    return `3600 * ((${s} > ${factor} * ${s} offset 1w or ${s} unless ${s} offset 1w) and ${s} > ${factor} * quantile_over_time(0.5, ${s}[1d] offset 1h) and ${s} > 0)`;
  },
} as const;

/**
 * Go template that lists, in an alert's annotation, what a query returns for the alert's vendor: `expr` names the
 * vendor as `%[1]s`.
 */
function listing(expr: string, item: string, none: string): string {
  return `{{ range $i, $s := printf \`${expr}\` $labels.${LABEL.vendor} | query }}{{ if $i }}, {{ end }}${item}{{ else }}${none}{{ end }}.`;
}

/** The vendor's busiest destinations, for alerts that explain a vendor's traffic. */
const TOP_DESTINATIONS = listing(`topk(3, ${RULE.destinationRequests}{${LABEL.vendor}="%[1]s"})`,
  '{{ .Labels.destination }} ({{ .Value | humanize }}/s)', 'none recorded');

/** Alerts of the scale-out setup: series lost between shards, the global layer and remote stores. */
export const SCALE_OUT_ALERT_EXPR = {
  shardDown: `up{job="${SHARDS_JOB}"} == 0`,
  remoteWriteFailing: 'sum by (instance, remote_name, url) (rate(prometheus_remote_storage_samples_failed_total[5m])) > 0',
} as const;

/** An alert in kubernetes-mixin style, without its runbook link: `withRunbooks` adds those in one pass. */
function alert(name: string, expr: string, forDuration: string, severity: 'warning' | 'critical', summary: string, description: string): AlertingRule {
  return { alert: name, expr, for: forDuration, labels: { severity }, annotations: { summary, description } };
}

/** Every alert links to `<runbookUrl>#<alert name in lower case>`, the runbook's heading for it. */
export function withRunbooks(groups: readonly RuleGroup[], runbookUrl: string): RuleGroup[] {
  return groups.map(g => ({
    ...g,
    rules: g.rules.map(r => (isAlertingRule(r) ? { ...r, annotations: { ...r.annotations, runbook_url: `${runbookUrl}#${r.alert.toLowerCase()}` } } : r)),
  }));
}

const pct = (ratio: number) => `${+(ratio * 100).toFixed(2)}%`;

/** Alerts in kubernetes-mixin style: for, severity, summary, description with labels, runbook_url. */
export function alertGroups(vendors: VendorCatalog, jobs: CrawlerJobs, limits: { totals: number; destinations: number }, options: Required<AlertOptions>, usage = false): RuleGroup[] {
  const job = jobs.totals;
  const v = `{{ $labels.${LABEL.vendor} }}`;

  // Response codes exist only for traffic the sidecar parses as HTTP: direct HTTP (vendors without gateways) and
  // inspected gateways. An alert that cannot fire for a vendor is not generated for it.
  const parsed = vendors.vendors.filter(x => x.endpoints.length === 0 || x.inspected).map(x => x.name);
  const inspected = vendors.vendors.filter(x => x.inspected).map(x => x.name);
  const gateways = vendors.vendors.filter(x => x.endpoints.length > 0).map(x => ({ vendor: x.name, hosts: x.gatewayHosts }));
  const onlyIf = (condition: boolean, rules: () => AlertingRule[]): AlertingRule[] => (condition ? rules() : []);

  return withRunbooks([{
    name: 'proxy-telemetry.alerts',
    rules: [
      alert('CrawlerSidecarTargetsDown', ALERT_EXPR.targetsDown(job, options.targetsDownPercent), '10m', 'warning',
        'Crawler sidecars cannot be scraped.',
        `{{ printf "%.4g" $value }}% of the crawler sidecar targets in namespace {{ $labels.namespace }} are down; their traffic is not measured.`),
      alert('ProxyVendorTrafficStopped', ALERT_EXPR.trafficStopped, options.trafficStoppedFor, 'warning',
        `Vendor ${v} carries no traffic.`,
        `No request, connection or byte through vendor ${v} has been seen for ${options.trafficStoppedFor}, although the vendor is configured.`),
      ...onlyIf(parsed.length > 0, () => [
        alert('ProxyVendorHighErrorRatio', ALERT_EXPR.errorRatio(options.errorRatio, parsed), '10m', 'warning',
          `Vendor ${v} answers many requests with errors.`,
          `{{ $value | humanizePercentage }} of the HTTP requests through ${v} got a 4xx/5xx or no response (threshold ${pct(options.errorRatio)}).`),
        alert('ProxyVendorRateLimited', ALERT_EXPR.codeRatio(429, options.rateLimitRatio, parsed), '10m', 'warning',
          `Requests through vendor ${v} are rate limited.`,
          `{{ $value | humanizePercentage }} of the HTTP requests through ${v} got 429 Too Many Requests (threshold ${pct(options.rateLimitRatio)}).`),
      ]),
      // Only a gateway answers 407, and the sidecar sees its answers only when it inspects the gateway port.
      ...onlyIf(inspected.length > 0, () => [
        alert('ProxyVendorAuthenticationFailures', ALERT_EXPR.codeRatio(407, options.proxyAuthRatio, inspected), '5m', 'critical',
          `Vendor ${v} rejects the proxy credentials.`,
          `{{ $value | humanizePercentage }} of the requests through the gateway of ${v} got 407 Proxy Authentication Required (threshold ${pct(options.proxyAuthRatio)}).`),
      ]),
      alert('ProxyVendorSpendOverBudget', ALERT_EXPR.spendOverBudget, '30m', 'warning',
        `Vendor ${v} is projected to exceed its monthly budget.`,
        `At the last hour's rate, ${v} would cost {{ $value | humanize }} this month, above its configured budget.`),
      alert('ProxyVendorTrafficOverBudget', ALERT_EXPR.trafficOverBudget, '30m', 'warning',
        `Vendor ${v} is projected to exceed its monthly traffic budget.`,
        `At the last hour's rate, ${v} would carry {{ $value | humanize1024 }}B this month, above its configured traffic budget.`),
      ...onlyIf(parsed.length > 0, () => [
        alert('ProxyVendorRetryStorm', ALERT_EXPR.retryStorm(options.retryStormRatio, parsed), options.retryStormFor, 'warning',
          `Crawlers of ${v} retry failing requests.`,
          `Crawlers of ${v} send {{ $value | humanize }} HTTP requests per successful response (threshold ${options.retryStormRatio}): spend without pages. `
          + `Pods sending most: ${listing(`topk(3, ${RULE.podRequests}{${LABEL.vendor}="%[1]s", request_protocol="http"})`, '{{ .Labels.namespace }}/{{ .Labels.pod }} ({{ .Value | humanize }}/s)', 'none recorded')} `
          + `Destinations: ${TOP_DESTINATIONS}`),
      ]),
      alert('ProxyVendorPodShareJump', ALERT_EXPR.podShareJump(options.podShareMin, options.podShareJumpFactor), options.podShareJumpFor, 'warning',
        `One pod's share of ${v}'s traffic jumped.`,
        `Pod {{ $labels.namespace }}/{{ $labels.pod }} now moves {{ $value | humanizePercentage }} of the bytes through ${v}, more than ${options.podShareJumpFactor} times its share of the hour before. `
        + `Destinations of ${v}: ${TOP_DESTINATIONS}`),
      alert('ProxyVendorSpendAnomaly', ALERT_EXPR.spendAnomaly(options.spendAnomalyFactor), '15m', 'warning',
        `Spend on ${v} runs above its usual level.`,
        `${v} cost {{ $value | humanize }} in the last hour, more than ${options.spendAnomalyFactor} times both the same hour a week ago and the past day's median. `
        + `Busiest pods: ${listing(`topk(3, ${RULE.topPodBytes5m}{${LABEL.vendor}="%[1]s"})`, '{{ .Labels.namespace }}/{{ .Labels.pod }} ({{ .Value | humanize1024 }}B/s)', 'none recorded')} `
        + `Destinations: ${TOP_DESTINATIONS}`),
      ...onlyIf(usage, () => [
        alert('ProxyVendorUsageOutsideFleet', ALERT_EXPR.usageOutsideFleet(options.usageOutsideFleetRatio, options.usageOutsideFleetMinBytesPerSecond), options.usageOutsideFleetFor, 'critical',
          `${v} bills traffic that no crawler pod sent: its credentials are used outside the fleet.`,
          `${v} reports {{ $value | humanize1024 }}B/s more than the fleet's sidecars sent through its gateways (above ${pct(options.usageOutsideFleetRatio)}); account {{ $labels.${ACCOUNT_LABEL} }} grew most in 30 minutes. `
          + `Pods whose traffic grew in 30 minutes: ${listing(`topk(3, sum by (namespace, pod) ({__name__=~"${RULE.podSentBytes}|${RULE.podReceivedBytes}", ${LABEL.vendor}="%[1]s"}) - sum by (namespace, pod) ({__name__=~"${RULE.podSentBytes}|${RULE.podReceivedBytes}", ${LABEL.vendor}="%[1]s"} offset 30m) > 0)`, '{{ .Labels.namespace }}/{{ .Labels.pod }} (+{{ .Value | humanize1024 }}B/s)', 'none: no pod of the fleet moved more, so the difference is traffic from outside it')}`),
        alert('ProxyUsageSourceStale', ALERT_EXPR.usageSourceStale(parseDuration('alerts.usageStaleAfter', options.usageStaleAfter) / 1000), '1m', 'warning',
          `The usage source of ${v} has not answered for ${options.usageStaleAfter}.`,
          `The usage collector last read ${v}'s usage {{ $value | humanizeDuration }} ago: billed figures are not current and no bill is compared. `
          + `Failed polls in the last hour: ${listing(`sum by (kind) (increase(${USAGE_METRICS.errors}{${LABEL.vendor}="%[1]s"}[1h])) > 0`, '{{ .Labels.kind }} {{ .Value | humanize }}', 'none (the collector is not reporting)')}`),
      ]),
      ...onlyIf(gateways.length > 0, () => [
        alert('ProxyCrawlerMisrouted', ALERT_EXPR.misrouted(gateways), '5m', 'warning',
          `Crawlers of ${v} send to the gateway of {{ $labels.gateway_vendor }}.`,
          `Pods labelled proxy-vendor=${v} send {{ $value | humanize }} requests or connections per second to {{ $labels.gateway }}, a gateway of vendor {{ $labels.gateway_vendor }}: that traffic is billed by {{ $labels.gateway_vendor }} but reported under ${v}.`),
      ]),
      alert('CrawlerSidecarNearSampleLimit', ALERT_EXPR.sampleLimitNear([{ job, sampleLimit: limits.totals }, { job: jobs.destinations, sampleLimit: limits.destinations }], options.sampleLimitRatio), '15m', 'warning',
        'A crawler sidecar exposes nearly as many series as its scrape allows.',
        `Pod {{ $labels.namespace }}/{{ $labels.pod }} exposes {{ $value }} samples per scrape in job {{ $labels.job }}, above ${pct(options.sampleLimitRatio)} of its limit (${limits.totals} for ${job}, ${limits.destinations} for ${jobs.destinations}); beyond it that scrape fails.`),
      alert('CrawlerSidecarSampleLimitExceeded', ALERT_EXPR.sampleLimitHit(job, limits.totals), '1m', 'critical',
        'A crawler sidecar\'s totals are not measured: its scrape exceeds the sample limit.',
        `Pod {{ $labels.namespace }}/{{ $labels.pod }} exposes {{ $value }} samples of totals, above the limit ${limits.totals} of job ${job}: Prometheus rejects its scrapes, so its requests and bytes are not measured.`),
      alert('CrawlerDestinationsNotMeasured', ALERT_EXPR.sampleLimitHit(jobs.destinations, limits.destinations), '5m', 'warning',
        'A crawler pod reaches more destinations than its destination scrape allows.',
        `Pod {{ $labels.namespace }}/{{ $labels.pod }} exposes {{ $value }} per-destination samples, above the limit ${limits.destinations} of job ${jobs.destinations}: its destinations are not measured (its requests count under destination "(not measured)"); its requests, connections and bytes still are.`),
    ],
  }], options.runbookUrl);
}

export const SCALE_OUT_ALERT_GROUP = 'proxy-telemetry.scale-out';

/**
 * Alerts for series lost on the way between Prometheus servers: a shard that is down (its pods vanish from every
 * vendor total) and remote-write samples a receiver rejected for good. Evaluated by the Prometheus that scrapes
 * the servers' own metrics (the global one when sharded).
 */
export function scaleOutAlertGroup(opts: { sharded: boolean; remoteWrite: boolean; runbookUrl: string }): RuleGroup | undefined {
  const rules: AlertingRule[] = [
    ...(opts.sharded ? [alert('PrometheusShardDown', SCALE_OUT_ALERT_EXPR.shardDown, '5m', 'critical',
      'A Prometheus shard is down.',
      'Prometheus shard {{ $labels.instance }} cannot be scraped: the crawler pods it scrapes are not measured and every vendor total misses them.')] : []),
    // A shard always writes to the global Prometheus, so sharding alone needs this alert too.
    ...(opts.sharded || opts.remoteWrite ? [alert('PrometheusRemoteWriteFailing', SCALE_OUT_ALERT_EXPR.remoteWriteFailing, '15m', 'warning',
      'Prometheus drops samples it cannot remote-write.',
      'Prometheus {{ $labels.instance }} drops {{ $value | humanize }} samples/s that {{ $labels.remote_name }} ({{ $labels.url }}) rejected; they are missing from that store.')] : []),
  ];
  return rules.length > 0 ? withRunbooks([{ name: SCALE_OUT_ALERT_GROUP, rules }], opts.runbookUrl)[0] : undefined;
}
