import { KubeObject } from './schemas';
import { CrawlerFlow, parseHostPort } from './crawler-flows';

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
interface PatchedRoute { name: string; connect: boolean; prefix?: string; cluster: string; upgradeConnect: boolean; origin: string }

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
  const t: SidecarTelemetry = { removed: { CLIENT: {}, SERVER: {} }, disabled: { CLIENT: new Set(), SERVER: new Set() }, upserts: {} };
  for (const m of spec?.metrics ?? []) {
    for (const o of m.overrides ?? []) {
      const metrics = !o.match?.metric || o.match.metric === 'ALL_METRICS' ? TELEMETRY_METRICS : [o.match.metric as TelemetryMetric];
      const modes: Array<'CLIENT' | 'SERVER'> = o.match?.mode === 'CLIENT' ? ['CLIENT'] : o.match?.mode === 'SERVER' ? ['SERVER'] : ['CLIENT', 'SERVER'];
      for (const mode of modes) {
        for (const metric of metrics) {
          if (o.disabled === true) t.disabled[mode].add(metric);
          if (o.disabled === false) t.disabled[mode].delete(metric);
          for (const [tag, op] of Object.entries<any>(o.tagOverrides ?? {})) {
            const removed = t.removed[mode][metric] ??= new Set();
            if (op.operation === 'REMOVE') {
              removed.add(tag);
              if (mode === 'CLIENT') t.upserts[metric]?.delete(tag);
            } else {
              removed.delete(tag);
              if (mode === 'CLIENT') (t.upserts[metric] ??= new Map()).set(tag, String(op.value));
            }
          }
        }
      }
    }
  }
  return t;
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

  private constructor(objects: readonly KubeObject[], namespace: string, opts: SidecarModelOptions) {
    this.namespace = namespace;
    const sidecar = objects.find(o => o.kind === 'Sidecar' && o.metadata.namespace === namespace && !o.spec?.workloadSelector);
    this.outboundPolicy = sidecar?.spec?.outboundTrafficPolicy?.mode === 'REGISTRY_ONLY' ? 'REGISTRY_ONLY' : 'ALLOW_ANY';
    this.services = this.importedServices(objects, sidecar, opts);
    for (const service of this.services) this.addListeners(service);
    for (const filter of objects.filter(o => o.kind === 'EnvoyFilter' && (o.metadata.namespace === namespace || o.metadata.namespace === 'istio-system'))) {
      this.applyEnvoyFilter(filter);
    }
    const telemetries = objects.filter(o => o.kind === 'Telemetry' && o.metadata.namespace === namespace && !o.spec?.selector && !o.spec?.targetRefs);
    // Istio applies one selector-less Telemetry per namespace (pilot/pkg/model/telemetry.go namespaceWide); several is a conflict.
    if (telemetries.length > 1) throw new Error(`namespace ${namespace} has ${telemetries.length} Telemetry resources without selector; Istio uses only one`);
    this.telemetry = telemetryFromSpec(telemetries[0]?.spec);
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
  private applyEnvoyFilter(filter: KubeObject): void {
    const where = `EnvoyFilter ${filter.metadata.namespace}/${filter.metadata.name}`;
    if (filter.spec?.workloadSelector || filter.spec?.targetRefs) throw new Error(`${where}: workload selection is not modelled`);
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
        const key = `${rc.portNumber}/${rc.vhost.name}`;
        const upgrades: any[] = route.upgrade_configs ?? route.upgradeConfigs ?? [];
        const patched: PatchedRoute = {
          name: value.name ?? '', connect: 'connect_matcher' in match || 'connectMatcher' in match, prefix: match.prefix, cluster: route.cluster,
          upgradeConnect: upgrades.some(u => (u.upgrade_type ?? u.upgradeType) === 'CONNECT' && u.connect_config === undefined && u.connectConfig === undefined),
          origin: at,
        };
        this.patchedRoutes.set(key, [patched, ...(this.patchedRoutes.get(key) ?? [])]);
      } else if (p.applyTo === 'CLUSTER' && p.patch?.operation === 'MERGE' && p.match?.cluster?.name) {
        const options = value.typed_extension_protocol_options?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
        const http1 = options?.explicit_http_config?.http_protocol_options;
        if (!http1) throw new Error(`${at}: only HttpProtocolOptions.explicit_http_config.http_protocol_options is modelled`);
        if (http1.send_fully_qualified_url === true) this.fullyQualifiedUrlClusters.add(p.match.cluster.name);
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
          method: 'GET', authority, perSecond: flow.perSecond, perConnection: flow.requestsPerConnection ?? 1,
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
    }
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
