import * as YAML from 'yaml';
import { CONTRACT_TAGS, LABEL } from '../core/metric-contract';
import { KubeObject } from './kube-object';
import { CrawlerFlow, clientFirstBytes, parseHostPort } from './crawler-flows';

/**
 * A model of one crawler pod's istio-proxy sidecar (outbound side), built from synthesized manifests, that
 * decides for each crawler flow what the sidecar reports: which listener takes the connection, whether a TLS
 * inspector saw its server name, which route and cluster a request gets, which metric family counts it and with
 * which destination and tag values. It follows Istio's sidecar configuration generation and Envoy's listener
 * and route matching; every rule cites the source it follows. Read at istio/istio 86c9f01f (2026-08-22; the
 * logic cited has been stable since 1.22) and istio/proxy 9ba54371 (istio_stats, now in Envoy's contrib).
 *
 * Scope: a sidecar with iptables REDIRECT capture and no DNS capture (the default; ServiceEntries without
 * addresses then have no VIP, `pilot/pkg/model/service.go` nodeUsesAutoallocatedIPs), ALLOW_ANY or
 * REGISTRY_ONLY, in a mesh whose `istio-system` holds what the chosen profile installs. Anything in the manifests
 * the model does not understand (an EnvoyFilter patch, a Sidecar egress port, a listener conflict other than
 * TCP over TCP) throws instead of being ignored: the model must never agree with a manifest by accident.
 */

/** Istio protocols (istio/istio `pkg/config/protocol/instance.go`). */
export type Protocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'GRPC-WEB' | 'HTTP_PROXY' | 'HTTPS' | 'TLS' | 'TCP' | 'MONGO' | 'REDIS' | 'MYSQL' | 'UDP' | 'AUTO';

const isHttp = (p: Protocol) => ['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTP_PROXY'].includes(p);
const isTls = (p: Protocol) => p === 'HTTPS' || p === 'TLS';

/** A service as the sidecar's configuration sees it (istio/istio `pilot/pkg/model/service.go` Service). */
export interface MeshService {
  host: string;
  /** `Attributes.Name`: the hostname for a ServiceEntry (`serviceentry/conversion.go` convertServices), the Service name for Kubernetes. */
  name: string;
  namespace: string;
  /** Cluster IP; none for a ServiceEntry without addresses (DefaultAddress 0.0.0.0). */
  vip?: string;
  ports: Array<{ number: number; protocol: Protocol }>;
  /** Explicitly exported to (or private to) the sidecar's namespace: ordered first (`push_context.go` servicesExportedToNamespace). */
  exportedToNamespace: boolean;
  /**
   * `service.MeshExternal`: a ServiceEntry with `location: MESH_EXTERNAL` (the API's default, enum value 0). Its
   * clusters carry metadata `istio.external: true` (`cluster_builder.go`), which the metadata-exchange filter's
   * `skip_external_clusters` reads. Kubernetes Services are never external.
   */
  meshExternal?: boolean;
  /** Where it comes from, for messages. */
  origin: string;
}

/** Services of `istio-system` by Istio profile: `minimal` installs only istiod; `default` adds the ingress gateway. */
export type IstioProfile = 'minimal' | 'default';

/**
 * istiod's Service (istio/istio `manifests/charts/istio-control/istio-discovery/templates/service.yaml`) and, in the
 * default profile, istio-ingressgateway's (`manifests/charts/gateways/istio-ingress/values.yaml`: status-port 15021,
 * http2 80, https 443). Port protocols follow the port names (`pkg/config/kube/conversion.go` ConvertProtocol).
 */
export function profileServices(profile: IstioProfile): MeshService[] {
  const istiod: MeshService = {
    host: 'istiod.istio-system.svc.cluster.local', name: 'istiod', namespace: 'istio-system', vip: '10.96.0.20', exportedToNamespace: false, origin: 'istio-system/istiod',
    ports: [{ number: 15010, protocol: 'GRPC' }, { number: 15012, protocol: 'HTTPS' }, { number: 443, protocol: 'HTTPS' }, { number: 15014, protocol: 'HTTP' }],
  };
  const ingress: MeshService = {
    host: 'istio-ingressgateway.istio-system.svc.cluster.local', name: 'istio-ingressgateway', namespace: 'istio-system', vip: '10.96.0.30', exportedToNamespace: false,
    origin: 'istio-system/istio-ingressgateway', ports: [{ number: 15021, protocol: 'AUTO' }, { number: 80, protocol: 'HTTP2' }, { number: 443, protocol: 'HTTPS' }],
  };
  return profile === 'minimal' ? [istiod] : [istiod, ingress];
}

/** Kubernetes Service port protocol: appProtocol, else the name's prefix, else auto (`pkg/config/kube/conversion.go` ConvertProtocol). */
function kubePortProtocol(port: { name?: string; appProtocol?: string; protocol?: string; port: number }): Protocol {
  if (port.protocol === 'UDP') return 'UDP';
  if (port.appProtocol === 'kubernetes.io/h2c') return 'HTTP2';
  const name = (port.appProtocol ?? port.name ?? '').toLowerCase();
  if (name.startsWith('grpc-web')) return 'GRPC-WEB';
  const parsed = parseProtocol(name.split('-')[0]);
  // Well-known ports default to TCP when the name says nothing (SMTP 25, DNS 53, MySQL 3306, MongoDB 27017).
  return parsed === 'AUTO' && [25, 53, 3306, 27017].includes(port.port) ? 'TCP' : parsed;
}

/** `protocol.Parse` (`pkg/config/protocol/instance.go`): unknown names are "unsupported", i.e. sniffed. */
function parseProtocol(name: string): Protocol {
  const known: Record<string, Protocol> = {
    tcp: 'TCP', udp: 'UDP', grpc: 'GRPC', 'grpc-web': 'GRPC-WEB', http: 'HTTP', http_proxy: 'HTTP_PROXY', http2: 'HTTP2',
    https: 'HTTPS', tls: 'TLS', mongo: 'MONGO', redis: 'REDIS', mysql: 'MYSQL',
  };
  return known[name.toLowerCase()] ?? 'AUTO';
}

// ---- listeners ----

/**
 * An outbound listener of the sidecar, keyed `<bind>:<port>` (istio/istio `pilot/pkg/networking/core/listener.go`
 * buildSidecarOutboundListener):
 * - `http`: HTTP service ports always bind the wildcard, with or without a VIP; requests are told apart by virtual
 *   hosts of route configuration `<port>`. Non-HTTP bytes fall to the listener's PassthroughFilterChain
 *   (`buildListenerFromEntry`: the ALPN/http_inspector match of wildcard HTTP chains, and the default chain).
 * - `tcp`: a TCP (or TLS/HTTPS) port of a service with a VIP binds the VIP; a TCP port without a VIP binds the
 *   wildcard with one match-all chain to the service: it captures every destination on that port.
 * - `tls`: a TLS/HTTPS port without a VIP binds the wildcard with one chain per server name and a tls_inspector
 *   (`tls.go` buildSidecarOutboundTLSFilterChainOpts, `listener.go` needTLSInspector), other names pass through.
 * - `sniffed`: an auto-detected port of a service with a VIP; traffic to that VIP goes to the service.
 */
export type Listener =
  | { kind: 'http'; key: string; port: number; services: MeshService[] }
  | { kind: 'tcp'; key: string; port: number; service: MeshService; dropped: MeshService[] }
  | { kind: 'tls'; key: string; port: number; byServerName: Map<string, MeshService> }
  | { kind: 'sniffed'; key: string; port: number; service: MeshService };

const WILDCARD = '0.0.0.0';

/** A route an EnvoyFilter inserted into a virtual host. */
interface PatchedRoute {
  name: string; connect: boolean; prefix?: string; cluster: string; upgradeConnect: boolean; timeoutSeconds: number; requestHeadersToRemove: string[]; origin: string;
}

/** What a Telemetry resource's metric overrides do to the client-side metrics of the pods in its namespace. */
export interface SidecarTelemetry {
  /** Tags removed (operation REMOVE), per mode and metric. */
  removed: Record<'CLIENT' | 'SERVER', Partial<Record<TelemetryMetric, Set<string>>>>;
  /** Metrics not emitted (disabled: true). */
  disabled: Record<'CLIENT' | 'SERVER', Set<TelemetryMetric>>;
  /** Tags added or overridden with a CEL expression (operation UPSERT), client side. */
  upserts: Partial<Record<TelemetryMetric, Map<string, string>>>;
}

/** Istio's Telemetry API metric names (`match.metric`). */
export type TelemetryMetric = 'REQUEST_COUNT' | 'REQUEST_DURATION' | 'REQUEST_SIZE' | 'RESPONSE_SIZE'
  | 'TCP_OPENED_CONNECTIONS' | 'TCP_CLOSED_CONNECTIONS' | 'TCP_SENT_BYTES' | 'TCP_RECEIVED_BYTES';

export const TELEMETRY_METRICS: TelemetryMetric[] = ['REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES'];

/**
 * Reads a Telemetry resource's `spec.metrics[].overrides` as Istio applies them (`pilot/pkg/model/telemetry.go`
 * generateStatsConfig): in order, each matching ALL_METRICS or one metric, in CLIENT, SERVER or CLIENT_AND_SERVER
 * mode; later tag overrides add to (and win over) earlier ones. Envoy then sums what the removed tags told apart.
 */
export function telemetryFromSpec(spec: any): SidecarTelemetry {
  return telemetryFromSpecs([spec]);
}

