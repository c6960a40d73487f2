/**
 * The metric contract: names of the Istio metrics we build on, their tags, the labels our scrape jobs add and the
 * values they take. A label or metric rename is one edit here. The recording rules (names and expressions) are in
 * rules.ts, the alerts in alerts.ts, the dashboards' queries in dashboards/queries.ts.
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

/** Seconds in the month used for projections (30 days). */
export const MONTH_SECONDS = 30 * 86400;

/** Destination value that the guard sums the destinations beyond a vendor's top N into. Never a host name. */
export const OTHER_DESTINATION = '(other)';

/**
 * Destination of the requests and connections of pods whose destination scrape fails (over its sample limit): their
 * totals are known, where they went is not. Never a host name.
 */
export const NOT_MEASURED_DESTINATION = '(not measured)';

/** Prometheus job and metrics of the demo gateways (gateway/README.md): what they served, by their own count. */
export const DEMO_GATEWAY_JOB = 'demo-gateways';
export const DEMO_GATEWAY_METRICS = {
  /** Bytes on client connections, TLS records included, by `vendor` and `direction` (`sent` to the crawlers, `received`). */
  wireBytes: 'gateway_wire_bytes_total',
  /**
   * Requests that reached a demo gateway with a header a sidecar adds and the crawler never sends, by `vendor` and
   * lower-case `header`: 0 everywhere when the crawler sidecars are transparent.
   */
  injectedHeaders: 'gateway_injected_headers_total',
} as const;

/**
 * Scrape job and series of the usage collector (`VendorUsage`, collector/README.md): what each vendor's usage source
 * says it billed, labelled `proxy_vendor` and `account`, and the source's health.
 */
export const USAGE_JOB = 'proxy-usage';
export const ACCOUNT_LABEL = 'account';
export const USAGE_METRICS = {
  /** Bytes billed that became known since the collector started (net of `withdrawnBytes`). */
  billedBytes: 'proxy_usage_billed_bytes_total',
  billedRequests: 'proxy_usage_billed_requests_total',
  /** What revisions took back from buckets already counted. */
  withdrawnBytes: 'proxy_usage_withdrawn_bytes_total',
  withdrawnRequests: 'proxy_usage_withdrawn_requests_total',
  /** Unix time of the source's last successful poll; 0 before the first. */
  lastSuccess: 'proxy_usage_last_success_timestamp_seconds',
  /** Start of the newest bucket with data. */
  newestBucket: 'proxy_usage_newest_bucket_timestamp_seconds',
  /** Failed polls by `kind`: network, timeout, http, auth, malformed, file. */
  errors: 'proxy_usage_errors_total',
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
