/**
 * The metric contract: names of the Istio metrics we build on, the labels our scrape job adds,
 * and (further down) every PromQL expression that rules, alerts and dashboards use.
 * A label or metric rename is one edit here.
 */

/** Target labels added to every scraped crawler sidecar series. */
export const LABEL = {
  vendor: 'proxy_vendor',
  namespace: 'namespace',
  pod: 'pod',
  /** Added by our Telemetry resource on TCP metrics: SNI of TLS connections. */
  sni: 'destination_sni',
  /**
   * Added by our Telemetry resource on HTTP metrics: the request's host (`:authority`). For direct HTTP it equals
   * the Host header; through an inspected vendor gateway it is the target (`host:443` for a CONNECT tunnel).
   */
  host: 'destination_host',
  /** On the vendor info series: 'none' (no gateway), 'tcp' or 'http' (inspected gateway). */
  gatewayInspection: 'gateway_inspection',
  /**
   * On the per-pod series the dashboards read when no pod is picked (ALL_PODS): the busiest pods, and the 5-minute
   * totals. Pod names are DNS labels, so no `pod` matcher for picked pods can match ALL_PODS.
   */
  podSelection: 'pod_selection',
} as const;

/** Value of LABEL.podSelection, and of the dashboards' pod variable when All is selected. */
export const ALL_PODS = '__all__';
/** Busiest pods per vendor and namespace recorded for the per-pod graphs. */
export const TOP_PODS = 20;

/** Pod label that assigns a crawler pod to a vendor. */
export const VENDOR_POD_LABEL = 'proxy-vendor';

/** Istio standard metrics (istio/proxy istio_stats.cc). */
export const ISTIO = {
  requests: 'istio_requests_total',
  requestBytes: 'istio_request_bytes',
  responseBytes: 'istio_response_bytes',
  duration: 'istio_request_duration_milliseconds',
  /** Bytes the sidecar sent to the app: the crawler's download. */
  tcpSentBytes: 'istio_tcp_sent_bytes_total',
  /** Bytes the sidecar received from the app: the crawler's upload. */
  tcpReceivedBytes: 'istio_tcp_received_bytes_total',
  tcpOpened: 'istio_tcp_connections_opened_total',
  tcpClosed: 'istio_tcp_connections_closed_total',
} as const;

/**
 * Istio's standard tags on the sidecar metrics (istio/proxy istio_stats.cc). TCP metrics have all but
 * response_code and grpc_response_status.
 */
export const ISTIO_STANDARD_TAGS = [
  'reporter',
  'source_workload', 'source_canonical_service', 'source_canonical_revision', 'source_workload_namespace',
  'source_principal', 'source_app', 'source_version', 'source_cluster',
  'destination_workload', 'destination_workload_namespace', 'destination_principal', 'destination_app',
  'destination_version', 'destination_service', 'destination_canonical_service', 'destination_canonical_revision',
  'destination_service_name', 'destination_service_namespace', 'destination_cluster',
  'request_protocol', 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy',
] as const;

/**
 * The Istio tags each metric must keep for the rules below; every other standard tag can be removed at the
 * sidecar. `reporter` tells outbound from inbound.
 *
 * Totals and destinations live in different metrics, so that a crawler reaching any number of hosts keeps exact
 * per-pod counts and bytes: the totals (request size and response size histograms, duration, TCP bytes and opened
 * connections) carry no tag whose values grow with the hosts crawled: destination_service only where it is
 * bounded by configuration (TCP: "unknown", gateways, mesh services); the request-size histogram counts requests
 * by response code. Destinations are on the two counters B reads: istio_requests_total (HTTP: Host, target) and
 * istio_tcp_connections_closed_total (TLS: SNI), scraped by a job of their own.
 */
export const CONTRACT_TAGS: Readonly<Record<keyof typeof ISTIO, readonly string[]>> = {
  requests: ['reporter', 'destination_service', 'request_protocol', LABEL.host],
  requestBytes: ['reporter', 'request_protocol', 'response_code'],
  responseBytes: ['reporter', 'request_protocol'],
  duration: ['reporter', 'request_protocol'],
  tcpSentBytes: ['reporter', 'destination_service', 'request_protocol'],
  tcpReceivedBytes: ['reporter', 'destination_service', 'request_protocol'],
  tcpOpened: ['reporter', 'destination_service', 'request_protocol'],
  tcpClosed: ['reporter', 'destination_service', 'request_protocol', LABEL.sni],
};