/**
 * The metric overrides of several Telemetry specs merged the way istiod merges the root namespace's selector-less
 * Telemetry, then the workload namespace's (istio/istio `pilot/pkg/model/telemetry.go` applicableTelemetries: "The
 * latter elements will override the first elements"; mergeMetrics, 1.22–1.28):
 * - one deep merge keyed provider → mode → metric → tag: a later entry changes only the keys it names, so a root
 *   REMOVE of a tag the namespace does not mention survives, and a namespace UPSERT of the same tag wins;
 * - `disabled` is overwritten only by an override that sets it;
 * - `ALL_METRICS` with `disabled: true` disables the provider's mode as a whole, and ANY later override of the same
 *   provider and mode clears that ("root namespace disables all, but then enables them by namespace scoped");
 * - `providers` replaces the parent's list (not a deep merge); entries without it inherit the previous entry's, at
 *   first `defaultProviders.metrics` (Helm: [prometheus]). Only the prometheus provider is modelled: a final list
 *   without it throws.
 */
export function telemetryFromSpecs(specs: readonly any[], defaultProviders: readonly string[] = ['prometheus']): SidecarTelemetry {
  const entries: any[] = specs.flatMap(s => s?.metrics ?? []);
  const names = (m: any): string[] => (m.providers ?? []).map((p: any) => String(p.name));
  let inScope = [...defaultProviders];
  for (const m of entries) if (names(m).length > 0) inScope = names(m);
  if (!inScope.includes('prometheus')) throw new Error(`Telemetry metrics providers ${inScope.join(', ')} without prometheus are not modelled`);
  type Override = { disabled?: boolean; tags: Map<string, { operation: string; value?: string }> };
  const state: Record<'CLIENT' | 'SERVER', Map<TelemetryMetric, Override>> = { CLIENT: new Map(), SERVER: new Map() };
  const disabledAll = { CLIENT: false, SERVER: false };
  let parent = [...defaultProviders];
  for (const m of entries) {
    const providers = names(m).length > 0 ? names(m) : parent;
    parent = providers;
    if (!providers.includes('prometheus')) continue;
    for (const o of m.overrides ?? []) {
      const unknown = Object.keys(o.match ?? {}).filter(k => !['metric', 'mode'].includes(k));
      if (unknown.length) throw new Error(`Telemetry override match ${unknown.join(', ')} is not modelled`);
      const all = !o.match?.metric || o.match.metric === 'ALL_METRICS';
      const modes: Array<'CLIENT' | 'SERVER'> = o.match?.mode === 'CLIENT' ? ['CLIENT'] : o.match?.mode === 'SERVER' ? ['SERVER'] : ['CLIENT', 'SERVER'];
      if (all && o.disabled === true) {
        for (const mode of modes) disabledAll[mode] = true;
        continue;
      }
      for (const mode of modes) {
        disabledAll[mode] = false;
        for (const metric of all ? TELEMETRY_METRICS : [o.match.metric as TelemetryMetric]) {
          const override: Override = state[mode].get(metric) ?? { tags: new Map() };
          if (o.disabled !== undefined) override.disabled = o.disabled === true;
          for (const [tag, op] of Object.entries<any>(o.tagOverrides ?? {})) override.tags.set(tag, { operation: op.operation ?? 'UPSERT', value: op.value });
          state[mode].set(metric, override);
        }
      }
    }
  }
  const t: SidecarTelemetry = { removed: { CLIENT: {}, SERVER: {} }, disabled: { CLIENT: new Set(), SERVER: new Set() }, upserts: {} };
  for (const mode of ['CLIENT', 'SERVER'] as const) {
    for (const metric of TELEMETRY_METRICS) {
      const override = state[mode].get(metric);
      if (disabledAll[mode] || override?.disabled) t.disabled[mode].add(metric);
      if (!override) continue;
      t.removed[mode][metric] = new Set([...override.tags].filter(([, op]) => op.operation === 'REMOVE').map(([tag]) => tag));
      if (mode === 'CLIENT') {
        const upserts = [...override.tags].filter(([, op]) => op.operation !== 'REMOVE');
        if (upserts.length) t.upserts[metric] = new Map(upserts.map(([tag, op]) => [tag, String(op.value)]));
      }
    }
  }
  return t;
}

/** The contract's client-side metrics and the tags its rules read (core/metric-contract.ts CONTRACT_TAGS). */
const CONTRACT_METRICS: Record<keyof typeof CONTRACT_TAGS, TelemetryMetric> = {
  requests: 'REQUEST_COUNT', requestBytes: 'REQUEST_SIZE', responseBytes: 'RESPONSE_SIZE', duration: 'REQUEST_DURATION',
  tcpSentBytes: 'TCP_SENT_BYTES', tcpReceivedBytes: 'TCP_RECEIVED_BYTES', tcpOpened: 'TCP_OPENED_CONNECTIONS', tcpClosed: 'TCP_CLOSED_CONNECTIONS',
};

/** One way a root-namespace Telemetry takes from the metric contract what the namespace's own Telemetry gives it. */
export interface TelemetryConflict { metric: TelemetryMetric; tag?: string; problem: 'tag removed' | 'metric disabled'; source: string }

/**
 * What the root namespace's selector-less Telemetry (`rootNamespace`, Helm default istio-system) removes or disables
 * of the metric contract in `namespace`, after istiod's merge (telemetryFromSpecs): each contract metric the merged
 * config disables on the client side, and each contract tag it removes, where the namespace Telemetry alone would
 * not. Empty when the root has no Telemetry or when ours overrides all it touches.
 */
export function telemetryConflicts(objects: readonly KubeObject[], namespace: string, rootNamespace = 'istio-system'): TelemetryConflict[] {
  const root = namespaceTelemetry(objects, rootNamespace);
  if (!root || namespace === rootNamespace) return [];
  const own = namespaceTelemetry(objects, namespace);
  const alone = telemetryFromSpecs([own?.spec]);
  const merged = telemetryFromSpecs([root.spec, own?.spec]);
  const source = `Telemetry ${rootNamespace}/${root.metadata.name}`;
  const out: TelemetryConflict[] = [];
  for (const [key, metric] of Object.entries(CONTRACT_METRICS) as Array<[keyof typeof CONTRACT_TAGS, TelemetryMetric]>) {
    if (merged.disabled.CLIENT.has(metric) && !alone.disabled.CLIENT.has(metric)) {
      out.push({ metric, problem: 'metric disabled', source });
      continue;
    }
    for (const tag of CONTRACT_TAGS[key]) {
      const gone = (t: SidecarTelemetry) => (t.removed.CLIENT[metric]?.has(tag) ?? false)
        || ((tag === LABEL.host || tag === LABEL.sni) && !(t.upserts[metric]?.has(tag) ?? false));
      if (gone(merged) && !gone(alone)) out.push({ metric, tag, problem: 'tag removed', source });
    }
  }
  return out;
}

/**
 * The selector-less Telemetry of a namespace. Istio takes the oldest one (`namespaceWideTelemetryConfig`,
 * sortConfigByCreationTime); manifests carry no creation time, so several is a conflict the model refuses.
 */
function namespaceTelemetry(objects: readonly KubeObject[], namespace: string): KubeObject | undefined {
  const telemetries = objects.filter(o => o.kind === 'Telemetry' && o.metadata.namespace === namespace && !o.spec?.selector && !o.spec?.targetRefs);
  if (telemetries.length > 1) throw new Error(`namespace ${namespace} has ${telemetries.length} Telemetry resources without selector; Istio uses only one`);
  return telemetries[0];
}

// ---- what the sidecar reports ----

/** Destination labels of a cluster as istio_stats derives them (see SidecarModel.observe). */
export interface DestinationLabels { service: string; serviceName: string; serviceNamespace: string }

/** One HTTP stream the sidecar records: istio_requests_total and the request/response size and duration histograms. */
export interface ObservedHttp {
  kind: 'http';
  destination: DestinationLabels;
  responseCode: number;
  responseFlags: string;
  /** What the Telemetry's CEL expressions can read of this stream. */
  attributes: Attributes;
  perSecond: number;
  upBytes: number;
  downBytes: number;
  durationMs: number;
  /** The decision path, for messages. */
  path: string;
}

/** Connections the sidecar records on a TCP filter chain: istio_tcp_* (no HTTP metrics). */
export interface ObservedTcp {
  kind: 'tcp';
  destination: DestinationLabels;
  attributes: Attributes;
  connectionsPerSecond: number;
  /** Bytes from the app (istio_tcp_received_bytes_total) and to the app (istio_tcp_sent_bytes_total). */
  upBytesPerSecond: number;
  downBytesPerSecond: number;
  path: string;
}

export type Observation = ObservedHttp | ObservedTcp;

/** CEL attributes of a stream or connection: `connection.requested_server_name` and, on HTTP, `request.host`. */
export interface Attributes { sni: string; host?: string }

/**
 * Bytes of the sidecar's own 404 for a CONNECT no route takes ("404 NR"): the CONNECT line and headers up, Envoy's
 * short response down. Only used to show the failure; the tunnel never carries payload.
 */
const REFUSED_CONNECT_BYTES = { up: 150, down: 120 };

export interface SidecarModelOptions {
  /** What `istio-system` holds. @default 'minimal' */
  profile?: IstioProfile;
  /** Cluster IPs of Kubernetes Services in the manifests, by `namespace/name`; others get 10.96.1.x in order. */
  clusterIps?: Record<string, string>;
  /**
   * The labels of the pod whose sidecar this is. EnvoyFilters with `workloadSelector.labels` apply only when they are
   * a subset of them. Required as soon as the manifests hold such a filter: the model is for one pod.
   */
  podLabels?: Record<string, string>;
  /** The pod's annotations: `proxy.istio.io/config` (YAML or JSON) is its ProxyConfig, merged over the mesh's. */
  podAnnotations?: Record<string, string>;
  /** Mesh-wide settings of the Istio install. */
  mesh?: MeshOptions;
}

