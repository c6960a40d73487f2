import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import {
  EnvoyFilter, ServiceEntry, ServiceEntrySpecLocation, ServiceEntrySpecResolution, Sidecar, SidecarSpecOutboundTrafficPolicyMode,
} from '../imports/networking.istio.io';
import { Telemetry } from '../imports/telemetry.istio.io';
import { VENDOR_POD_LABEL } from '../core/metric-contract';
import { gatewayInspectionSpec, transparentHttpSpec } from './mesh/envoy-filters';
import { MetricTags, metricOverrides } from './mesh/telemetry-overrides';
import { CrawlerEgressPolicies } from './network/crawler-egress-policies';
import { CrawlerEgressOptions } from './network/network-policy-options';
import { DEFAULT_DNS_PEERS, NetworkPeer, checkPeers, podsIn } from './network/peers';
import { RESERVED_PORTS, Vendor, VendorCatalog, VendorEndpoint } from '../core/vendor';
import { PropertyChecks, PropertyError, checkDnsLabel, checkNonEmpty, checkNumber, checkUnique } from '../core/validation';

export type { MetricTags } from './mesh/telemetry-overrides';

/** Pod Security Standards level. */
export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

// The defaults of MeshTelemetry's props, which their docs name.
/** Namespace of the crawler pods (MeshTelemetry's, VendorCrawler's and DemoGateway's default). */
export const DEFAULT_CRAWLER_NAMESPACE = 'crawlers';
/** Pod Security level of the crawler namespaces: Istio's init container needs NET_ADMIN and NET_RAW. */
export const DEFAULT_POD_SECURITY_LEVEL: PodSecurityLevel = 'privileged';
/** CEL expression of the SNI tag: the server name the crawler's ClientHello asks for. */
export const DEFAULT_SNI_EXPRESSION = 'connection.requested_server_name';
/** Tag set of the crawler sidecars' metrics. */
export const DEFAULT_METRIC_TAGS: MetricTags = 'minimal';
/** Ports on which crawler sidecars parse direct plain HTTP. */
export const DEFAULT_HTTP_PORTS: readonly number[] = [80];
/** Ports on which crawler sidecars read the server name of direct TLS. */
export const DEFAULT_TLS_PORTS: readonly number[] = [443];
/** Hosts outside the crawler namespace that crawler sidecars get configuration for. */
export const DEFAULT_EXTRA_EGRESS_HOSTS: readonly string[] = ['istio-system/*'];
/** istiod's pods, which crawler pods may reach when `crawlerEgress` restricts them. */
export const DEFAULT_ISTIOD_PEERS: readonly NetworkPeer[] = [podsIn('istio-system', { app: 'istiod' })];