/**
 * Series of the totals scrape job: bounded per pod whatever the destinations. Byte histograms are read through
 * `_sum` (bytes) and, for requests, `_count` (requests by response code); the duration histogram through its buckets.
 */
export const TOTAL_SERIES = [
  `${ISTIO.requestBytes}_sum`,
  `${ISTIO.requestBytes}_count`,
  `${ISTIO.responseBytes}_sum`,
  `${ISTIO.duration}_bucket`,
  ISTIO.tcpSentBytes, ISTIO.tcpReceivedBytes, ISTIO.tcpOpened,
] as const;

/** Series of the destination scrape job: one per destination (and code) per pod. */
export const DESTINATION_SERIES = [ISTIO.requests, ISTIO.tcpClosed] as const;

/** Every Istio series the rules read. */
export const SCRAPED_SERIES = [...TOTAL_SERIES, ...DESTINATION_SERIES] as const;

/**
 * Labels of outbound series that describe the reporting pod itself: constant per scrape target, so dropping
 * them at scrape time can never make two series of one target identical (the pod label keeps targets apart).
 */
export const PER_POD_SOURCE_TAGS = ISTIO_STANDARD_TAGS.filter(t => t.startsWith('source_'));

/** Name of the rule group holding the contract's recording rules. */
export const RULE_GROUP = 'proxy-telemetry.rules';

/** Name of the scrape job for crawler sidecars' totals (requests, connections, bytes, codes, latency). */
export const SCRAPE_JOB = 'crawler-sidecars';

/**
 * Name of the scrape job for crawler sidecars' per-destination counters, with a sample limit of its own: a pod that
 * exceeds it loses its destination detail, never its totals.
 */
export const DESTINATION_SCRAPE_JOB = 'crawler-destinations';

/**
 * Label the destination rules add: the request's host (HTTP, direct or through an inspected gateway), SNI (TLS)
 * or the gateway host (connections to a gateway the sidecar does not inspect).
 */
export const DESTINATION_LABEL = 'destination';

/** Label of the gateway rule: the vendor gateway host a request or connection went to. */
export const GATEWAY_LABEL = 'gateway';