/** Mesh-wide (istiod and meshConfig) settings that change what sidecars do to traffic. */
export interface MeshOptions {
  /** istiod's PILOT_HTTP10 (`pilot/pkg/features/pilot.go`). @default false */
  pilotHttp10?: boolean;
  /** Helm `global.proxy.tracer`: 'none' leaves the sidecar without tracer (no trace headers). @default 'none' */
  tracer?: 'none' | 'zipkin';
  /** `meshConfig.pathNormalization.normalization`. @default 'BASE' */
  pathNormalization?: 'BASE' | 'NONE';
  /** Istio minor version, e.g. '1.28'. @default '1.28' */
  istioVersion?: string;
  /** `meshConfig.rootNamespace`. @default 'istio-system' */
  rootNamespace?: string;
}

/** The ProxyConfig fields the model reads (istio/api `mesh/v1alpha1/proxy.proto`). */
export interface PodProxyConfig {
  holdApplicationUntilProxyStarts: boolean;
  /** `proxyHeaders.server`: disabled → PASS_THROUGH; value → that name instead of "envoy". */
  server: { disabled: boolean; value?: string };
  requestIdDisabled: boolean;
  attemptCountDisabled: boolean;
  envoyDebugHeadersDisabled: boolean;
  metadataExchangeInMesh: boolean;
  preserveHttp1HeaderCase: boolean;
  xForwardedHost: boolean;
  xForwardedPort: boolean;
  /** Node metadata HTTP10 = "1" (`proxyMetadata.ISTIO_META_HTTP10`). */
  http10Metadata: boolean;
}

/** The pod annotation that carries a pod's ProxyConfig. */
export const PROXY_CONFIG_ANNOTATION = 'proxy.istio.io/config';

/**
 * A pod's ProxyConfig: the annotation merged over the mesh's `defaultConfig` (Helm defaults set none of these
 * fields; `DefaultProxyConfig()` neither). Unknown fields throw: they might change traffic.
 */
export function podProxyConfig(annotations: Record<string, string> | undefined): PodProxyConfig {
  const text = annotations?.[PROXY_CONFIG_ANNOTATION];
  const c: any = text === undefined ? {} : YAML.parse(text) ?? {};
  if (typeof c !== 'object' || Array.isArray(c)) throw new Error(`${PROXY_CONFIG_ANNOTATION}: not a ProxyConfig object`);
  const check = (o: any, allowed: string[], at: string) => {
    const unknown = Object.keys(o ?? {}).filter(k => !allowed.includes(k));
    if (unknown.length) throw new Error(`${PROXY_CONFIG_ANNOTATION}: ${at}${unknown.join(', ')} not modelled`);
  };
  check(c, ['holdApplicationUntilProxyStarts', 'proxyHeaders', 'proxyMetadata'], '');
  const ph = c.proxyHeaders ?? {};
  // forwardedClientCert and setCurrentClientCertDetails act on inbound only (listener_inbound.go buildSidecarInboundHTTPOpts).
  check(ph, ['server', 'requestId', 'attemptCount', 'envoyDebugHeaders', 'metadataExchangeHeaders', 'preserveHttp1HeaderCase',
    'forwardedClientCert', 'setCurrentClientCertDetails', 'xForwardedHost', 'xForwardedPort'], 'proxyHeaders.');
  check(c.proxyMetadata, ['ISTIO_META_HTTP10'], 'proxyMetadata.');
  const mode = ph.metadataExchangeHeaders?.mode;
  if (mode !== undefined && mode !== 'IN_MESH' && mode !== 'FORWARD') throw new Error(`${PROXY_CONFIG_ANNOTATION}: metadataExchangeHeaders.mode ${mode} is not modelled`);
  return {
    holdApplicationUntilProxyStarts: c.holdApplicationUntilProxyStarts === true,
    server: { disabled: ph.server?.disabled === true, value: ph.server?.value || undefined },
    requestIdDisabled: ph.requestId?.disabled === true,
    attemptCountDisabled: ph.attemptCount?.disabled === true,
    envoyDebugHeadersDisabled: ph.envoyDebugHeaders?.disabled === true,
    metadataExchangeInMesh: mode === 'IN_MESH',
    preserveHttp1HeaderCase: ph.preserveHttp1HeaderCase === true,
    xForwardedHost: ph.xForwardedHost?.enabled === true,
    xForwardedPort: ph.xForwardedPort?.enabled === true,
    http10Metadata: String(c.proxyMetadata?.ISTIO_META_HTTP10 ?? '') === '1',
  };
}

/** What happens to a connection before any network filter sees it: the listener filters of virtualOutbound, then of the listener it is handed to. */
export interface Acceptance {
  /** original_dst restored the destination: the connection went on to its port's listener, or virtualOutbound's passthrough chain if none. */
  handedOff: boolean;
  /** How long listener filters held the connection before a filter chain took it (or it was closed). */
  delayMs: number | 'forever';
  /** Envoy closed it (a timeout without continue, or the blackhole chain after a timeout with continue). */
  closed: boolean;
  /** The listener whose filter chain took the connection (`virtualOutbound`, `0.0.0.0:443`, ...), or where it waits. */
  listener: string;
  /** The server name a TLS inspector set, '' without. */
  sni: string;
  path: string;
  sources: string[];
}

/** What the sidecar does to one flow on its way: whether it arrives, when, and what it changed. */
export interface Delivery {
  outcome: 'delivered' | 'closed' | 'hung' | 'rejected';
  delayMs: number | 'forever';
  /** Request headers the sidecar adds (what the site sees and the crawler did not send). */
  headersAdded: string[];
  /** Request headers the sidecar removes when the crawler sent them. */
  headersRemoved: string[];
  /** HTTP/1 header names keep their case both ways (request to the site, response to the crawler). */
  headerCaseKept: boolean;
  /** The request path reaches the upstream as written. */
  pathKept: boolean;
  /** Response headers the sidecar sets or overwrites. */
  responseHeadersChanged: string[];
  /** The cluster the traffic goes to ('none' when it never leaves the sidecar). */
  cluster: string;
  path: string;
  sources: string[];
}

/** The sidecar configuration of pods in one namespace, as Istio would generate it from the objects given. */
export class SidecarModel {
  /**
   * Builds the model of sidecars in `namespace` from synthesized objects (ServiceEntries, Services, Sidecar,
   * EnvoyFilters, Telemetry of every namespace; objects of other kinds are ignored).
   */
  public static fromObjects(objects: readonly KubeObject[], namespace: string, opts: SidecarModelOptions = {}): SidecarModel {
    return new SidecarModel(objects, namespace, opts);
  }

  /** The model of the sidecar of a Deployment's pods: its namespace, and its pod template's labels and annotations. */
  public static fromDeployment(objects: readonly KubeObject[], deployment: KubeObject, opts: Omit<SidecarModelOptions, 'podLabels' | 'podAnnotations'> = {}): SidecarModel {
    const meta = deployment.spec?.template?.metadata ?? {};
    return new SidecarModel(objects, deployment.metadata.namespace ?? 'default', { ...opts, podLabels: meta.labels ?? {}, podAnnotations: meta.annotations ?? {} });
  }

  public readonly namespace: string;
  public readonly outboundPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** Services the sidecar imports, in Istio's order. */
  public readonly services: MeshService[];
  public readonly listeners = new Map<string, Listener>();
  /** virtualOutbound's listener filters (istio/istio `listener_builder.go` buildVirtualOutboundListener: none of its own). */
  public readonly virtualOutbound = { tlsInspector: false, filtersTimeoutSeconds: undefined as number | undefined, continueOnTimeout: false };
  /** Routes EnvoyFilters inserted, by `<port>/<virtual host>`, in route order. */
  public readonly patchedRoutes = new Map<string, PatchedRoute[]>();
  /** Clusters whose HTTP/1 upstream sends absolute-form URLs (EnvoyFilter CLUSTER MERGE). */
  public readonly fullyQualifiedUrlClusters = new Set<string>();
  public readonly telemetry: SidecarTelemetry;
  /** Mesh settings, defaults filled in. */
  public readonly mesh: Required<MeshOptions>;
  /** The pod's labels (undefined: not given) and merged ProxyConfig. */
  public readonly podLabels: Record<string, string> | undefined;
  public readonly proxyConfig: PodProxyConfig;
  /** EnvoyFilters applied to this pod and those whose workloadSelector left it out, as `namespace/name`. */
  public readonly envoyFilters = { applied: [] as string[], notSelected: [] as string[] };
  /** HTTP connection manager fields an EnvoyFilter NETWORK_FILTER MERGE set, by listener port. */
  public readonly hcmPatches = new Map<number, { normalizePath?: boolean; mergeSlashes?: boolean; escapedSlashes?: string; origin: string }>();
  /** `request_headers_to_remove` an EnvoyFilter VIRTUAL_HOST MERGE put on `<port>/<virtual host>`. */
  public readonly vhostHeadersToRemove = new Map<string, { headers: string[]; origin: string }>();
  /** HTTP/1 upstream options an EnvoyFilter CLUSTER MERGE set (it replaces Istio's HttpProtocolOptions whole). */
  public readonly clusterHttp1 = new Map<string, { fullyQualifiedUrl: boolean; preserveCase: boolean; origin: string }>();

