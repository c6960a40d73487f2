import {
  EnvoyFilterSpec,
  EnvoyFilterSpecConfigPatchesApplyTo as ApplyTo,
  EnvoyFilterSpecConfigPatchesMatchContext as Context,
  EnvoyFilterSpecConfigPatchesPatchOperation as Operation,
} from '../../imports/networking.istio.io';
import { VendorEndpoint } from '../../core/vendor';

/** Name Istio gives the listener that takes every outbound connection first (istio/istio `pilot/pkg/model/listener.go`). */
export const VIRTUAL_OUTBOUND_LISTENER = 'virtualOutbound';
/** Virtual host of a sidecar route configuration that sends unknown hosts to PassthroughCluster under ALLOW_ANY. */
export const ALLOW_ANY_VHOST = 'allow_any';
export const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';

/** Envoy's name of the outbound cluster of a service port (istio/istio `pilot/pkg/model/service.go` BuildSubsetKey). */
export function outboundCluster(endpoint: VendorEndpoint): string {
  return `outbound|${endpoint.port}||${endpoint.host}`;
}

/**
 * Adds Envoy's TLS inspector to `virtualOutbound`, the listener where direct HTTPS lands (through its passthrough
 * filter chain) when no listener exists for its port. Istio builds that listener without listener filters
 * (istio/istio `pilot/pkg/networking/core/listener_builder.go` buildVirtualOutboundListener), so without this
 * `connection.requested_server_name` is empty (istio/istio#23176). A LISTENER MERGE appends to the repeated
 * `listener_filters`. The inspector waits for the client's first bytes; `continue_on_listener_filters_timeout`
 * lets server-first protocols (SMTP, MySQL) through after `timeout` instead of closing them; Istio's own
 * default for this listener is no timeout at all (`meshConfig.protocolDetectionTimeout` 0s).
 */
export function sniInspectorSpec(timeout: string): EnvoyFilterSpec {
  return {
    configPatches: [{
      applyTo: ApplyTo.LISTENER,
      match: { context: Context.SIDECAR_UNDERSCORE_OUTBOUND, listener: { name: VIRTUAL_OUTBOUND_LISTENER } },
      patch: {
        operation: Operation.MERGE,
        value: {
          listener_filters: [{
            name: TLS_INSPECTOR,
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' },
          }],
          listener_filters_timeout: timeout,
          continue_on_listener_filters_timeout: true,
        },
      },
    }],
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
 * `timeout: 0s` disables the route timeout that would cut long tunnels and downloads.
 */
export function gatewayInspectionSpec(endpoint: VendorEndpoint, routePrefix: string): EnvoyFilterSpec {
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
      value: { name: `${routePrefix}-${name}`, match, route: { cluster, timeout: '0s', idle_timeout: GATEWAY_IDLE_TIMEOUT, ...extra } },
    },
  });
  return {
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
                explicit_http_config: { http_protocol_options: { send_fully_qualified_url: true } },
              },
            },
          },
        },
      },
    ],
  };
}