/** Recording rules: the public names users and dashboards query. */
export const RULE = {
  /** HTTP requests/s and TCP connections/s opened per crawler pod. */
  podRequests: 'proxy_vendor_pod:proxy_requests:rate5m',
  /** HTTP requests/s (`request_protocol="http"`) and TCP connections/s (`"tcp"`) per vendor. */
  requests: 'proxy_vendor:proxy_requests:rate5m',
  /** The same per destination host. */
  destinationRequests: 'proxy_vendor_destination:proxy_requests:rate5m',
  /**
   * The destination rule summed per vendor and protocol, so that panels need not read its every destination over a
   * range (top-N membership changes, so a range holds many more series than one evaluation).
   */
  destinationTotal: 'proxy_vendor:proxy_destination_requests:rate5m',
  /** Requests (inspected gateways) and connections (TCP gateways) per vendor gateway host, whichever vendor's pods sent them. */
  gatewayRequests: 'proxy_vendor_gateway:proxy_requests:rate5m',
  /** Bytes/s uploaded by each crawler pod. */
  podSentBytes: 'proxy_vendor_pod:proxy_sent_bytes:rate5m',
  /** Bytes/s downloaded by each crawler pod. */
  podReceivedBytes: 'proxy_vendor_pod:proxy_received_bytes:rate5m',
  /** The TOP_PODS pods uploading most per vendor and namespace, at each evaluation. */
  topPodSentBytes: 'proxy_vendor_pod:proxy_sent_bytes:top20_rate5m',
  /** The TOP_PODS pods downloading most per vendor and namespace, at each evaluation. */
  topPodReceivedBytes: 'proxy_vendor_pod:proxy_received_bytes:top20_rate5m',
  /** Upload + download bytes/s per pod over 5 minutes, recorded every 5 minutes: range totals per pod at 1/10 the samples. */
  podBytes5m: 'proxy_vendor_pod:proxy_bytes:rate5m',
  vendorSentBytes: 'proxy_vendor:proxy_sent_bytes:rate5m',
  vendorReceivedBytes: 'proxy_vendor:proxy_received_bytes:rate5m',
  /** HTTP requests/s per response code (0 = no response). */
  responseCodes: 'proxy_vendor_response_code:proxy_requests:rate5m',
  /** Share of HTTP requests answered 4xx/5xx or not at all. */
  errorRatio: 'proxy_vendor:proxy_request_errors:ratio_rate5m',
  /** HTTP request duration histogram per vendor. */
  durationBuckets: 'proxy_vendor_le:proxy_request_duration_milliseconds_bucket:rate5m',
  /** Scraped crawler sidecars per vendor. */
  crawlerPods: 'proxy_vendor:proxy_crawler_pods:count',
  /** Crawler sidecar targets whose last scrape failed, per vendor and crawler scrape job (0 when none). */
  scrapeTargetsDown: 'proxy_vendor_job:proxy_scrape_targets_down:sum',
  /** Slowest crawler sidecar scrape per vendor and job, in seconds. */
  scrapeDurationMax: 'proxy_vendor_job:proxy_scrape_duration_seconds:max',
  /** Most samples one crawler sidecar's scrape kept, per vendor and job. */
  scrapeSamplesMax: 'proxy_vendor_job:proxy_scrape_samples:max',
  /** Bytes/s of crawler-namespace pods without the vendor label: traffic no vendor is charged for here. */
  unattributedBytes: 'namespace:proxy_unattributed_bytes:rate5m',
  /** Upload + download bytes/s per vendor over 1h, for cost. */
  bytes1h: 'proxy_vendor:proxy_bytes:rate1h',
  /** Requests + connections per second per vendor over 1h, for cost. */
  requests1h: 'proxy_vendor:proxy_requests:rate1h',
  /** Spend per second (billing currency) per vendor over 1h. */
  spend1h: 'proxy_vendor:proxy_spend:rate1h',
  /** Constants from the vendor model. */
  vendorInfo: 'proxy_vendor:proxy_vendor_info:constant',
  pricePerGiB: 'proxy_vendor:proxy_price_per_gib:constant',
  pricePer1kRequests: 'proxy_vendor:proxy_price_per_1k_requests:constant',
  monthlyBudget: 'proxy_vendor:proxy_monthly_budget:constant',
  monthlyTrafficBudgetBytes: 'proxy_vendor:proxy_monthly_traffic_budget_bytes:constant',
} as const;

/**
 * Recording rules the contract's rules are built from, so that raw sidecar series are read about once per
 * evaluation: per pod and response code (HTTP requests), per pod and destination_service (TCP connections), and the
 * unbounded per-destination sums. Not part of the contract: their level does not start with `proxy_vendor`, so
 * contract-only remote write leaves them out, and a shard keeps them to itself.
 */
export const INTERMEDIATE = {
  podResponseCodes: 'pod_response_code:proxy_http_requests:rate5m',
  podConnections: 'pod_destination_service:proxy_tcp_connections:rate5m',
  destinations: 'destination_unbounded:proxy_requests:rate5m',
} as const;

/** Rule groups, evaluated concurrently by Prometheus: totals, destinations and latency read different raw series. */
export const RULE_GROUPS = {
  totals: RULE_GROUP,
  destinations: 'proxy-telemetry.destinations',
  latency: 'proxy-telemetry.latency',
  scrape: 'proxy-telemetry.scrape',
  vendors: 'proxy-telemetry.vendors',
  cost: 'proxy-telemetry.cost',
} as const;

/** Evaluation interval of the cost rule group: 1h averages of the 5m rules, which change slowly. */
export const COST_RULE_INTERVAL_SECONDS = 300;

/** Labels each destination rule keeps beside `destination`: the bound ranks destinations within them. */
export const DESTINATION_RULE_LABELS: Readonly<Record<string, readonly string[]>> = {
  [RULE.destinationRequests]: [LABEL.vendor, 'request_protocol'],
};