  private constructor(objects: readonly KubeObject[], namespace: string, opts: SidecarModelOptions) {
    this.namespace = namespace;
    this.mesh = {
      pilotHttp10: opts.mesh?.pilotHttp10 ?? false, tracer: opts.mesh?.tracer ?? 'none', pathNormalization: opts.mesh?.pathNormalization ?? 'BASE',
      istioVersion: opts.mesh?.istioVersion ?? '1.28', rootNamespace: opts.mesh?.rootNamespace ?? 'istio-system',
    };
    if (!/^1\.\d+$/.test(this.mesh.istioVersion)) throw new Error(`istioVersion '${this.mesh.istioVersion}' is not a 1.x minor version`);
    this.podLabels = opts.podLabels;
    this.proxyConfig = podProxyConfig(opts.podAnnotations);
    const sidecar = objects.find(o => o.kind === 'Sidecar' && o.metadata.namespace === namespace && !o.spec?.workloadSelector);
    this.outboundPolicy = sidecar?.spec?.outboundTrafficPolicy?.mode === 'REGISTRY_ONLY' ? 'REGISTRY_ONLY' : 'ALLOW_ANY';
    this.services = this.importedServices(objects, sidecar, opts);
    for (const service of this.services) this.addListeners(service);
    // Root namespace filters first, then the pod's namespace (push_context.go EnvoyFilters(proxy): root first, then
    // creation time, which the manifests' order stands for; a `priority` would reorder them and is not modelled).
    const filters = (ns: string) => objects.filter(o => o.kind === 'EnvoyFilter' && o.metadata.namespace === ns);
    for (const filter of [...filters(this.mesh.rootNamespace), ...(namespace === this.mesh.rootNamespace ? [] : filters(namespace))]) {
      if (filter.spec?.priority !== undefined) throw new Error(`EnvoyFilter ${filter.metadata.namespace}/${filter.metadata.name}: priority is not modelled`);
      if (this.selects(filter)) this.applyEnvoyFilter(filter);
    }
    // Root namespace first, then the pod's namespace (telemetry.go applicableTelemetries); one selector-less each.
    const root = namespace === this.mesh.rootNamespace ? undefined : namespaceTelemetry(objects, this.mesh.rootNamespace);
    this.telemetry = telemetryFromSpecs([root?.spec, namespaceTelemetry(objects, namespace)?.spec]);
  }

  /**
   * The services a sidecar imports (istio/istio `pilot/pkg/model/sidecar.go`): with a Sidecar, the hosts of its
   * egress listeners (`namespace/host`, `.` for its own namespace); without, every namespace (`*\/*`). A service
   * must also be exported to the namespace (`exportTo`: `.` own namespace only, `*` or unset everyone).
   * Order: services exported to this namespace explicitly or privately first, then public ones; within each,
   * creation time, then name and namespace (`push_context.go` servicesExportedToNamespace, SortServicesByCreationTime;
   * objects applied together share a creation time).
   */
  private importedServices(objects: readonly KubeObject[], sidecar: KubeObject | undefined, opts: SidecarModelOptions): MeshService[] {
    const egress: any[] = sidecar?.spec?.egress ?? [{ hosts: ['*/*'] }];
    if (egress.some(e => e.port)) throw new Error(`Sidecar ${this.namespace}/${sidecar!.metadata.name}: egress listeners with a port are not modelled`);
    const patterns = egress.flatMap(e => e.hosts as string[]).map(h => {
      const [ns, host] = h.split('/');
      return { ns: ns === '.' ? this.namespace : ns, host };
    });
    const imported = (s: MeshService) => patterns.some(p => (p.ns === '*' || p.ns === s.namespace)
      && (p.host === '*' || p.host === s.host || (p.host.startsWith('*.') && s.host.endsWith(p.host.slice(1)))));

    let nextIp = 1;
    const all: MeshService[] = [...profileServices(opts.profile ?? 'minimal')];
    for (const o of objects) {
      if (o.kind === 'ServiceEntry') {
        const exportTo: string[] = o.spec.exportTo ?? ['*'];
        const ns = o.metadata.namespace ?? 'default';
        const visible = exportTo.includes('*') || exportTo.includes(this.namespace) || (exportTo.includes('.') && ns === this.namespace);
        if (!visible) continue;
        if ((o.spec.addresses ?? []).length > 0) throw new Error(`ServiceEntry ${ns}/${o.metadata.name}: addresses are not modelled`);
        // One service per host, each with every port (serviceentry/conversion.go convertServices).
        for (const host of o.spec.hosts as string[]) {
          all.push({
            host, name: host, namespace: ns, exportedToNamespace: !exportTo.includes('*'), origin: `ServiceEntry ${ns}/${o.metadata.name}`,
            meshExternal: (o.spec.location ?? 'MESH_EXTERNAL') === 'MESH_EXTERNAL',
            ports: (o.spec.ports ?? []).map((p: any) => ({ number: p.number, protocol: parseProtocol(String(p.protocol ?? '')) })),
          });
        }
      } else if (o.kind === 'Service') {
        const ns = o.metadata.namespace ?? 'default';
        if (o.spec?.clusterIP === 'None') throw new Error(`Service ${ns}/${o.metadata.name}: headless Services are not modelled`);
        all.push({
          host: `${o.metadata.name}.${ns}.svc.cluster.local`, name: o.metadata.name, namespace: ns,
          vip: opts.clusterIps?.[`${ns}/${o.metadata.name}`] ?? `10.96.1.${nextIp++}`, exportedToNamespace: false, origin: `Service ${ns}/${o.metadata.name}`,
          ports: (o.spec?.ports ?? []).map((p: any) => ({ number: p.port, protocol: kubePortProtocol(p) })),
        });
      }
    }
    return all.filter(imported).sort((a, b) => Number(b.exportedToNamespace) - Number(a.exportedToNamespace)
      || a.name.localeCompare(b.name) || a.namespace.localeCompare(b.namespace));
  }

  /** Adds a service's ports to the listeners, merging as `listener.go` buildSidecarOutboundListener does. */
  private addListeners(service: MeshService): void {
    for (const port of service.ports) {
      if (port.protocol === 'UDP') continue;
      const http = isHttp(port.protocol);
      // HTTP binds the wildcard whatever the VIP; TCP, TLS and auto bind the VIP when there is one.
      const bind = http || !service.vip ? WILDCARD : service.vip;
      const key = `${bind}:${port.number}`;
      const current = this.listeners.get(key);
      if (http) {
        if (!current) this.listeners.set(key, { kind: 'http', key, port: port.number, services: [service] });
        else if (current.kind === 'http') current.services.push(service);
        else throw conflict(key, current, service);
      } else if (port.protocol === 'AUTO') {
        if (bind === WILDCARD) throw new Error(`${service.origin}: an auto-detected port ${port.number} without a VIP is not modelled`);
        if (!current) this.listeners.set(key, { kind: 'sniffed', key, port: port.number, service });
        else throw conflict(key, current, service);
      } else if (isTls(port.protocol) && bind === WILDCARD) {
        if (!current) this.listeners.set(key, { kind: 'tls', key, port: port.number, byServerName: new Map([[service.host, service]]) });
        else if (current.kind === 'tls') { if (!current.byServerName.has(service.host)) current.byServerName.set(service.host, service); }
        else throw conflict(key, current, service);
      } else if (!current) {
        this.listeners.set(key, { kind: 'tcp', key, port: port.number, service, dropped: [] });
      } else if (current.kind === 'tcp') {
        // TCP over TCP: both chains match everything, so the incoming one is dropped and the first service keeps
        // the port (`listener.go` mergeTCPFilterChains; pilot_conflict_outbound_listener_tcp_over_current_tcp).
        current.dropped.push(service);
      } else {
        throw conflict(key, current, service);
      }
    }
  }

  /**
   * EnvoyFilter patches this model understands, applied in the SIDECAR_OUTBOUND context (istio/istio
   * `pilot/pkg/networking/core/envoyfilter/*_patch.go`); any other patch throws.
   */
  /**
   * Whether an EnvoyFilter applies to this pod: no selector, or `workloadSelector.labels` a subset of the pod's labels
   * (push_context.go getMatchedEnvoyFilters `efw.workloadSelector.SubsetOf(proxy.Labels)`, 1.22–1.26; 1.28
   * PolicyMatcherForProxy … ShouldAttachPolicy, same semantics). `targetRefs` is for gateways and is not modelled.
   */
  private selects(filter: KubeObject): boolean {
    const where = `EnvoyFilter ${filter.metadata.namespace}/${filter.metadata.name}`;
    if (filter.spec?.targetRefs) throw new Error(`${where}: targetRefs are not modelled`);
    const selector = filter.spec?.workloadSelector;
    if (!selector) return true;
    const unknown = Object.keys(selector).filter(k => k !== 'labels');
    if (unknown.length) throw new Error(`${where}: workloadSelector ${unknown.join(', ')} is not modelled`);
    if (!this.podLabels) {
      throw new Error(`${where} selects pods by labels ${JSON.stringify(selector.labels ?? {})}: the model is for one pod, give SidecarModelOptions.podLabels`);
    }
    const selected = Object.entries<string>(selector.labels ?? {}).every(([k, v]) => this.podLabels![k] === v);
    (selected ? this.envoyFilters.applied : this.envoyFilters.notSelected).push(`${filter.metadata.namespace}/${filter.metadata.name}`);
    return selected;
  }

