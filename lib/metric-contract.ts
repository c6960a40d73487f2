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
} as const;

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

/** Name of the scrape job for crawler sidecars. */
export const SCRAPE_JOB = 'crawler-sidecars';