/** Seconds in the month used for projections (30 days). */
export const MONTH_SECONDS = 30 * 86400;
const GIB = 1024 ** 3;

/** Counters per destination (B): HTTP requests by host, TCP connections by SNI (counted when they close). */
const DESTINATION_COUNTERS = [ISTIO.requests, ISTIO.tcpClosed];
/** Upload: request wire bytes plus bytes the sidecar received from the app. */
const UPLOAD_COUNTERS = [`${ISTIO.requestBytes}_sum`, ISTIO.tcpReceivedBytes];
/** Download: response wire bytes plus bytes the sidecar sent to the app. */
const DOWNLOAD_COUNTERS = [`${ISTIO.responseBytes}_sum`, ISTIO.tcpSentBytes];

/** Outbound traffic of vendor-labelled crawler pods. */
const ATTRIBUTED = `reporter="source", ${LABEL.vendor}!=""`;
const UNATTRIBUTED = `reporter="source", ${LABEL.vendor}=""`;

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
 * Adds `destination`: the SNI of a TLS connection when known; else the request's host (HTTP: the Host header
 * directly, the target through an inspected gateway) without a default port (a CONNECT's `host:443` is `host`);
 * else destination_service (the gateway host for connections to a TCP gateway, "unknown" for TLS without SNI).
 * `label_join` puts "sni;host;service" side by side, because label_replace reads only one label; each step
 * matches only while the value still holds the separators.
 */
function withDestination(expr: string): string {
  const d = DESTINATION_LABEL;
  const joined = `label_join(${expr}, "${d}", ";", "${LABEL.sni}", "${LABEL.host}", "destination_service")`;
  const service = `label_replace(${joined}, "${d}", "$1", "${d}", "(?:unknown)?;(?:unknown)?;(.*)")`;
  const host = `label_replace(${service}, "${d}", "$1", "${d}", "(?:unknown)?;([^;]+?)(?::(?:80|443))?;.*")`;
  return `label_replace(${host}, "${d}", "$1", "${d}", "([^;]+);.*")`;
}

/** A PromQL `by (...)` clause. */
export const by = (...labels: string[]) => `by (${labels.join(', ')})`;

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
  return `sum_over_time(${rule}[1h]) / clamp_min(count_over_time(${rule}[1h]), ${Math.floor(3600 / intervalSeconds)})`;
}

/** Upload and download vectors side by side, told apart by a `direction` label so they never collide. */
export function byDirection(sent: string, received: string): string {
  return `label_replace(${sent}, "direction", "sent", "", "") or label_replace(${received}, "direction", "received", "", "")`;
}

const NO_GUARD = { fold: 'none', maxPerVendor: 0, pinned: [], publicSuffixes: [] } as const;

/**
 * Every PromQL expression of the recording rules. Layered: the raw request and connection counters are read once,
 * into the per-pod intermediates; everything per vendor, code or gateway is summed from those.
 */