  private applyEnvoyFilter(filter: KubeObject): void {
    const where = `EnvoyFilter ${filter.metadata.namespace}/${filter.metadata.name}`;
    for (const [i, p] of (filter.spec?.configPatches ?? []).entries()) {
      const at = `${where} configPatches[${i}]`;
      const context = p.match?.context ?? 'ANY';
      if (context !== 'SIDECAR_OUTBOUND' && context !== 'ANY') continue;
      const value = p.patch?.value ?? {};
      if (p.applyTo === 'LISTENER' && p.patch?.operation === 'MERGE' && p.match?.listener?.name === 'virtualOutbound') {
        // MERGE appends repeated fields (`pkg/proto/merge/merge.go` mergeList) and sets scalars.
        const unknown = Object.keys(value).filter(k => !['listener_filters', 'listenerFilters', 'listener_filters_timeout', 'listenerFiltersTimeout',
          'continue_on_listener_filters_timeout', 'continueOnListenerFiltersTimeout'].includes(k));
        if (unknown.length) throw new Error(`${at}: listener fields ${unknown.join(', ')} are not modelled`);
        for (const f of value.listener_filters ?? value.listenerFilters ?? []) {
          if (f.name !== 'envoy.filters.listener.tls_inspector') throw new Error(`${at}: listener filter ${f.name} is not modelled`);
          this.virtualOutbound.tlsInspector = true;
        }
        const timeout = value.listener_filters_timeout ?? value.listenerFiltersTimeout;
        if (timeout !== undefined) this.virtualOutbound.filtersTimeoutSeconds = protoDurationSeconds(timeout, at);
        const cont = value.continue_on_listener_filters_timeout ?? value.continueOnListenerFiltersTimeout;
        if (cont !== undefined) this.virtualOutbound.continueOnTimeout = cont === true;
      } else if (p.applyTo === 'HTTP_ROUTE' && p.patch?.operation === 'INSERT_FIRST' && p.match?.routeConfiguration?.vhost?.name) {
        const rc = p.match.routeConfiguration;
        if (rc.portNumber === undefined) throw new Error(`${at}: a route patch without portNumber is not modelled`);
        const route = value.route ?? {};
        const match = value.match ?? {};
        if (!route.cluster || Object.keys(match).some(k => !['prefix', 'connect_matcher', 'connectMatcher'].includes(k))) {
          throw new Error(`${at}: only prefix and connect_matcher routes to a named cluster are modelled`);
        }
        const unknown = [...Object.keys(value).filter(k => !['name', 'match', 'route', 'request_headers_to_remove'].includes(k)),
          ...Object.keys(route).filter(k => !['cluster', 'timeout', 'idle_timeout', 'upgrade_configs', 'upgradeConfigs'].includes(k)).map(k => `route.${k}`)];
        if (unknown.length) throw new Error(`${at}: route fields ${unknown.join(', ')} are not modelled`);
        const key = `${rc.portNumber}/${rc.vhost.name}`;
        const upgrades: any[] = route.upgrade_configs ?? route.upgradeConfigs ?? [];
        const patched: PatchedRoute = {
          name: value.name ?? '', connect: 'connect_matcher' in match || 'connectMatcher' in match, prefix: match.prefix, cluster: route.cluster,
          upgradeConnect: upgrades.some(u => (u.upgrade_type ?? u.upgradeType) === 'CONNECT' && u.connect_config === undefined && u.connectConfig === undefined),
          // Envoy's route timeout defaults to 15 s when unset (router `config_impl.cc` DEFAULT_ROUTE_TIMEOUT_MS).
          timeoutSeconds: route.timeout === undefined ? 15 : protoDurationSeconds(route.timeout, at),
          requestHeadersToRemove: (value.request_headers_to_remove ?? []).map((h: string) => h.toLowerCase()),
          origin: at,
        };
        this.patchedRoutes.set(key, [patched, ...(this.patchedRoutes.get(key) ?? [])]);
      } else if (p.applyTo === 'CLUSTER' && p.patch?.operation === 'MERGE' && p.match?.cluster?.name) {
        const options = value.typed_extension_protocol_options?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
        const http1 = options?.explicit_http_config?.http_protocol_options;
        if (!http1) throw new Error(`${at}: only HttpProtocolOptions.explicit_http_config.http_protocol_options is modelled`);
        const unknown = Object.keys(http1).filter(k => !['send_fully_qualified_url', 'header_key_format'].includes(k));
        if (unknown.length) throw new Error(`${at}: http_protocol_options ${unknown.join(', ')} are not modelled`);
        const formatter = http1.header_key_format?.stateful_formatter;
        if (http1.header_key_format && (formatter?.name !== 'preserve_case' || Object.keys(http1.header_key_format).length !== 1)) {
          throw new Error(`${at}: header_key_format other than the preserve_case stateful formatter is not modelled`);
        }
        if (http1.send_fully_qualified_url === true) this.fullyQualifiedUrlClusters.add(p.match.cluster.name);
        this.clusterHttp1.set(p.match.cluster.name, { fullyQualifiedUrl: http1.send_fully_qualified_url === true, preserveCase: formatter !== undefined, origin: at });
      } else if (p.applyTo === 'NETWORK_FILTER' && p.patch?.operation === 'MERGE' && p.match?.listener?.portNumber !== undefined
        && p.match.listener.filterChain?.filter?.name === 'envoy.filters.network.http_connection_manager') {
        // Merged into the HCM of every chain of listener 0.0.0.0_<port> that has one (envoyfilter/listener_patch.go).
        const unknownMatch = Object.keys(p.match.listener).filter(k => !['portNumber', 'filterChain'].includes(k));
        if (unknownMatch.length) throw new Error(`${at}: listener match ${unknownMatch.join(', ')} is not modelled`);
        const hcm = value.typed_config ?? {};
        const unknown = Object.keys(value).filter(k => k !== 'typed_config').concat(Object.keys(hcm)
          .filter(k => !['@type', 'normalize_path', 'merge_slashes', 'path_with_escaped_slashes_action'].includes(k)));
        if (unknown.length) throw new Error(`${at}: HttpConnectionManager fields ${unknown.join(', ')} are not modelled`);
        const prev = this.hcmPatches.get(p.match.listener.portNumber);
        this.hcmPatches.set(p.match.listener.portNumber, {
          normalizePath: hcm.normalize_path ?? prev?.normalizePath, mergeSlashes: hcm.merge_slashes ?? prev?.mergeSlashes,
          escapedSlashes: hcm.path_with_escaped_slashes_action ?? prev?.escapedSlashes, origin: at,
        });
      } else if (p.applyTo === 'VIRTUAL_HOST' && p.patch?.operation === 'MERGE' && p.match?.routeConfiguration?.vhost?.name
        && p.match.routeConfiguration.portNumber !== undefined) {
        const unknown = Object.keys(value).filter(k => k !== 'request_headers_to_remove');
        if (unknown.length) throw new Error(`${at}: virtual host fields ${unknown.join(', ')} are not modelled`);
        const key = `${p.match.routeConfiguration.portNumber}/${p.match.routeConfiguration.vhost.name}`;
        // MERGE appends repeated fields (pkg/proto/merge mergeList).
        const headers = [...(this.vhostHeadersToRemove.get(key)?.headers ?? []), ...(value.request_headers_to_remove ?? []).map((h: string) => h.toLowerCase())];
        this.vhostHeadersToRemove.set(key, { headers, origin: at });
      } else {
        throw new Error(`${at}: applyTo ${p.applyTo} ${p.patch?.operation} is not modelled`);
      }
    }
  }

  /** The listener a connection to `ip:port` is handed to after virtualOutbound: exact address, then the wildcard (Envoy `connection_handler_impl.cc` getBalancedHandlerByAddress). */
  public listenerFor(ip: string, port: number): Listener | undefined {
    return this.listeners.get(`${ip}:${port}`) ?? this.listeners.get(`${WILDCARD}:${port}`);
  }

  /** The address a crawler connects to for a host: a visible Service's cluster IP, else some external address. */
  private addressOf(host: string): string {
    return this.services.find(s => s.vip && s.host === host)?.vip ?? `203.0.113.${1 + (hash(host) % 250)}`;
  }

  /** What this sidecar reports for one crawler flow. */
  public observe(flow: CrawlerFlow): Observation[] {
    switch (flow.kind) {
      case 'http': {
        const port = flow.port ?? 80;
        const authority = port === 80 ? flow.host : `${flow.host}:${port}`;
        return this.httpOverTcp(this.addressOf(flow.host), port, {
          method: 'GET', version: flow.httpVersion, authority, perSecond: flow.perSecond, perConnection: flow.requestsPerConnection ?? 1,
          upBytes: flow.upBytes, downBytes: flow.downBytes, durationMs: flow.durationMs, answer: () => ({ code: flow.responseCode }),
        });
      }
      case 'tls':
        return this.tls(this.addressOf(flow.host), flow.port ?? 443, flow.sni === false ? '' : flow.host, flow);
      case 'gateway': {
        const gw = parseHostPort(flow.gateway);
        const connect = flow.scheme === 'https';
        return this.httpOverTcp(this.addressOf(gw.host), gw.port, {
          method: connect ? 'CONNECT' : 'GET',
          // CONNECT's authority is the target host:port; an absolute-form URL's host becomes :authority (Envoy's HTTP/1 codec).
          authority: connect ? `${flow.target}:443` : flow.target,
          perSecond: flow.perSecond, perConnection: connect ? 1 : flow.requestsPerConnection ?? 1,
          upBytes: flow.upBytes, downBytes: flow.downBytes, durationMs: flow.durationMs,
          // A forward proxy answers its protocol only: absolute-form requests and CONNECT. An origin-form request
          // (what Envoy sends without send_fully_qualified_url, or through PassthroughCluster) is a bad request to it.
          answer: (cluster, absoluteForm) => (connect || absoluteForm) && (cluster === undefined || this.servesGateway(cluster, gw))
            ? { code: flow.responseCode } : { code: 400 },
        });
      }
      case 'server-first':
      case 'silent': {
        const d = this.deliver(flow);
        // No connection is created while listener filters wait, so no network filter (istio.stats) sees it.
        if (d.outcome === 'hung') return [];
        if (d.outcome !== 'delivered') throw new Error(`${d.path}: metrics of a connection Envoy closes before it reaches its destination are not modelled`);
        const service = this.services.find(s => s.ports.some(p => d.cluster === `outbound|${p.number}||${s.host}`));
        const [up, down] = flow.kind === 'silent' ? [0, 0] : [flow.upBytes, flow.downBytes];
        return [this.tcpObservation(service, '', { connectionsPerSecond: flow.perSecond, upBytesPerSecond: flow.perSecond * up, downBytesPerSecond: flow.perSecond * down }, d.path)];
      }
    }
  }

  /** Where a flow's first connection goes: the address the crawler connects to and its port. */
  private destinationOf(flow: CrawlerFlow): { ip: string; port: number } {
    switch (flow.kind) {
      case 'http': return { ip: this.addressOf(flow.host), port: flow.port ?? 80 };
      case 'tls': return { ip: this.addressOf(flow.host), port: flow.port ?? 443 };
      case 'gateway': {
        const gw = parseHostPort(flow.gateway);
        return { ip: this.addressOf(gw.host), port: gw.port };
      }
      case 'server-first': case 'silent': return { ip: this.addressOf(flow.host), port: flow.port };
    }
  }

