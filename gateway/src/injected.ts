
/**
 * Request headers a client never needs to send and an Istio sidecar adds on its way out: Envoy's own `x-envoy-*`
 * (peer metadata `x-envoy-peer-metadata` / `-id`, `x-envoy-attempt-count`, `x-envoy-expected-rq-timeout-ms`,
 * `x-envoy-decorator-operation`), `x-request-id`, `x-forwarded-*` and trace context. With the transparent
 * `proxyHeaders` on the crawler pods none of them reaches a site except `x-forwarded-proto` (Envoy sets it when absent,
 * istio/istio `tests/integration/pilot/headers_test.go`), and trace context only where the mesh traces.
 *
 * The synthetic crawler (crawler/src/client.ts) sends only `x-proxy-vendor`, `user-agent` and `accept` (plus `host`,
 * and `proxy-authorization` on CONNECT and absolute-form requests, crawler/src/proxy.ts and the proxy agents), so any
 * header counted here was added between the crawler and the gateway.
 */
const EXACT = new Set([
  'x-request-id',
  'x-forwarded-proto',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-client-cert',
  'traceparent',
  'tracestate',
  'b3',
  'x-ot-span-context',
  'x-cloud-trace-context',
  'sw8',
  'uber-trace-id',
]);
const PREFIXES = ['x-envoy-', 'x-b3-'];

/**
 * Headers a default sidecar adds, counted at 0 from the start: their series exist before the first one is seen, so
 * `increase()` counts the first too, and Prometheus shows the demo gateway measures them.
 */
export const KNOWN_INJECTED_HEADERS = [
  'x-envoy-peer-metadata',
  'x-envoy-peer-metadata-id',
  'x-envoy-attempt-count',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-decorator-operation',
  'x-request-id',
  'x-forwarded-proto',
  'x-forwarded-for',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-sampled',
  'traceparent',
] as const;

/** Whether a (lower-case) request header name is one a sidecar adds and our crawler never sends. */
export function isInjectedHeader(name: string): boolean {
  return EXACT.has(name) || PREFIXES.some((p) => name.startsWith(p));
}

/** The injected header names of a request, lower-case, each once, sorted. */
export function injectedHeaders(headers: NodeJS.Dict<string | string[]>): string[] {
  const found = new Set<string>();
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (isInjectedHeader(lower)) found.add(lower);
  }
  return [...found].sort();
}
