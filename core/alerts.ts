import { GATEWAY_LABEL, LABEL, MONTH_SECONDS, SHARDS_JOB } from './metric-contract';
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
    runbookUrl: o.runbookUrl ?? DEFAULT_RUNBOOK_URL,
  };
  parseDuration('alerts.trafficStoppedFor', resolved.trafficStoppedFor);
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
} as const;

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
export function alertGroups(vendors: VendorCatalog, jobs: CrawlerJobs, limits: { totals: number; destinations: number }, options: Required<AlertOptions>): RuleGroup[] {
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