  /**
   * The listener-filter stage of a connection, before any filter chain: virtualOutbound's configured listener
   * filters run first and the implicit original_dst last (Envoy `listener_impl.cc` ListenerImpl: createListenerFilterFactories,
   * then buildOriginalDstListenerFilter push_back). A tls_inspector returns StopIteration until the client sends
   * bytes (`tls_inspector.cc` Filter::onAccept); 5 non-TLS bytes end it at once (BoringSSL record header; Envoy test
   * TlsInspectorTest.NotSsl). On its timeout with continue_on_listener_filters_timeout, newConnection() runs on the
   * accepting listener and original_dst never runs (`active_tcp_socket.cc` onTimeout): no hand-off, the local address
   * is still the redirect port 15001, which virtualOutbound's `virtualOutbound-blackhole` chain matches
   * (istio/istio `listener_builder.go` blackholeFilterChain) → BlackHoleCluster. Without continue the socket is closed.
   * A timeout of 0 starts no timer (`active_tcp_socket.cc` startTimer): the filter waits as long as the client does.
   * After the hand-off the target listener's own filters run: `0.0.0.0_<tls port>` has a tls_inspector with timeout
   * 0s, an HTTP listener (or a sniffed port) an http_inspector with `meshConfig.protocolDetectionTimeout`, 0s by default
   * (istio/istio `listener.go` buildListenerFromEntry; `pkg/config/mesh/mesh.go` DefaultMeshConfig); a TCP listener none.
   */
  public accept(flow: CrawlerFlow): Acceptance {
    const { ip, port } = this.destinationOf(flow);
    const bytes = clientFirstBytes(flow);
    const sni = flow.kind === 'tls' && flow.sni !== false ? flow.host.toLowerCase() : '';
    const sources: string[] = [];
    const vo = this.virtualOutbound;
    let seen = '';
    if (vo.tlsInspector) {
      sources.push('virtualOutbound listener_filters: tls_inspector (EnvoyFilter LISTENER MERGE), then the implicit original_dst (Envoy listener_impl.cc buildOriginalDstListenerFilter)');
      if (bytes === 'nothing') {
        // Envoy's default listener_filters_timeout is 15 s when unset (listener_impl.cc PROTOBUF_GET_MS_OR_DEFAULT 15000).
        const timeout = vo.filtersTimeoutSeconds ?? 15;
        sources.push('Envoy tls_inspector.cc Filter::onAccept: StopIteration until the client sends bytes');
        if (timeout === 0) {
          return { handedOff: false, delayMs: 'forever', closed: false, listener: 'virtualOutbound', sni: '', sources: [...sources, 'Envoy active_tcp_socket.cc startTimer: no timer for a 0 timeout'],
            path: 'virtualOutbound: tls_inspector waits for the client\'s first bytes (no timeout)' };
        }
        const ms = timeout * 1000;
        if (vo.continueOnTimeout) {
          return { handedOff: false, delayMs: ms, closed: true, listener: 'virtualOutbound', sni: '',
            sources: [...sources, 'Envoy active_tcp_socket.cc onTimeout: continue → newConnection() without original_dst, no hand-off',
              'istio/istio listener_builder.go blackholeFilterChain: destination port 15001 → BlackHoleCluster'],
            path: `virtualOutbound: tls_inspector timed out after ${timeout}s → virtualOutbound-blackhole → BlackHoleCluster (closed)` };
        }
        return { handedOff: false, delayMs: ms, closed: true, listener: 'virtualOutbound', sni: '', sources: [...sources, 'Envoy active_tcp_socket.cc onTimeout: unlink(), the socket is closed'],
          path: `virtualOutbound: tls_inspector timed out after ${timeout}s → socket closed` };
      }
      seen = bytes === 'tls-client-hello' ? sni : '';
    }
    const listener = this.listenerFor(ip, port);
    if (!listener) {
      return { handedOff: true, delayMs: 0, closed: false, listener: 'virtualOutbound', sni: seen, path: 'virtualOutbound → virtualOutbound-catchall-tcp',
        sources: [...sources, 'no listener for the port: virtualOutbound\'s own chains (listener_builder.go buildVirtualOutboundListener)'] };
    }
    sources.push(`original_dst hand-off to listener ${listener.key} (exact address, then 0.0.0.0; pilot/pkg/simulation/traffic.go matchListener)`);
    if (listener.kind !== 'tcp' && bytes === 'nothing') {
      const inspector = listener.kind === 'tls' ? 'tls_inspector' : 'http_inspector';
      return { handedOff: true, delayMs: 'forever', closed: false, listener: listener.key, sni: '',
        sources: [...sources, `listener.go buildListenerFromEntry: ${inspector}, listener_filters_timeout ${listener.kind === 'tls' ? '0s (no timeout)' : 'protocolDetectionTimeout, 0s by default (no timeout)'}`],
        path: `listener ${listener.key}: ${inspector} waits for the client's first bytes (no timeout)` };
    }
    if (listener.kind === 'tls') {
      sources.push('listener.go buildListenerFromEntry: tls_inspector on the wildcard TLS listener');
      seen = bytes === 'tls-client-hello' ? sni : seen;
    }
    return { handedOff: true, delayMs: 0, closed: false, listener: listener.key, sni: seen, path: `listener ${listener.key}`, sources };
  }

  /**
   * Which chain of a wildcard HTTP listener an HTTP/1.0 request takes: the HTTP chain matches ALPN `http/1.0` only with
   * PILOT_HTTP10 (`listener.go` plaintextHTTPALPNs; per-pod HTTP10 metadata sets accept_http_10 on a connection manager
   * the request never reaches), else PassthroughFilterChain as TCP. With PILOT_HTTP10 the connection manager accepts it
   * unless Istio 1.26/1.27 overwrote accept_http_10 with the preserve-case HttpProtocolOptions (buildHTTPConnectionManager;
   * fixed in 1.28): Envoy then answers 426 (`codec_impl.cc` checkProtocolVersion).
   */
  private http10Chain(listener: Listener): { passthrough: boolean; rejected: boolean } {
    if (!this.mesh.pilotHttp10) return { passthrough: true, rejected: false };
    const minor = Number(this.mesh.istioVersion.split('.')[1]);
    return { passthrough: false, rejected: this.proxyConfig.preserveHttp1HeaderCase && (minor === 26 || minor === 27) && listener.kind === 'http' };
  }

  /** The route an HTTP request takes in route configuration `<port>` (see routeHttp). */
  private routeOf(listener: Extract<Listener, { kind: 'http' }>, authority: string, connect: boolean) {
    const vhost = listener.services.find(s => s.host === authority || `${s.host}:${listener.port}` === authority);
    const vhostName = vhost ? `${vhost.host}:${listener.port}` : this.outboundPolicy === 'ALLOW_ANY' ? 'allow_any' : 'block_all';
    const routes = this.patchedRoutes.get(`${listener.port}/${vhostName}`) ?? [];
    const patched = routes.find(r => (connect ? r.connect : r.prefix !== undefined && '/'.startsWith(r.prefix)));
    return { vhost, vhostName, patched };
  }