export interface MeshTelemetryProps {
  /**
   * The vendor model; every gateway endpoint (`host:port`) outside the cluster gets a ServiceEntry of its own in
   * each crawler namespace, TCP or (with `gateway.inspect: 'http'`) HTTP; an in-cluster gateway Service
   * (`<service>.<namespace>.svc.cluster.local`) is imported through the Sidecar's egress hosts instead.
   */
  readonly vendors: VendorCatalog;
  /**
   * Namespaces the crawler pods run in.
   * @default [DEFAULT_CRAWLER_NAMESPACE] (['crawlers'])
   */
  readonly namespaces?: string[];
  /**
   * Create the Namespace objects. Turn off when the namespaces are managed elsewhere; they must then
   * carry the injection label themselves.
   * @default true
   */
  readonly createNamespaces?: boolean;
  /**
   * Istio revision to inject (`istio.io/rev=<revision>`).
   * @default - the default revision (`istio-injection=enabled`)
   */
  readonly revision?: string;
  /**
   * Pod Security Standards level enforced on the crawler namespaces. Istio's init container needs
   * NET_ADMIN and NET_RAW, which only `privileged` admits; with the Istio CNI plugin `baseline` or
   * `restricted` work. Whatever the level, the namespaces warn about pod templates that are not
   * `restricted`.
   * @default DEFAULT_POD_SECURITY_LEVEL ('privileged')
   */
  readonly podSecurityLevel?: PodSecurityLevel;
  /**
   * CEL expression for the `destination_sni` tag, which only closed TCP connections
   * (`istio_tcp_connections_closed_total`) carry: the server name of TLS connections the crawler opens itself
   * (HTTPS without a vendor gateway).
   * @default DEFAULT_SNI_EXPRESSION ('connection.requested_server_name')
   */
  readonly sniExpression?: string;
  /**
   * Ports on which crawlers speak plain HTTP to sites directly. A sidecar parses HTTP (requests, Host header,
   * response codes) only on ports where it has an HTTP listener, which Istio builds only for ports of visible
   * HTTP services; each port here gets an address-less HTTP ServiceEntry (host `http-<port>.proxy-telemetry.invalid`)
   * that provides one, while unknown hosts still pass through (ALLOW_ANY). On other ports plain HTTP is seen as
   * TCP connections to "unknown". Every connection to these ports is parsed as HTTP: do not list ports that
   * carry TLS or other protocols. An empty list turns HTTP parsing of direct traffic off.
   * @default DEFAULT_HTTP_PORTS ([80])
   */
  readonly httpPorts?: number[];
  /**
   * Ports on which crawlers open TLS to sites themselves (HTTPS without a vendor gateway). Each port gets an
   * address-less TLS ServiceEntry (host `tls-<port>.proxy-telemetry.invalid`): Istio then builds a listener for the
   * port with its own TLS inspector and a passthrough default chain that carries the stats filter (istio/istio
   * `listener.go` buildListenerFromEntry), so the SNI tag names the site; other sites still pass through
   * (ALLOW_ANY). Nothing else is touched: connections on other ports are handed to their listener at once. A
   * connection on these ports that never sends a ClientHello waits for one (Istio sets no listener-filter timeout
   * there): do not list ports that carry server-first protocols. An empty list turns SNI destinations off.
   * @default DEFAULT_TLS_PORTS ([443])
   */
  readonly tlsPorts?: number[];
  /**
   * Hosts outside the crawler namespace that crawler sidecars need configuration for, in Sidecar
   * `namespace/host` form. Unknown external hosts still work through ALLOW_ANY.
   * @default DEFAULT_EXTRA_EGRESS_HOSTS (['istio-system/*'])
   */
  readonly extraEgressHosts?: string[];
  /**
   * Restrict crawler pods' egress with NetworkPolicies: each vendor's pods (label `proxy-vendor`) may
   * reach DNS, istiod and that vendor's gateway ports, nothing else. Every vendor needs endpoints.
   * @default - egress is not restricted
   */
  readonly crawlerEgress?: CrawlerEgressOptions;
  /**
   * `'minimal'`: crawler sidecars drop every standard tag the metric contract does not read (source and
   * destination workload tags, response flags, ...) and keep on each metric only the tags its rules read:
   * response_code on request sizes only (their count is the requests by code), not on request counts, which
   * carry the destination service and the request host instead; the SNI tag on closed TCP connections; the
   * duration histogram per pod only. Inbound (server) metrics are not emitted. Envoy sums what a removed tag
   * told apart, so no traffic is lost; each pod exposes about 20 times fewer series.
   * `'standard'`: Istio's full tag set, for tools that read it (e.g. Kiali's graph of the crawler namespaces).
   * @default DEFAULT_METRIC_TAGS ('minimal')
   */
  readonly metricTags?: MetricTags;
}

/**
 * The Istio side of proxy telemetry, per crawler namespace: the injection label, a Telemetry resource with the
 * tags the metric contract needs, a Sidecar scope with ALLOW_ANY, an HTTP listener on each of `httpPorts`, a TLS
 * listener (with its own TLS inspector) on each of `tlsPorts`, and per vendor gateway endpoint a ServiceEntry (TCP,
 * or HTTP for `gateway.inspect: 'http'`; none for an in-cluster Service, which the Sidecar imports instead) plus, for
 * `gateway.inspect: 'http'`, the EnvoyFilter routes that keep CONNECT and absolute-form requests intact.
 */
