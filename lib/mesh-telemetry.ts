import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { ServiceEntry, ServiceEntrySpecLocation, ServiceEntrySpecResolution, Sidecar, SidecarSpecOutboundTrafficPolicyMode } from '../imports/networking.istio.io';
import {
  Telemetry,
  TelemetrySpecMetricsOverridesMatchMetric as Metric,
  TelemetrySpecMetricsOverridesMatchMode as Mode,
  TelemetrySpecMetricsOverridesTagOverridesOperation as Operation,
} from '../imports/telemetry.istio.io';
import { CONTRACT_TAGS, ISTIO_STANDARD_TAGS, LABEL } from './metric-contract';
import { CrawlerEgressPolicies } from './network/crawler-egress-policies';
import { CrawlerEgressOptions } from './network/network-policy-options';
import { DEFAULT_DNS_PEERS, NetworkPeer, checkPeers, podsIn } from './network/peers';
import { VendorCatalog } from './vendor';
import { PropertyError, checkDnsLabel, checkNonEmpty, checkUnique } from './validation';

/** Pod Security Standards level. */
export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

/** Which Istio tags crawler sidecars put on their metrics. */
export type MetricTags = 'minimal' | 'standard';

export interface MeshTelemetryProps {
  /** The vendor model; every vendor with endpoints gets a TCP ServiceEntry in each crawler namespace. */
  readonly vendors: VendorCatalog;
  /**
   * Namespaces the crawler pods run in.
   * @default ['crawlers']
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
   * @default 'privileged'
   */
  readonly podSecurityLevel?: PodSecurityLevel;
  /**
   * CEL expression for the `destination_sni` tag on TCP metrics: the server name of TLS connections
   * the crawler opens itself (HTTPS without a vendor gateway).
   * @default 'connection.requested_server_name'
   */
  readonly sniExpression?: string;
  /**
   * Hosts outside the crawler namespace that crawler sidecars need configuration for, in Sidecar
   * `namespace/host` form. Unknown external hosts still work through ALLOW_ANY.
   * @default ['istio-system/*']
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
   * destination workload tags, response flags, ...), keep response_code on request counts only and the
   * duration histogram per pod only, and emit no inbound (server) or closed-connection metrics. Envoy sums
   * what a removed tag told apart, so no traffic is lost; each pod exposes about 20 times fewer series.
   * `'standard'`: Istio's full tag set, for tools that read it (e.g. Kiali's graph of the crawler namespaces).
   * @default 'minimal'
   */
  readonly metricTags?: MetricTags;
}

/**
 * The Istio side of proxy telemetry: injected crawler namespaces, a Telemetry resource that adds the
 * tags the metric contract needs, a Sidecar scope with ALLOW_ANY, and a TCP ServiceEntry per vendor
 * gateway (TCP, not HTTP, so CONNECT tunnels pass through untouched).
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

  constructor(scope: Construct, id: string, props: MeshTelemetryProps) {
    super(scope, id);
    this.namespaces = [...checkNonEmpty('namespaces', props.namespaces ?? ['crawlers'])];
    this.namespaces.forEach((ns, i) => checkDnsLabel(`namespaces[${i}]`, ns));
    checkUnique('namespaces', this.namespaces);
    if (props.revision !== undefined) checkDnsLabel('revision', props.revision);
    this.podSecurityLevel = props.podSecurityLevel ?? 'privileged';
    if (!['privileged', 'baseline', 'restricted'].includes(this.podSecurityLevel)) {
      throw new PropertyError('podSecurityLevel', this.podSecurityLevel, 'must be one of privileged, baseline, restricted');
    }
    this.sniExpression = props.sniExpression ?? 'connection.requested_server_name';
    if (this.sniExpression.trim() === '') {
      throw new PropertyError('sniExpression', this.sniExpression, 'must be a CEL expression');
    }
    this.metricTags = props.metricTags ?? 'minimal';
    if (this.metricTags !== 'minimal' && this.metricTags !== 'standard') {
      throw new PropertyError('metricTags', this.metricTags, 'must be \'minimal\' or \'standard\'');
    }
    const extraEgressHosts = props.extraEgressHosts ?? ['istio-system/*'];
    extraEgressHosts.forEach((h, i) => {
      if (!/^[^/\s]+\/[^/\s]+$/.test(h)) throw new PropertyError(`extraEgressHosts[${i}]`, h, 'must be \'namespace/host\', e.g. \'istio-system/*\'');
    });

    let egress: { dns: readonly NetworkPeer[]; istiod: readonly NetworkPeer[] } | undefined;
    if (props.crawlerEgress) {
      const direct = props.vendors.vendors.find(v => v.endpoints.length === 0);
      if (direct) {
        throw new PropertyError('crawlerEgress', props.crawlerEgress, `limits crawlers to their vendor gateways, but vendor '${direct.name}' has no endpoints`);
      }
      egress = {
        dns: checkPeers('crawlerEgress.dns', props.crawlerEgress.dns ?? [...DEFAULT_DNS_PEERS]),
        istiod: checkPeers('crawlerEgress.istiod', props.crawlerEgress.istiod ?? [podsIn('istio-system', { app: 'istiod' })]),
      };
    }

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
          egress: [{ hosts: ['./*', ...extraEgressHosts] }],
        },
      });
      for (const vendor of props.vendors.vendors.filter(v => v.endpoints.length > 0)) {
        const ports = [...new Set(vendor.endpoints.map(e => e.port))];
        new ServiceEntry(scopeNs, `Gateway-${vendor.name}`, {
          metadata: { name: `proxy-vendor-${vendor.name}`, namespace: ns, labels: { 'proxy-vendor': vendor.name } },
          spec: {
            hosts: vendor.gatewayHosts,
            // exportTo '.' keeps the port claim inside this crawler namespace.
            exportTo: ['.'],
            location: ServiceEntrySpecLocation.MESH_UNDERSCORE_EXTERNAL,
            resolution: ServiceEntrySpecResolution.DNS,
            ports: ports.map(p => ({ number: p, name: `tcp-${p}`, protocol: 'TCP' })),
          },
        });
      }
    }

    if (egress) new CrawlerEgressPolicies(this, 'EgressPolicies', { namespaces: this.namespaces, vendors: props.vendors.vendors, ...egress });
  }

  private addTelemetry(scope: Construct, namespace: string): void {
    const tcpMetrics = [
      Metric.TCP_UNDERSCORE_OPENED_UNDERSCORE_CONNECTIONS,
      Metric.TCP_UNDERSCORE_CLOSED_UNDERSCORE_CONNECTIONS,
      Metric.TCP_UNDERSCORE_SENT_UNDERSCORE_BYTES,
      Metric.TCP_UNDERSCORE_RECEIVED_UNDERSCORE_BYTES,
    ];
    const sni = tcpMetrics.map(metric => ({
      match: { metric, mode: Mode.CLIENT },
      tagOverrides: { [LABEL.sni]: { operation: Operation.UPSERT, value: this.sniExpression } },
    }));
    new Telemetry(scope, 'Telemetry', {
      metadata: { name: 'proxy-telemetry', namespace },
      spec: {
        metrics: [{
          providers: [{ name: 'prometheus' }],
          overrides: this.metricTags === 'minimal' ? [...minimalTagOverrides(), ...sni, ...disabledMetrics()] : sni,
        }],
      },
    });
  }
}

const remove = (tags: readonly string[]) => Object.fromEntries(tags.map(t => [t, { operation: Operation.REMOVE }]));

/**
 * Removes from outbound metrics the standard tags the contract does not read: first those no metric needs,
 * then, per metric, the tags only other metrics need. Later overrides add to earlier ones.
 */
