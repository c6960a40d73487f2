import {
  EnvoyFilterSpec,
  EnvoyFilterSpecConfigPatchesApplyTo as ApplyTo,
  EnvoyFilterSpecConfigPatchesMatchContext as Context,
  EnvoyFilterSpecConfigPatchesPatchOperation as Operation,
} from '../../imports/networking.istio.io';
import { VENDOR_POD_LABEL } from '../../core/metric-contract';
import { VendorEndpoint } from '../../core/vendor';

/** Name Istio gives the listener that takes every outbound connection first (istio/istio `pilot/pkg/model/listener.go`). */
export const VIRTUAL_OUTBOUND_LISTENER = 'virtualOutbound';
/** Virtual host of a sidecar route configuration that sends unknown hosts to PassthroughCluster under ALLOW_ANY. */
export const ALLOW_ANY_VHOST = 'allow_any';
export const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';
export const HTTP_CONNECTION_MANAGER = 'envoy.filters.network.http_connection_manager';

/** Envoy's name of the outbound cluster of a service port (istio/istio `pilot/pkg/model/service.go` BuildSubsetKey). */
export function outboundCluster(endpoint: VendorEndpoint): string {
  return `outbound|${endpoint.port}||${endpoint.host}`;
}

/**
 * Request headers removed on the routes and virtual hosts we patch, none of which lead to a mesh peer:
 * - `x-forwarded-proto`: Envoy sets it when the request has none (`conn_manager_utility.cc` mutateRequestHeaders) and
 *   no setting turns it off (istio/istio `tests/integration/pilot/headers_test.go`: "Envoy has no way to turn this
 *   off"). A crawler that sets it itself loses it there too: crawlers do not send proxy headers.
 * - `x-envoy-peer-metadata` / `-id`: with `metadataExchangeHeaders: IN_MESH` Istio skips them for PassthroughCluster
 *   and MESH_EXTERNAL clusters only (istio/proxy `peer_metadata/filter.cc` skipMXHeaders); an in-cluster vendor gateway
 *   is a Kubernetes Service, and a crawler pod without the annotation sends them everywhere. The peer metadata filter
 *   runs before the router, whose route and virtual host header removal (finalizeRequestHeaders) takes them out.
 */
export const UNWANTED_REQUEST_HEADERS = ['x-forwarded-proto', 'x-envoy-peer-metadata', 'x-envoy-peer-metadata-id'];

/** Envoy's HTTP/1 formatter that keeps header names as the client wrote them. */
const PRESERVE_CASE = {
  stateful_formatter: {
    name: 'preserve_case',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.http.header_formatters.preserve_case.v3.PreserveCaseFormatterConfig' },
  },
};

/**
 * Keeps requests on the sidecar's HTTP listeners as the crawler wrote them, for every pod of the namespace:
 * - the HTTP connection manager of each port normalizes no path: Istio sets `normalize_path: true` on every HTTP
 *   connection manager, outbound included (istio/istio `listener_builder.go` buildHTTPConnectionManager, from
 *   `meshConfig.pathNormalization`, default BASE), which rewrites `/a/../b` before it reaches the site;
 * - the `allow_any` virtual host of each port (PassthroughCluster: never a mesh peer) drops UNWANTED_REQUEST_HEADERS
 *   (Istio adds no header mutation of its own there: `httproute.go` buildCatchAllVirtualHost).
 */
export function transparentHttpSpec(ports: readonly number[]): EnvoyFilterSpec {
  return {
    configPatches: ports.flatMap(port => [
      {
        applyTo: ApplyTo.NETWORK_UNDERSCORE_FILTER,
        match: { context: Context.SIDECAR_UNDERSCORE_OUTBOUND, listener: { portNumber: port, filterChain: { filter: { name: HTTP_CONNECTION_MANAGER } } } },
        patch: {
          operation: Operation.MERGE,
          value: {
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              normalize_path: false,
              merge_slashes: false,
              path_with_escaped_slashes_action: 'KEEP_UNCHANGED',
            },
          },
        },
      },
      {
        applyTo: ApplyTo.VIRTUAL_UNDERSCORE_HOST,
        match: { context: Context.SIDECAR_UNDERSCORE_OUTBOUND, routeConfiguration: { portNumber: port, vhost: { name: ALLOW_ANY_VHOST } } },
        patch: { operation: Operation.MERGE, value: { request_headers_to_remove: [...UNWANTED_REQUEST_HEADERS] } },
      },
    ]),
  };
}