export class MeshTelemetry extends Construct {
  /** Crawler namespaces. */
  public readonly namespaces: string[];
  /** Pod Security level enforced on the crawler namespaces. */
  public readonly podSecurityLevel: PodSecurityLevel;
  /** CEL expression of the SNI tag. */
  public readonly sniExpression: string;
  /** Tag set of the crawler sidecars' metrics. */
  public readonly metricTags: MetricTags;
  /** Ports on which the sidecars parse direct plain HTTP. */
  public readonly httpPorts: readonly number[];
  /** Ports on which the sidecars read the server name of direct TLS. */
  public readonly tlsPorts: readonly number[];

  constructor(scope: Construct, id: string, props: MeshTelemetryProps) {
    super(scope, id);
    // Every invalid prop is reported at synthesis, all at once; construction goes on with defaults.
    const v = new PropertyChecks(this);
    this.namespaces = [...v.value(() => {
      const namespaces = checkNonEmpty('namespaces', props.namespaces ?? [DEFAULT_CRAWLER_NAMESPACE]);
      namespaces.forEach((ns, i) => checkDnsLabel(`namespaces[${i}]`, ns));
      checkUnique('namespaces', namespaces);
      return namespaces;
    }, [DEFAULT_CRAWLER_NAMESPACE])];
    if (props.revision !== undefined) v.run(() => checkDnsLabel('revision', props.revision!));
    this.podSecurityLevel = v.value(() => {
      const level = props.podSecurityLevel ?? DEFAULT_POD_SECURITY_LEVEL;
      if (!['privileged', 'baseline', 'restricted'].includes(level)) throw new PropertyError('podSecurityLevel', level, 'must be one of privileged, baseline, restricted');
      return level;
    }, DEFAULT_POD_SECURITY_LEVEL);
    this.sniExpression = v.value(() => {
      const expression = props.sniExpression ?? DEFAULT_SNI_EXPRESSION;
      if (expression.trim() === '') throw new PropertyError('sniExpression', expression, 'must be a CEL expression');
      return expression;
    }, DEFAULT_SNI_EXPRESSION);
    this.metricTags = v.value(() => {
      const tags = props.metricTags ?? DEFAULT_METRIC_TAGS;
      if (tags !== 'minimal' && tags !== 'standard') throw new PropertyError('metricTags', tags, 'must be \'minimal\' or \'standard\'');
      return tags;
    }, DEFAULT_METRIC_TAGS);
    this.httpPorts = v.value(() => checkListenerPorts('httpPorts', props.httpPorts ?? [...DEFAULT_HTTP_PORTS], props.vendors,
      port => (port === 443 ? 'is the HTTPS port: the sidecar cannot parse HTTP the crawler encrypts itself' : undefined),
      '; set \'gateway.inspect: http\' on the vendor to parse its traffic'), DEFAULT_HTTP_PORTS);
    this.tlsPorts = v.value(() => checkListenerPorts('tlsPorts', props.tlsPorts ?? [...DEFAULT_TLS_PORTS], props.vendors,
      port => (this.httpPorts.includes(port) ? 'is also in \'httpPorts\': a port is parsed as HTTP or inspected as TLS, not both' : undefined)), DEFAULT_TLS_PORTS);
    const extraEgressHosts = props.extraEgressHosts ?? DEFAULT_EXTRA_EGRESS_HOSTS;
    extraEgressHosts.forEach((h, i) => {
      if (!/^[^/\s]+\/[^/\s]+$/.test(h)) v.fail(`extraEgressHosts[${i}]`, h, 'must be \'namespace/host\', e.g. \'istio-system/*\'');
    });

    let egress: { dns: readonly NetworkPeer[]; istiod: readonly NetworkPeer[] } | undefined;
    if (props.crawlerEgress) {
      const direct = props.vendors.vendors.find(vendor => vendor.endpoints.length === 0);
      if (direct) {
        v.fail('crawlerEgress', props.crawlerEgress, `limits crawlers to their vendor gateways, but vendor '${direct.name}' has no endpoints`);
      }
      egress = {
        dns: v.value(() => checkPeers('crawlerEgress.dns', props.crawlerEgress!.dns ?? [...DEFAULT_DNS_PEERS]), DEFAULT_DNS_PEERS),
        istiod: v.value(() => checkPeers('crawlerEgress.istiod', props.crawlerEgress!.istiod ?? [...DEFAULT_ISTIOD_PEERS]), []),
      };
    }

    // Ports where the sidecars parse HTTP to an inspected gateway.
    const inspectedPorts = props.vendors.vendors.filter(v => v.inspected).flatMap(v => v.endpoints.map(e => e.port));
    // In-cluster gateways: the crawler sidecars must import their Services.
    const gatewayServices = props.vendors.vendors.flatMap(v => v.endpoints.filter(e => e.serviceNamespace).map(e => `${e.serviceNamespace}/${e.host}`));
    for (const ns of this.namespaces) {
      const scopeNs = new Construct(this, ns);
      if (props.createNamespaces ?? true) {
        new kplus.Namespace(scopeNs, 'Namespace', {
          metadata: {
            name: ns,
            labels: {
              ...(props.revision ? { 'istio.io/rev': props.revision } : { 'istio-injection': 'enabled' }),
              'pod-security.kubernetes.io/enforce': this.podSecurityLevel,
              'pod-security.kubernetes.io/warn': 'restricted',
            },
          },
        });
      }
      this.addTelemetry(scopeNs, ns);
      new Sidecar(scopeNs, 'Sidecar', {
        metadata: { name: 'default', namespace: ns },
        spec: {
          outboundTrafficPolicy: { mode: SidecarSpecOutboundTrafficPolicyMode.ALLOW_UNDERSCORE_ANY },
          egress: [{ hosts: [...new Set(['./*', ...extraEgressHosts, ...gatewayServices])] }],
        },
      });
      for (const port of this.httpPorts) portEntry(scopeNs, ns, port, 'HTTP');
      for (const port of this.tlsPorts) portEntry(scopeNs, ns, port, 'TLS');
      const httpListenerPorts = [...new Set([...this.httpPorts, ...inspectedPorts])].sort((a, b) => a - b);
      if (httpListenerPorts.length > 0) {
        new EnvoyFilter(scopeNs, 'TransparentHttp', {
          metadata: { name: 'proxy-telemetry-transparent-http', namespace: ns, labels: PART_OF },
          spec: transparentHttpSpec(httpListenerPorts),
        });
      }
      for (const vendor of props.vendors.vendors) {
        for (const endpoint of vendor.endpoints) gatewayEntry(scopeNs, ns, vendor, endpoint);
      }
    }

    if (egress) new CrawlerEgressPolicies(this, 'EgressPolicies', { namespaces: this.namespaces, vendors: props.vendors.vendors, ...egress });
  }