export const RECORDING_EXPR = {
  podResponseCodes: `sum ${by(LABEL.vendor, LABEL.namespace, LABEL.pod, 'request_protocol', 'response_code')} (rate(${ISTIO.requestBytes}_count{${ATTRIBUTED}}[5m]))`,
  podConnections: `sum ${by(LABEL.vendor, LABEL.namespace, LABEL.pod, 'request_protocol', 'destination_service')} (rate(${ISTIO.tcpOpened}{${ATTRIBUTED}}[5m]))`,
  // The two intermediates differ in their other labels, so one name regex sums them without collisions.
  podRequests: `sum ${by(LABEL.vendor, LABEL.namespace, LABEL.pod, 'request_protocol')} ({__name__=~"${INTERMEDIATE.podResponseCodes}|${INTERMEDIATE.podConnections}"})`,
  requests: `sum ${by(LABEL.vendor, 'request_protocol')} (${RULE.podRequests})`,
  /**
   * Requests (inspected gateways, from the destination counters) and connections (TCP gateways, from the per-pod
   * intermediate) per gateway host: destination_service of the gateway's cluster.
   */
  gatewayRequests: (gatewayHosts: readonly string[]) => {
    const gateway = `destination_service=~"${anyOf(gatewayHosts)}"`;
    return `sum ${by(LABEL.vendor, GATEWAY_LABEL, 'request_protocol')} (label_replace(${INTERMEDIATE.podConnections}{${gateway}} or rate(${ISTIO.requests}{${ATTRIBUTED}, ${gateway}}[5m]), "${GATEWAY_LABEL}", "$1", "destination_service", "(.*)"))`;
  },
  /** Every host by name; MetricsStack records `destinationRuleExprs(guard, job)`, bounded, instead. */
  destinationRequests: destinationRuleExprs(NO_GUARD, DESTINATION_SCRAPE_JOB).destinationRequests,
  destinationTotal: `sum ${by(LABEL.vendor, 'request_protocol')} (${RULE.destinationRequests})`,
  podSentBytes: `sum ${by(LABEL.vendor, LABEL.namespace, LABEL.pod)} (${rate(UPLOAD_COUNTERS, ATTRIBUTED, '5m')})`,
  podReceivedBytes: `sum ${by(LABEL.vendor, LABEL.namespace, LABEL.pod)} (${rate(DOWNLOAD_COUNTERS, ATTRIBUTED, '5m')})`,
  topPodSentBytes: `topk ${by(LABEL.vendor, LABEL.namespace)} (${TOP_PODS}, ${RULE.podSentBytes})`,
  topPodReceivedBytes: `topk ${by(LABEL.vendor, LABEL.namespace)} (${TOP_PODS}, ${RULE.podReceivedBytes})`,
  // The two rules carry the same labels; a sum over a name regex adds them per pod.
  podBytes5m: `sum ${by(LABEL.vendor, LABEL.namespace, LABEL.pod)} ({__name__=~"${RULE.podSentBytes}|${RULE.podReceivedBytes}"})`,
  vendorSentBytes: `sum ${by(LABEL.vendor)} (${RULE.podSentBytes})`,
  vendorReceivedBytes: `sum ${by(LABEL.vendor)} (${RULE.podReceivedBytes})`,
  responseCodes: `sum ${by(LABEL.vendor, 'response_code')} (${INTERMEDIATE.podResponseCodes})`,
  // Vendors without errors get 0, not a missing series.
  errorRatio: `(sum ${by(LABEL.vendor)} (${RULE.responseCodes}{response_code=~"0|4..|5.."}) or 0 * sum ${by(LABEL.vendor)} (${RULE.responseCodes})) / sum ${by(LABEL.vendor)} (${RULE.responseCodes})`,
  durationBuckets: `sum ${by(LABEL.vendor, 'le')} (rate(${ISTIO.duration}_bucket{${ATTRIBUTED}}[5m]))`,
  crawlerPods: (job: string) => `count ${by(LABEL.vendor)} (up{job="${job}", ${LABEL.vendor}!=""})`,
  // Per-target scrape series summed per vendor every evaluation, so the health panels read a few series, not one per pod.
  scrapeTargetsDown: (jobs: readonly string[]) => `sum ${by(LABEL.vendor, 'job')} (up{job=~"${anyOf(jobs)}", ${LABEL.vendor}!=""} == bool 0)`,
  scrapeDurationMax: (jobs: readonly string[]) => `max ${by(LABEL.vendor, 'job')} (scrape_duration_seconds{job=~"${anyOf(jobs)}", ${LABEL.vendor}!=""})`,
  scrapeSamplesMax: (jobs: readonly string[]) => `max ${by(LABEL.vendor, 'job')} (scrape_samples_post_metric_relabeling{job=~"${anyOf(jobs)}", ${LABEL.vendor}!=""})`,
  // 0 for crawler namespaces without unattributed pods: "none", where no series would read as "not measured".
  unattributedBytes: `sum ${by(LABEL.namespace)} (${bothDirections(UNATTRIBUTED, '5m')} or 0 * ${RULE.podSentBytes})`,
  /**
   * The last hour's average rates, from the 5m rules' samples (recorded every `ruleIntervalSeconds`) rather than raw
   * [1h] windows: a series' samples averaged over the hour, counting the hour as full even when the series began
   * later in it (an hour with ten minutes of traffic averages over the hour, as a raw rate would).
   */
  bytes1h: (ruleIntervalSeconds: number) =>
    `sum ${by(LABEL.vendor)} (${byDirection(hourlyAverage(RULE.vendorSentBytes, ruleIntervalSeconds), hourlyAverage(RULE.vendorReceivedBytes, ruleIntervalSeconds))})`,
  requests1h: (ruleIntervalSeconds: number) => `sum ${by(LABEL.vendor)} (${hourlyAverage(RULE.requests, ruleIntervalSeconds)})`,
  // Traffic and request costs are summed under distinct labels, so a vendor priced one way is kept.
  spend1h: `sum ${by(LABEL.vendor)} (`
    + `label_replace(${RULE.bytes1h} * on (${LABEL.vendor}) ${RULE.pricePerGiB} / ${GIB}, "cost", "traffic", "", "")`
    + ` or label_replace(${RULE.requests1h} * on (${LABEL.vendor}) ${RULE.pricePer1kRequests} / 1000, "cost", "requests", "", ""))`,
} as const;

