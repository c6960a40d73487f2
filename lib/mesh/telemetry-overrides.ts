import {
  TelemetrySpecMetricsOverrides,
  TelemetrySpecMetricsOverridesMatchMetric as Metric,
  TelemetrySpecMetricsOverridesMatchMode as Mode,
  TelemetrySpecMetricsOverridesTagOverridesOperation as Operation,
} from '../../imports/telemetry.istio.io';
import { CONTRACT_TAGS, ISTIO, ISTIO_STANDARD_TAGS, LABEL } from '../../core/metric-contract';

/** Which Istio tags crawler sidecars put on their metrics. */
export type MetricTags = 'minimal' | 'standard';

/**
 * The metrics that carry destinations: the two counters of the destination scrape job. Every other metric stays free
 * of tags that grow with the hosts crawled, so a pod's totals cost the same for 10 or 100,000 destinations.
 */
const SNI_METRIC = Metric.TCP_UNDERSCORE_CLOSED_UNDERSCORE_CONNECTIONS;
const HOST_METRIC = Metric.REQUEST_UNDERSCORE_COUNT;

/**
 * The Telemetry API's name (`match.metric`) of each Istio metric of the contract, in the order the crawler
 * namespaces' Telemetry overrides them.
 * @internal
 */
export const TELEMETRY_METRIC: Readonly<Record<keyof typeof ISTIO, Metric>> = {
  requests: Metric.REQUEST_UNDERSCORE_COUNT,
  requestBytes: Metric.REQUEST_UNDERSCORE_SIZE,
  responseBytes: Metric.RESPONSE_UNDERSCORE_SIZE,
  duration: Metric.REQUEST_UNDERSCORE_DURATION,
  tcpOpened: Metric.TCP_UNDERSCORE_OPENED_UNDERSCORE_CONNECTIONS,
  tcpSentBytes: Metric.TCP_UNDERSCORE_SENT_UNDERSCORE_BYTES,
  tcpReceivedBytes: Metric.TCP_UNDERSCORE_RECEIVED_UNDERSCORE_BYTES,
  tcpClosed: Metric.TCP_UNDERSCORE_CLOSED_UNDERSCORE_CONNECTIONS,
};

/** CEL expression of the host tag: `:authority` of the request (istio/api `telemetry/v1alpha1/telemetry.proto`). */
export const HOST_EXPRESSION = 'request.host';

/**
 * The metric overrides of the crawler namespaces' Telemetry: the SNI tag on closed TCP connections, the request-host
 * tag on request counts, and with `'minimal'` the removal of every standard tag the contract does not read.
 */
export function metricOverrides(tags: MetricTags, sniExpression: string): TelemetrySpecMetricsOverrides[] {
  const upsert = (metric: Metric, tag: string, value: string) => ({
    match: { metric, mode: Mode.CLIENT },
    tagOverrides: { [tag]: { operation: Operation.UPSERT, value } },
  });
  const ours = [upsert(SNI_METRIC, LABEL.sni, sniExpression), upsert(HOST_METRIC, LABEL.host, HOST_EXPRESSION)];
  return tags === 'minimal' ? [...minimalTagOverrides(), ...ours, ...disabledMetrics()] : ours;
}

const remove = (tags: readonly string[]) => Object.fromEntries(tags.map(t => [t, { operation: Operation.REMOVE }]));

/**
 * Removes from outbound metrics the standard tags the contract does not read: first those no metric needs,
 * then, per metric, the tags only other metrics need. Later overrides add to earlier ones.
 */
function minimalTagOverrides(): TelemetrySpecMetricsOverrides[] {
  const needed = new Set(Object.values(CONTRACT_TAGS).flat());
  const perMetric = Object.entries(TELEMETRY_METRIC).map(([key, metric]) => [metric, CONTRACT_TAGS[key as keyof typeof ISTIO]] as const);
  return [
    { match: { metric: Metric.ALL_UNDERSCORE_METRICS, mode: Mode.CLIENT }, tagOverrides: remove(ISTIO_STANDARD_TAGS.filter(t => !needed.has(t))) },
    ...perMetric
      .map(([metric, keep]) => [metric, [...needed].filter(t => !keep.includes(t) && tagsOf(metric).includes(t))] as const)
      .filter(([, extra]) => extra.length > 0)
      .map(([metric, extra]) => ({ match: { metric, mode: Mode.CLIENT }, tagOverrides: remove(extra) })),
  ];
}

/** Tags the sidecar puts on a metric: TCP metrics have no response code; our SNI and host tags are on one metric each. */
function tagsOf(metric: Metric): readonly string[] {
  const standard = metric.startsWith('TCP_') ? ISTIO_STANDARD_TAGS.filter(t => t !== 'response_code' && t !== 'grpc_response_status') : ISTIO_STANDARD_TAGS;
  return [...standard, ...(metric === SNI_METRIC ? [LABEL.sni] : []), ...(metric === HOST_METRIC ? [LABEL.host] : [])];
}

/** Metrics no rule reads: inbound (server side) metrics of crawler pods. */
function disabledMetrics(): TelemetrySpecMetricsOverrides[] {
  return [{ match: { metric: Metric.ALL_UNDERSCORE_METRICS, mode: Mode.SERVER }, disabled: true }];
}