  private addTelemetry(scope: Construct, namespace: string): void {
    new Telemetry(scope, 'Telemetry', {
      metadata: { name: 'proxy-telemetry', namespace },
      spec: { metrics: [{ providers: [{ name: 'prometheus' }], overrides: metricOverrides(this.metricTags, this.sniExpression) }] },
    });
  }
}

const PART_OF = { 'app.kubernetes.io/part-of': 'proxy-telemetry' };

/**
 * Host of the ServiceEntry that gives sidecars a listener on a port; `.invalid` never resolves (RFC 6761).
 * @internal
 */
export function portListenerHost(port: number, protocol: 'HTTP' | 'TLS' = 'HTTP'): string {
  return `${protocol.toLowerCase()}-${port}.proxy-telemetry.invalid`;
}

/**
 * An address-less ServiceEntry on `port` that makes Istio build a wildcard listener `0.0.0.0_<port>` for it, as
 * for any service of resolution NONE without addresses (istio/istio `pilot/pkg/networking/core/listener.go`
 * buildSidecarOutboundListeners). A Sidecar egress listener on the port alone is not enough: Istio builds
 * listeners only for the services it imports.
 * - HTTP: an HTTP connection manager whose route configuration ends with the `allow_any` virtual host to
 *   PassthroughCluster (`httproute.go` buildCatchAllVirtualHost), so every site keeps working and
 *   istio_requests_total carries the Host header as destination_service.
 * - TLS: a TLS inspector (the chain matches the entry's host by SNI) with no listener-filter timeout, and the
 *   PassthroughFilterChain (stats filter, tcp_proxy to PassthroughCluster) for every other server name
 *   (`buildListenerFromEntry`, `listener_builder.go` buildOutboundCatchAllNetworkFiltersOnly; 1.22–1.28).
 */