/** Destination value that the guard sums the destinations beyond a vendor's top N into. Never a host name. */
export const OTHER_DESTINATION = '(other)';

/**
 * Destination of the requests and connections of pods whose destination scrape fails (over its sample limit): their
 * totals are known, where they went is not. Never a host name.
 */
export const NOT_MEASURED_DESTINATION = '(not measured)';

/** How the destination rules bound the number of distinct `destination` values (resolved MetricsStack options). */
export interface DestinationGuard {
  /** 'registrable-domain': a host counts under its registrable domain (www.bbc.co.uk → bbc.co.uk). */
  readonly fold: 'none' | 'registrable-domain';
  /** Most destinations kept by name per vendor (and protocol); the rest are summed into OTHER_DESTINATION. 0: no limit. */
  readonly maxPerVendor: number;
  /** Destinations neither folded nor ranked away: the vendor gateways, which the misrouting alert reads. */
  readonly pinned: readonly string[];
  /** Public suffixes of more than one label (co.uk, com.au) the fold keeps whole. */
  readonly publicSuffixes: readonly string[];
}

/** No folding, no limit: every host by name. */
export const UNBOUNDED_DESTINATIONS: DestinationGuard = NO_GUARD;

/**
 * The regex (for label_replace, which anchors it) capturing a host's registrable domain: one label before a
 * listed multi-label public suffix, else the last two labels. The lazy prefix makes the suffix alternative win
 * (www.bbc.co.uk → bbc.co.uk, not co.uk). IP addresses (numeric last label), "unknown", hosts with a port and
 * "(other)" do not match and stay as they are.
 */
export function registrableDomainRegex(publicSuffixes: readonly string[]): string {
  const byTld = new Map<string, string[]>();
  for (const suffix of [...new Set(publicSuffixes.map(x => x.toLowerCase()))].sort()) {
    const dot = suffix.lastIndexOf('.');
    if (dot < 0) continue;
    const tld = suffix.slice(dot + 1);
    byTld.set(tld, [...(byTld.get(tld) ?? []), suffix.slice(0, dot)]);
  }
  const label = '[a-z0-9_-]+';
  const multi = [...byTld].map(([tld, heads]) => `(?:${heads.map(escapeRegex).join('|')})\\\\.${escapeRegex(tld)}`).join('|');
  const registrable = multi ? `${label}\\\\.(?:${multi})|${label}\\\\.[a-z][a-z0-9-]*` : `${label}\\\\.[a-z][a-z0-9-]*`;
  return `(?i)(?:${label}\\\\.)*?(${registrable})`;
}

/** Exact-match alternation of literal values, for a label_replace/matcher regex. */
function anyOf(values: readonly string[]): string {
  return values.map(escapeRegex).join('|');
}

/** Folds `destination` to the registrable domain, leaving pinned hosts whole. */
function foldToRegistrableDomain(expr: string, guard: DestinationGuard): string {
  const d = DESTINATION_LABEL;
  // The host stays in a label of its own until the caller's sum: label_replace must not output equal label sets.
  const kept = `label_replace(${expr}, "${d}_host", "$1", "${d}", "(.*)")`;
  // A leading "=" hides pinned hosts from the fold regex, which only matches host names.
  const marked = guard.pinned.length ? `label_replace(${kept}, "${d}", "=$1", "${d}", "(${anyOf(guard.pinned)})")` : kept;
  const folded = `label_replace(${marked}, "${d}", "$1", "${d}", "${registrableDomainRegex(guard.publicSuffixes)}")`;
  return guard.pinned.length ? `label_replace(${folded}, "${d}", "$1", "${d}", "=(.*)")` : folded;
}