  /**
   * What the sidecar does to a flow: whether it arrives (accept), and on an HTTP connection manager what it adds,
   * removes and rewrites, from the pod's ProxyConfig, the mesh settings and the EnvoyFilters that apply to the pod.
   * TCP filter chains (istio.stats + tcp_proxy) change no byte.
   */
  public deliver(flow: CrawlerFlow): Delivery {
    const a = this.accept(flow);
    const unchanged = { headersAdded: [] as string[], headersRemoved: [] as string[], headerCaseKept: true, pathKept: true, responseHeadersChanged: [] as string[] };
    if (a.delayMs === 'forever') return { ...unchanged, outcome: 'hung', delayMs: 'forever', cluster: 'none', path: a.path, sources: a.sources };
    if (a.closed) return { ...unchanged, outcome: 'closed', delayMs: a.delayMs, cluster: a.path.includes('BlackHoleCluster') ? 'BlackHoleCluster' : 'none', path: a.path, sources: a.sources };
    const { ip, port } = this.destinationOf(flow);
    const listener = this.listenerFor(ip, port);
    const tcpSource = 'TCP filter chain istio.stats + tcp_proxy (listener_builder.go buildOutboundCatchAllNetworkFiltersOnly, networkfilter.go buildCompleteNetworkFilters): bytes pass unchanged';
    const tcp = (cluster: string, path: string, more: string[] = []): Delivery => ({ ...unchanged, outcome: 'delivered', delayMs: a.delayMs, cluster, path, sources: [...a.sources, ...more, tcpSource] });
    if (!listener) return tcp('PassthroughCluster', a.path);
    if (listener.kind === 'tcp' || listener.kind === 'sniffed') {
      if (listener.kind === 'sniffed' && (flow.kind === 'http' || flow.kind === 'gateway')) throw new Error(`${listener.key}: HTTP to a sniffed VIP port is not modelled`);
      return tcp(`outbound|${listener.port}||${listener.service.host}`, `listener ${listener.key} → ${listener.service.host}`);
    }
    if (listener.kind === 'tls') {
      const service = listener.byServerName.get(a.sni);
      return service ? tcp(`outbound|${listener.port}||${service.host}`, `listener ${listener.key} (SNI ${a.sni}) → ${service.host}`)
        : tcp('PassthroughCluster', `listener ${listener.key} → PassthroughFilterChain`, ['listener.go buildListenerFromEntry: default_filter_chain PassthroughFilterChain → PassthroughCluster']);
    }
    if (flow.kind !== 'http' && flow.kind !== 'gateway') {
      // TLS (or other non-HTTP bytes) miss the raw_buffer + HTTP ALPN chain.
      return tcp('PassthroughCluster', `listener ${listener.key} → PassthroughFilterChain`, ['listener.go: wildcard HTTP chains match raw_buffer and HTTP ALPNs only']);
    }
    const version = flow.kind === 'http' ? flow.httpVersion ?? '1.1' : '1.1';
    const sources = [...a.sources];
    if (version === '1.0') {
      const chain = this.http10Chain(listener);
      if (chain.passthrough) {
        return tcp('PassthroughCluster', `listener ${listener.key} → PassthroughFilterChain (HTTP/1.0)`,
          [`listener.go plaintextHTTPALPNs: http/1.0 only with PILOT_HTTP10${this.proxyConfig.http10Metadata ? ' (the pod\'s HTTP10 metadata sets accept_http_10 on a connection manager the request never reaches)' : ''}`]);
      }
      if (chain.rejected) {
        return { ...unchanged, outcome: 'rejected', delayMs: a.delayMs, cluster: 'none', path: `listener ${listener.key}: HTTP connection manager answers 426 Upgrade Required`,
          sources: [...sources, `Istio ${this.mesh.istioVersion} buildHTTPConnectionManager: preserveHttp1HeaderCase overwrites HttpProtocolOptions, accept_http_10 lost`, 'Envoy codec_impl.cc checkProtocolVersion: 426'] };
      }
      sources.push('PILOT_HTTP10: HTTP chain matches http/1.0 and accept_http_10 is set (listener.go buildSidecarOutboundHTTPListenerOpts)');
    }
    const connect = flow.kind === 'gateway' && flow.scheme === 'https';
    const authority = flow.kind === 'http' ? (port === 80 ? flow.host : `${flow.host}:${port}`) : connect ? `${flow.target}:443` : flow.target;
    const { vhost, vhostName, patched } = this.routeOf(listener, authority, connect);
    if (vhostName === 'block_all') {
      return { ...unchanged, outcome: 'rejected', delayMs: a.delayMs, cluster: 'BlackHoleCluster', path: `${listener.key} block_all (502)`, sources: [...sources, 'httproute.go buildCatchAllVirtualHost: REGISTRY_ONLY'] };
    }
    if (connect && !patched?.upgradeConnect) {
      return { ...unchanged, outcome: 'rejected', delayMs: a.delayMs, cluster: 'none', path: `${listener.key} vhost ${vhostName}: no route for CONNECT (404 NR)`, sources };
    }
    const cluster = patched ? patched.cluster : vhost ? `outbound|${listener.port}||${vhost.host}` : 'PassthroughCluster';
    const service = patched ? this.services.find(s => patched.cluster === `outbound|${listener.port}||${s.host}`) : vhost;
    if (patched) sources.push(`${patched.origin}: route ${patched.name} → ${patched.cluster}`);
    else if (!vhost) sources.push('httproute.go buildCatchAllVirtualHost: allow_any → PassthroughCluster, timeout 0, include_request_attempt_count, no header mutation');
    if (vhost && !patched && this.mesh.tracer !== 'none') throw new Error(`${listener.key} vhost ${vhostName}: the route decorator's headers with a tracer are not modelled`);
    const pc = this.proxyConfig;
    const minor = Number(this.mesh.istioVersion.split('.')[1]);
    const vhostRemoval = this.vhostHeadersToRemove.get(`${listener.port}/${vhostName}`);
    const removals = [...new Set([...(vhostRemoval?.headers ?? []), ...(patched?.requestHeadersToRemove ?? [])])];
    if (vhostRemoval) sources.push(`${vhostRemoval.origin}: request_headers_to_remove ${vhostRemoval.headers.join(', ')}`);
    if (patched?.requestHeadersToRemove.length) sources.push(`${patched.origin}: route request_headers_to_remove ${patched.requestHeadersToRemove.join(', ')}`);
    // Set before the router, so route and virtual host request_headers_to_remove (router finalizeRequestHeaders) remove them.
    const beforeRouter = ['x-forwarded-proto'];
    sources.push('Envoy conn_manager_utility.cc mutateRequestHeaders: x-forwarded-proto set when absent, x-envoy-internal stripped; no x-forwarded-for (use_remote_address false, features.UseRemoteAddress)');
    if (!pc.requestIdDisabled) beforeRouter.push('x-request-id');
    sources.push(`x-request-id: ${pc.requestIdDisabled ? 'requestId.disabled → generate_request_id false' : 'generate_request_id defaults to true'} (proxy_headers.go GetProxyHeadersFromProxyConfig; Envoy config.cc)`);
    if (pc.xForwardedPort && minor >= 28) beforeRouter.push('x-forwarded-port');
    // xForwardedHost (1.28+) sets append_x_forwarded_host on allow_any, which Envoy applies only with a host rewrite: nothing here.
    const external = cluster === 'PassthroughCluster' || service?.meshExternal === true;
    if (!(pc.metadataExchangeInMesh && external)) beforeRouter.push('x-envoy-peer-metadata', 'x-envoy-peer-metadata-id');
    sources.push(`metadata exchange: ${pc.metadataExchangeInMesh ? 'IN_MESH → skip_external_clusters' : 'istio_headers {} (default)'}; ${cluster} is ${external ? '' : 'not '}external`
      + ' (istio/proxy peer_metadata/filter.cc skipMXHeaders: PassthroughCluster or cluster metadata istio.external, set for MESH_EXTERNAL services by cluster_builder.go)');
    const router: string[] = [];
    if (!pc.attemptCountDisabled) router.push('x-envoy-attempt-count');
    sources.push(`x-envoy-attempt-count: vhost include_request_attempt_count ${!pc.attemptCountDisabled} (httproute.go, proxy_headers.go; Envoy router.cc)`);
    // allow_any: Timeout 0 (buildCatchAllVirtualHost); a service's default route: Notimeout (route.go setTimeout).
    const timeout = patched ? patched.timeoutSeconds : 0;
    if (timeout > 0 && !pc.envoyDebugHeadersDisabled) router.push('x-envoy-expected-rq-timeout-ms');
    sources.push(`x-envoy-expected-rq-timeout-ms: route timeout ${timeout}s, suppress_envoy_headers ${pc.envoyDebugHeadersDisabled} (Envoy router.cc setTimeoutHeaders)`);
    if (this.mesh.tracer === 'zipkin') {
      router.push('x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled');
      sources.push('tracer zipkin: B3 injected on every upstream request, sampled or not (Envoy upstream_request.cc injectContext, zipkin Span::injectContext)');
    } else {
      sources.push('no tracer: the HCM tracing block has no provider, Envoy\'s null tracer injects nothing (tracing.go configureTracing; Helm global.proxy.tracer none)');
    }
    const late = removals.filter(h => router.includes(h));
    if (late.length) throw new Error(`request_headers_to_remove of headers the router sets later (${late.join(', ')}) is not modelled`);
    const headersAdded = [...beforeRouter.filter(h => !removals.includes(h)), ...router];
    const responseHeadersChanged: string[] = [];
    if (!pc.server.disabled) responseHeadersChanged.push('server');
    if (!pc.envoyDebugHeadersDisabled) responseHeadersChanged.push('x-envoy-upstream-service-time');
    sources.push(`response: server ${pc.server.disabled ? 'PASS_THROUGH' : 'OVERWRITE'} (conn_manager_impl.cc); x-envoy-upstream-service-time unless suppress_envoy_headers (router.cc)`);
    // Header case: the downstream codec's formatter keeps request names, the upstream cluster's keeps response names
    // (Envoy http1/codec_impl.cc lowercases on decode; encodeHeadersBase uses the formatter the decoding codec attached).
    let headerCaseKept = true;
    if (version !== '2') {
      const requestCase = pc.preserveHttp1HeaderCase && minor >= 25;
      const patchedCluster = this.clusterHttp1.get(cluster);
      const responseCase = patchedCluster ? patchedCluster.preserveCase
        : cluster === 'PassthroughCluster' ? pc.preserveHttp1HeaderCase && minor >= 28 : pc.preserveHttp1HeaderCase && minor >= 25;
      headerCaseKept = requestCase && responseCase;
      sources.push(`header case: HCM preserve_case ${requestCase} (Istio >= 1.25 with preserveHttp1HeaderCase); ${cluster} preserve_case ${responseCase}`
        + (patchedCluster ? ` (${patchedCluster.origin} replaces the cluster's HttpProtocolOptions)` : cluster === 'PassthroughCluster' ? ' (PassthroughCluster only from 1.28: passthroughHttpProtocolOptionsWithPreserveHeaderCase)' : ''));
    }
    const hcm = this.hcmPatches.get(listener.port);
    const normalize = hcm?.normalizePath ?? this.mesh.pathNormalization !== 'NONE';
    const mergeSlashes = hcm?.mergeSlashes ?? false;
    const requestPath = connect ? '' : flow.path ?? '/';
    const pathKept = !(normalize && /(^|\/)\.\.?(\/|$)|\\/.test(requestPath)) && !(mergeSlashes && requestPath.includes('//'));
    sources.push(`path: normalize_path ${normalize} (${hcm?.normalizePath !== undefined ? hcm.origin : `meshConfig.pathNormalization ${this.mesh.pathNormalization}, listener_builder.go buildHTTPConnectionManager`}), merge_slashes ${mergeSlashes}`);
    return {
      outcome: 'delivered', delayMs: a.delayMs, headersAdded, headersRemoved: [...new Set(['x-envoy-internal', ...removals])], headerCaseKept, pathKept, responseHeadersChanged,
      cluster, path: `${listener.key} ${patched ? `route ${patched.name}` : `vhost ${vhostName}`} → ${cluster}`, sources,
    };
  }

  private servesGateway(cluster: string, gw: { host: string; port: number }): boolean {
    return cluster === `outbound|${gw.port}||${gw.host}` || cluster === 'PassthroughCluster';
  }