function portEntry(scope: Construct, namespace: string, port: number, protocol: 'HTTP' | 'TLS'): void {
  const name = `${protocol.toLowerCase()}-${port}`;
  new ServiceEntry(scope, `${protocol === 'HTTP' ? 'HttpListener' : 'TlsListener'}-${port}`, {
    metadata: { name: `proxy-telemetry-${name}`, namespace, labels: PART_OF },
    spec: {
      hosts: [portListenerHost(port, protocol)],
      exportTo: ['.'],
      location: ServiceEntrySpecLocation.MESH_UNDERSCORE_EXTERNAL,
      resolution: ServiceEntrySpecResolution.NONE,
      ports: [{ number: port, name, protocol }],
    },
  });
}

/**
 * One ServiceEntry per gateway `host:port`. Hosts × ports in one entry would create the cross product, and
 * address-less TCP services on one port collapse to one filter chain where the first host wins
 * (istio/istio `listener.go` mergeTCPFilterChains), misrouting the others.
 */
function gatewayEntry(scope: Construct, namespace: string, vendor: Vendor, endpoint: VendorEndpoint): void {
  const name = `proxy-vendor-${vendor.name}-${endpoint.port}`;
  const protocol = vendor.inspected ? 'HTTP' : 'TCP';
  // An in-cluster Service is in Istio's registry already: a ServiceEntry for the same host would compete with it.
  if (!endpoint.serviceNamespace) gatewayServiceEntry(scope, namespace, vendor, endpoint, name, protocol);
  if (vendor.inspected) {
    new EnvoyFilter(scope, `GatewayInspection-${vendor.name}-${endpoint.port}`, {
      metadata: { name, namespace, labels: { ...PART_OF, [VENDOR_POD_LABEL]: vendor.name } },
      spec: gatewayInspectionSpec(vendor.name, endpoint, name),
    });
  }
}

function gatewayServiceEntry(scope: Construct, namespace: string, vendor: Vendor, endpoint: VendorEndpoint, name: string, protocol: string): void {
  new ServiceEntry(scope, `Gateway-${vendor.name}-${endpoint.port}`, {
    metadata: { name, namespace, labels: { ...PART_OF, [VENDOR_POD_LABEL]: vendor.name } },
    spec: {
      hosts: [endpoint.host],
      // exportTo '.' keeps the port claim inside this crawler namespace.
      exportTo: ['.'],
      location: ServiceEntrySpecLocation.MESH_UNDERSCORE_EXTERNAL,
      resolution: ServiceEntrySpecResolution.DNS,
      ports: [{ number: endpoint.port, name: `${protocol.toLowerCase()}-${endpoint.port}`, protocol }],
    },
  });
}

/**
 * Ports of `property` that get a listener of their own: whole port numbers, unique, none that `conflict` refuses, not the
 * sidecar's own ports (80 and 443 are reserved for exactly these listeners), not a vendor gateway's port.
 */
function checkListenerPorts(property: string, ports: number[], vendors: VendorCatalog, conflict: (port: number) => string | undefined, gatewayHint = ''): readonly number[] {
  if (!Array.isArray(ports)) throw new PropertyError(property, ports, 'must be a list of port numbers');
  ports.forEach((port, i) => {
    const at = `${property}[${i}]`;
    checkNumber(at, port, { min: 1, max: 65535, integer: true });
    if (ports.indexOf(port) !== i) throw new PropertyError(at, port, 'is a duplicate');
    const refused = conflict(port);
    if (refused !== undefined) throw new PropertyError(at, port, refused);
    const reserved = RESERVED_PORTS.get(port);
    if (reserved !== undefined && port !== 80 && port !== 443) throw new PropertyError(at, port, `is ${reserved}`);
    const owner = vendors.vendors.find(v => v.endpoints.some(e => e.port === port));
    if (owner) throw new PropertyError(at, port, `is a gateway port of vendor '${owner.name}'${gatewayHint}`);
  });
  return [...ports];
}