function minimalTagOverrides() {
  const needed = new Set(Object.values(CONTRACT_TAGS).flat());
  const perMetric: Array<[Metric, readonly string[]]> = [
    [Metric.REQUEST_UNDERSCORE_COUNT, CONTRACT_TAGS.requests],
    [Metric.REQUEST_UNDERSCORE_SIZE, CONTRACT_TAGS.requestBytes],
    [Metric.RESPONSE_UNDERSCORE_SIZE, CONTRACT_TAGS.responseBytes],
    [Metric.REQUEST_UNDERSCORE_DURATION, CONTRACT_TAGS.duration],
    [Metric.TCP_UNDERSCORE_OPENED_UNDERSCORE_CONNECTIONS, CONTRACT_TAGS.tcpOpened],
    [Metric.TCP_UNDERSCORE_SENT_UNDERSCORE_BYTES, CONTRACT_TAGS.tcpSentBytes],
    [Metric.TCP_UNDERSCORE_RECEIVED_UNDERSCORE_BYTES, CONTRACT_TAGS.tcpReceivedBytes],
  ];
  return [
    { match: { metric: Metric.ALL_UNDERSCORE_METRICS, mode: Mode.CLIENT }, tagOverrides: remove(ISTIO_STANDARD_TAGS.filter(t => !needed.has(t))) },
    ...perMetric
      .map(([metric, keep]) => [metric, [...needed].filter(t => !keep.includes(t) && tagsOf(metric).includes(t))] as const)
      .filter(([, extra]) => extra.length > 0)
      .map(([metric, extra]) => ({ match: { metric, mode: Mode.CLIENT }, tagOverrides: remove(extra) })),
  ];
}

/** Tags the sidecar puts on a metric: TCP metrics have no response code; the SNI tag is ours, on TCP only. */
function tagsOf(metric: Metric): readonly string[] {
  return metric.startsWith('TCP_')
    ? [...ISTIO_STANDARD_TAGS.filter(t => t !== 'response_code' && t !== 'grpc_response_status'), LABEL.sni]
    : ISTIO_STANDARD_TAGS;
}

/** Metrics no rule reads: inbound (server side) metrics of crawler pods, and closed TCP connections. */
function disabledMetrics() {
  return [
    { match: { metric: Metric.ALL_UNDERSCORE_METRICS, mode: Mode.SERVER }, disabled: true },
    { match: { metric: Metric.TCP_UNDERSCORE_CLOSED_UNDERSCORE_CONNECTIONS, mode: Mode.CLIENT }, disabled: true },
  ];
}