/**
 * Bounds the destinations of the recorded per-destination sums (`destination` already resolved and folded): keeps the
 * pinned destinations and the top `maxPerVendor` others per `keep` group by name and sums the rest into "(other)".
 * `unless` (not a subtraction) makes "(other)" exactly the sum of the remaining series and absent when nothing remains.
 */
export function boundDestinations(perDestination: string, keep: readonly string[], guard: DestinationGuard): string {
  const d = DESTINATION_LABEL;
  const summed = `sum ${by(...keep, d)} (${perDestination})`;
  if (guard.maxPerVendor <= 0) return summed;
  const pinned = guard.pinned.map(h => `label_replace(vector(1), "${d}", "${h}", "", "")`).join(' or ');
  const ranked = pinned ? `(${summed} unless on (${d}) (${pinned}))` : summed;
  const top = `topk ${by(...keep)} (${guard.maxPerVendor}, ${ranked})`;
  return [
    ...(pinned ? [`(${summed} and on (${d}) (${pinned}))`] : []),
    top,
    `label_replace(sum ${by(...keep)} (${ranked} unless ${top}), "${d}", "${OTHER_DESTINATION}", "", "")`,
  ].join(' or ');
}

/**
 * The per-destination rules. `destinations` (intermediate): requests by host and connections by server name from the
 * destination job, summed per vendor, protocol and the Istio tags before the label functions run (on a few series per
 * host, not per pod), folded if asked; plus, as destination "(not measured)", the requests and connections of pods
 * whose destination scrape is failing (`up == 0` there, from the totals), so they always add up to the vendor's
 * total. `destinationRequests` (the contract's): the bound over the recorded sums.
 */
export function destinationRuleExprs(guard: DestinationGuard, destinationJob: string): { destinations: string; destinationRequests: string } {
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
    destinationRequests: boundDestinations(INTERMEDIATE.destinations, keep, guard),
  };
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

/** Escapes a literal for a PromQL (RE2) regex inside a double-quoted string. */
export function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');
}

/** Prometheus job and metrics of the demo gateways (gateway/README.md): what they served, by their own count. */
export const DEMO_GATEWAY_JOB = 'demo-gateways';
export const DEMO_GATEWAY_METRICS = {
  /** Bytes on client connections, TLS records included, by `vendor` and `direction` (`sent` to the crawlers, `received`). */
  wireBytes: 'gateway_wire_bytes_total',
} as const;

// ---- scale-out: several Prometheus shards and a global layer ----

/** External label a shard adds to everything it sends: partials of different shards never collide. */
export const SHARD_LABEL = 'prometheus_shard';

/** Scrape job of the global Prometheus over the shards' own /metrics. */
export const SHARDS_JOB = 'prometheus-shards';

/**
 * Name under which a shard records its partial of a rule that the global layer sums: `a:b:c` becomes
 * `a_shard:b:c`, so a partial is never mistaken for (or summed with) the total.
 */
export function shardPartial(rule: string): string {
  const [level, ...rest] = rule.split(':');
  return [`${level}_shard`, ...rest].join(':');
}

/** Expressions of the global layer over what the shards send. */
export const SHARDED_EXPR = {
  /** A sum over all shards of per-shard sums: exact for sums and counts (never for ratios or quantiles). */
  sumOfPartials: (rule: string, labels: readonly string[]) => `sum ${by(...labels)} (${shardPartial(rule)})`,
} as const;

/** Alerts of the scale-out setup: series lost between shards, the global layer and remote stores. */
export const SCALE_OUT_ALERT_EXPR = {
  shardDown: `up{job="${SHARDS_JOB}"} == 0`,
  remoteWriteFailing: 'sum by (instance, remote_name, url) (rate(prometheus_remote_storage_samples_failed_total[5m])) > 0',
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