/** How long an inspected gateway's idle tunnel or request may stay open: Istio's default idle timeout (1h). */
const GATEWAY_IDLE_TIMEOUT = '3600s';

/**
 * Makes a sidecar's HTTP listener on a gateway port forward what a forward proxy expects, instead of routing by
 * the target host. An absolute-form request (`GET http://site/`) or a CONNECT has the target as `:authority`, so
 * it lands in the `allow_any` virtual host of route configuration `<port>` and would go to PassthroughCluster in
 * origin form (and a CONNECT, which has no path, would match no route: 404 NR). Two routes inserted first there
 * send both to the gateway's own cluster, so `destination_service` stays the gateway:
 * - `connect_matcher` with `upgrade_configs: CONNECT` and no `connect_config`: Envoy (>= 1.30) forwards the
 *   CONNECT upstream instead of terminating it (envoy `docs/root/intro/arch_overview/http/upgrades.rst`,
 *   envoyproxy/envoy#32939); the tunnel is one request, with the gateway's response code;
 * - `prefix: /` for absolute-form requests; the cluster's `send_fully_qualified_url` keeps them absolute-form
 *   upstream. A map MERGE replaces Istio's `HttpProtocolOptions` whole, so the patch carries all it needs.
 * `timeout: 0s` disables the route timeout that would cut long tunnels and downloads. Only the vendor's own pods get
 * the routes (`workloadSelector`): route configuration `<port>` is every pod's, so without it plain HTTP from any
 * vendor's pods to any site on this port would go to this gateway.
 */
export function gatewayInspectionSpec(vendor: string, endpoint: VendorEndpoint, routePrefix: string): EnvoyFilterSpec {
  const cluster = outboundCluster(endpoint);
  const inAllowAny = {
    context: Context.SIDECAR_UNDERSCORE_OUTBOUND,
    routeConfiguration: { portNumber: endpoint.port, vhost: { name: ALLOW_ANY_VHOST } },
  };
  const route = (name: string, match: object, extra: object = {}) => ({
    applyTo: ApplyTo.HTTP_UNDERSCORE_ROUTE,
    match: inAllowAny,
    patch: {
      operation: Operation.INSERT_UNDERSCORE_FIRST,
      value: {
        name: `${routePrefix}-${name}`, match, route: { cluster, timeout: '0s', idle_timeout: GATEWAY_IDLE_TIMEOUT, ...extra },
        request_headers_to_remove: [...UNWANTED_REQUEST_HEADERS],
      },
    },
  });
  return {
    workloadSelector: { labels: { [VENDOR_POD_LABEL]: vendor } },
    configPatches: [
      // INSERT_FIRST puts each route before the ones already there: CONNECT ends up first.
      route('forward', { prefix: '/' }),
      route('connect', { connect_matcher: {} }, { upgrade_configs: [{ upgrade_type: 'CONNECT' }] }),
      {
        applyTo: ApplyTo.CLUSTER,
        match: { context: Context.SIDECAR_UNDERSCORE_OUTBOUND, cluster: { name: cluster } },
        patch: {
          operation: Operation.MERGE,
          value: {
            typed_extension_protocol_options: {
              'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
                '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
                common_http_protocol_options: { idle_timeout: GATEWAY_IDLE_TIMEOUT },
                // Istio puts the preserve_case formatter on HTTP clusters (>= 1.25); this MERGE replaces its options whole.
                explicit_http_config: { http_protocol_options: { send_fully_qualified_url: true, header_key_format: PRESERVE_CASE } },
              },
            },
          },
        },
      },
    ],
  };
}