  /**
   * Direct TLS. virtualOutbound's listener filters run before the hand-off (Envoy `active_tcp_socket.cc`
   * continueFilterChain, then newConnection), so an inspector there sets the server name for whichever listener
   * takes the connection; without one, `connection.requested_server_name` is "" (Envoy
   * `filters/common/expr/context.cc`: it reads requestedServerName()).
   */
  private tls(ip: string, port: number, sni: string, flow: { perSecond: number; upBytes: number; downBytes: number }): Observation[] {
    const listener = this.listenerFor(ip, port);
    const inspected = this.virtualOutbound.tlsInspector || listener?.kind === 'tls' ? sni : '';
    let cluster: MeshService | undefined;
    let path: string;
    if (!listener) {
      path = 'virtualOutbound → virtualOutbound-catchall-tcp';
    } else if (listener.kind === 'tcp' || listener.kind === 'sniffed') {
      cluster = listener.service;
      path = `listener ${listener.key} → ${listener.service.host}`;
    } else if (listener.kind === 'tls' && listener.byServerName.has(inspected)) {
      cluster = listener.byServerName.get(inspected);
      path = `listener ${listener.key} (SNI ${inspected}) → ${cluster!.host}`;
    } else {
      // The wildcard HTTP chain requires raw_buffer / HTTP ALPNs; TLS takes the PassthroughFilterChain.
      path = `listener ${listener.key} → PassthroughFilterChain`;
    }
    return [this.tcpObservation(cluster, inspected, { connectionsPerSecond: flow.perSecond, upBytesPerSecond: flow.perSecond * flow.upBytes, downBytesPerSecond: flow.perSecond * flow.downBytes }, path)];
  }

  /** Plain HTTP/1.1 or h2c to `ip:port`: an HTTP listener parses it, anything else sees TCP. */
  private httpOverTcp(ip: string, port: number, req: HttpExchange): Observation[] {
    const listener = this.listenerFor(ip, port);
    const connections = req.method === 'CONNECT' ? req.perSecond : req.perSecond / req.perConnection;
    const tcp = (service: MeshService | undefined, path: string) => [this.tcpObservation(service, '', {
      connectionsPerSecond: connections, upBytesPerSecond: req.perSecond * req.upBytes, downBytesPerSecond: req.perSecond * req.downBytes,
    }, path)];
    if (!listener) return tcp(undefined, 'virtualOutbound → virtualOutbound-catchall-tcp');
    if (listener.kind === 'tcp' || listener.kind === 'sniffed') {
      if (listener.kind === 'sniffed') throw new Error(`${listener.key}: HTTP to a sniffed VIP port is not modelled`);
      return tcp(listener.service, `listener ${listener.key} → ${listener.service.host}${listener.dropped.length ? ` (dropped: ${listener.dropped.map(s => s.host).join(', ')})` : ''}`);
    }
    if (listener.kind === 'tls') return tcp(undefined, `listener ${listener.key} → PassthroughFilterChain`);
    if (req.version === '1.0') {
      const chain = this.http10Chain(listener);
      if (chain.passthrough) return tcp(undefined, `listener ${listener.key} → PassthroughFilterChain (HTTP/1.0)`);
      if (chain.rejected) throw new Error(`listener ${listener.key}: metrics of the HTTP/1.0 requests the connection manager answers 426 are not modelled`);
    }
    return [this.routeHttp(listener, req)];
  }

  /**
   * Route selection in the HTTP connection manager of a wildcard listener (route configuration `<port>`,
   * `httproute.go` buildSidecarOutboundHTTPRouteConfig): a virtual host per HTTP service on the port (domains
   * host and host:port), then the catch-all `allow_any` (ALLOW_ANY: every path to PassthroughCluster; REGISTRY_ONLY:
   * `block_all`, 502) (`buildCatchAllVirtualHost`). Routes match in order; a CONNECT has no path, so only a
   * `connect_matcher` route takes it, else 404 NR. istio_stats labels the stream from the route and cluster
   * (istio/proxy `istio_stats.cc` populatePeerInfo): destination_service is the Host header, unless the cluster
   * carries service metadata (`outbound|port||host`); route `allow_any` names it PassthroughCluster.
   */
  private routeHttp(listener: Extract<Listener, { kind: 'http' }>, req: HttpExchange): ObservedHttp {
    const vhost = listener.services.find(s => s.host === req.authority || `${s.host}:${listener.port}` === req.authority);
    const vhostName = vhost ? `${vhost.host}:${listener.port}` : this.outboundPolicy === 'ALLOW_ANY' ? 'allow_any' : 'block_all';
    const routes = this.patchedRoutes.get(`${listener.port}/${vhostName}`) ?? [];
    const connect = req.method === 'CONNECT';
    const patched = routes.find(r => (connect ? r.connect : r.prefix !== undefined && '/'.startsWith(r.prefix)));
    const base = { kind: 'http' as const, perSecond: req.perSecond, durationMs: req.durationMs, attributes: { sni: '', host: req.authority } };
    const hostHeader: DestinationLabels = { service: req.authority, serviceName: req.authority, serviceNamespace: 'unknown' };
    if (patched) {
      if (connect && !patched.upgradeConnect) {
        // A CONNECT on a route without a CONNECT upgrade is refused by the router.
        return { ...base, destination: hostHeader, responseCode: 404, responseFlags: 'NR', upBytes: REFUSED_CONNECT_BYTES.up, downBytes: REFUSED_CONNECT_BYTES.down, path: `${listener.key} route ${patched.name}: CONNECT not upgraded` };
      }
      const service = this.services.find(s => patched.cluster === `outbound|${listener.port}||${s.host}`);
      if (!service) throw new Error(`${patched.origin}: cluster ${patched.cluster} is not a cluster of this sidecar`);
      const answer = req.answer(patched.cluster, connect || this.fullyQualifiedUrlClusters.has(patched.cluster));
      return {
        ...base, destination: this.serviceLabels(service), responseCode: answer.code, responseFlags: '-', upBytes: req.upBytes, downBytes: req.downBytes,
        path: `${listener.key} route ${patched.name} → ${patched.cluster}`,
      };
    }
    if (connect) {
      return {
        ...base, destination: hostHeader, responseCode: 404, responseFlags: 'NR', upBytes: REFUSED_CONNECT_BYTES.up, downBytes: REFUSED_CONNECT_BYTES.down,
        path: `${listener.key} vhost ${vhostName}: no route for CONNECT (404 NR)`,
      };
    }
    if (vhost) {
      const answer = req.answer(`outbound|${listener.port}||${vhost.host}`, false);
      return { ...base, destination: this.serviceLabels(vhost), responseCode: answer.code, responseFlags: '-', upBytes: req.upBytes, downBytes: req.downBytes, path: `${listener.key} vhost ${vhostName}` };
    }
    if (vhostName === 'block_all') {
      return { ...base, destination: { ...hostHeader, serviceName: 'BlackHoleCluster' }, responseCode: 502, responseFlags: '-', upBytes: req.upBytes, downBytes: 0, path: `${listener.key} block_all` };
    }
    // PassthroughCluster is ORIGINAL_DST (`cluster_builder.go`): the request goes, in origin form, where the app connected.
    const answer = req.answer(undefined, false);
    return {
      ...base, destination: { ...hostHeader, serviceName: 'PassthroughCluster' }, responseCode: answer.code, responseFlags: answer.code === 0 ? 'UC' : '-',
      upBytes: req.upBytes, downBytes: req.downBytes, path: `${listener.key} allow_any → PassthroughCluster`,
    };
  }

  /**
   * Labels of a cluster with service metadata (`cluster.go` buildServiceMetadata); for PassthroughCluster TCP has
   * no Host header to fall back on: "unknown" (`istio_stats.cc`).
   */
  private serviceLabels(service: MeshService | undefined): DestinationLabels {
    return service
      ? { service: service.host, serviceName: service.name, serviceNamespace: service.namespace }
      : { service: 'unknown', serviceName: 'PassthroughCluster', serviceNamespace: 'unknown' };
  }

  private tcpObservation(service: MeshService | undefined, sni: string, rates: Pick<ObservedTcp, 'connectionsPerSecond' | 'upBytesPerSecond' | 'downBytesPerSecond'>, path: string): ObservedTcp {
    return { kind: 'tcp', destination: this.serviceLabels(service), attributes: { sni }, ...rates, path };
  }

  /**
   * The Telemetry's UPSERT tags of one metric, evaluated on a stream or connection. istio_stats evaluates each CEL
   * expression; a failing one (e.g. `request.host` on a TCP connection, which has no headers) yields "unknown"
   * (`istio_stats.cc` StreamOverrides::evaluate).
   */
  public tags(metric: TelemetryMetric, attributes: Attributes): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [tag, expression] of this.telemetry.upserts[metric] ?? []) out[tag] = evaluate(expression, attributes);
    return out;
  }
}

/** What an HTTP exchange on a connection looks like to the HTTP connection manager. */
interface HttpExchange {
  method: 'GET' | 'CONNECT';
  version?: '1.0' | '1.1' | '2';
  authority: string;
  perSecond: number;
  perConnection: number;
  upBytes: number;
  downBytes: number;
  durationMs: number;
  /** The upstream's answer, given the cluster the request went to and whether it arrived in absolute form. */
  answer: (cluster: string | undefined, absoluteForm: boolean) => { code: number };
}

function evaluate(expression: string, attributes: Attributes): string {
  const literal = /^'([^']*)'$|^"([^"]*)"$/.exec(expression.trim());
  if (literal) return literal[1] ?? literal[2];
  switch (expression.trim()) {
    case 'connection.requested_server_name': return attributes.sni;
    case 'request.host': return attributes.host ?? 'unknown';
    default: throw new Error(`Telemetry expression '${expression}' is not modelled`);
  }
}

function conflict(key: string, current: Listener, service: MeshService): Error {
  return new Error(`listener ${key}: ${service.origin} conflicts with a ${current.kind} listener; this conflict is not modelled`);
}

function protoDurationSeconds(value: unknown, at: string): number {
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(value) : null;
  if (!m) throw new Error(`${at}: '${String(value)}' is not a protobuf duration ('1s', '0.5s')`);
  return Number(m[1]);
}

function hash(text: string): number {
  let h = 0;
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}
