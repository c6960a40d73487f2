import { Construct } from 'constructs';
import { ApiObject, Chart, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { GATEWAY_IMAGE, GATEWAY_METRICS_PATH, GATEWAY_METRICS_PORT, GATEWAY_RUN_AS_USER, GATEWAY_SCRIPT_PATH, GATEWAY_USAGE_PATH, bundleGateway } from '../gateway';
import { addRuntimeDefaultSeccomp, restrictedContainerSecurity } from './internal/hardening';
import { NAMESPACE_NAME_LABEL } from './network/peers';
import { PodScrape } from './prometheus/scrape-config';
import { DEMO_GATEWAY_JOB } from '../core/metric-contract';
import { PropertyChecks, PropertyError, checkDnsLabel, checkLabels, checkNonEmpty, checkNumber, checkUnique } from '../core/validation';
import { VendorCatalog, VendorEndpoint } from '../core/vendor';
import { DEFAULT_CRAWLER_NAMESPACE } from './mesh-telemetry';
import { DEFAULT_MONITORING_NAMESPACE } from './metrics/settings';
import { CaCertificateSource, ProxyCredentials } from './vendor-crawler';

/** Namespace of the demo gateways unless told otherwise: outside the mesh, so nothing measures them but their own metrics. */
export const DEMO_NAMESPACE = 'proxy-demo';
/** Name of the demo CA: a TLS Secret (certificate and key) beside the gateways, a ConfigMap (certificate only) beside the crawlers. */
export const DEMO_CA_NAME = 'proxy-telemetry-demo-ca';
/** Key of the CA certificate in the crawler-side ConfigMap. */
export const DEMO_CA_CERTIFICATE_KEY = 'ca.crt';
/**
 * Annotation of each demo gateway Deployment: the Secrets and ConfigMaps its pods and its crawlers need, which hold
 * keys and passwords and so are made at deploy time (`proxy-telemetry demo-secrets`), never synthesized into dist/.
 */
export const DEMO_SECRETS_ANNOTATION = 'proxy-telemetry.io/demo-secrets';
/** Label of the gateways' pods, for discovery and network policies. */
export const DEMO_GATEWAY_APP = 'proxy-demo-gateway';
/** Container port of the site server (the Services of `sites` map ports 80 and 443 to it). */
export const DEMO_SITE_PORT = 8443;
/**
 * Port of the gateway's banner: a server-first TCP service (it speaks first, like a database) that deploy's probe
 * reaches from a crawler pod through its sidecar, to prove the sidecar neither delays nor closes such connections.
 */
export const DEMO_BANNER_PORT = 2525;
/** Port of the gateway's usage API (`usageClients`): bytes and requests per account and hour, as vendors report them. */
export const DEMO_USAGE_PORT = 9092;
/** Key of the Bearer token in a usage-token Secret. */
export const DEMO_USAGE_TOKEN_KEY = 'token';

/** Name of the usage port: `http-` tells Istio (in the clients' namespace) that it speaks HTTP. */
const USAGE_PORT_NAME = 'http-usage';

// The defaults of DemoGateway's props, which their docs name.
/** Relative share of pages of a page size. */
export const DEFAULT_PAGE_WEIGHT = 1;
/** Gateway pods. */
export const DEFAULT_GATEWAY_REPLICAS = 1;
/** Share of proxied requests and CONNECTs answered 429: none. */
export const DEFAULT_RATE_LIMIT_SHARE = 0;
/** Container resources of a demo gateway. */
export const DEFAULT_GATEWAY_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(500) },
  memory: { request: Size.mebibytes(64), limit: Size.mebibytes(192) },
};

/**
 * Something a demo gateway or its crawlers need at deploy time:
 * - `ca`: a TLS Secret with the demo CA's certificate and key (one per namespace, shared by the gateways there);
 * - `ca-certificate`: a ConfigMap with that CA's certificate only, for crawlers (`CA_FILE`);
 * - `credentials`: a Secret with `username` and `password`, the same wherever the same name is needed;
 * - `stale-credentials`: a Secret with the same user name and another password: a misconfigured crawler;
 * - `usage-token`: a Secret with `token` (DEMO_USAGE_TOKEN_KEY), the usage API's Bearer token, the same wherever the
 *   same name is needed.
 */
export interface DemoSecret {
  readonly kind: 'Secret' | 'ConfigMap';
  readonly namespace: string;
  readonly name: string;
  readonly content: 'ca' | 'ca-certificate' | 'credentials' | 'stale-credentials' | 'usage-token';
  /** For stale credentials: the Secret whose user name they share. */
  readonly of?: string;
}

/** A page size of the synthetic sites, with its relative weight. */
export interface PageSize {
  /** Body size in bytes, 1 to 16 MiB. */
  readonly bytes: number;
  /**
   * Relative share of pages of this size.
   * @default DEFAULT_PAGE_WEIGHT (1)
   */
  readonly weight?: number;
}

/** The pods that may read a demo gateway's usage API: a usage collector. */
export interface DemoUsageClients {
  /** Their namespace, where the token Secret is placed too. */
  readonly namespace: string;
  /** Labels that select them (at least one): no other pod of the namespace may connect. */
  readonly podLabels: Record<string, string>;
}

/** Where a usage collector finds a demo gateway's usage API. */
export interface DemoUsageApi {
  /**
   * `http://<service>.<namespace>.svc.cluster.local:9092/v1/usage?from={from}&to={to}`; `{from}` and `{to}` stand
   * for the window's ends (ISO 8601 or Unix seconds).
   */
  readonly url: string;
  /** The Secret with the Bearer token, made at deploy time in the clients' namespace. */
  readonly tokenSecret: {
    readonly name: string;
    readonly key: string;
    readonly namespace: string;
  };
}

export interface DemoGatewayProps {
  /** The vendor model. */
  readonly vendors: VendorCatalog;
  /**
   * The vendor this gateway plays. Its endpoint, an in-cluster Service name
   * `<service>.<namespace>.svc.cluster.local:<port>`, names the gateway's Service, namespace and port.
   */
  readonly vendor: string;
  /**
   * Which of the vendor's endpoints this gateway is, as `host:port`.
   * @default - the vendor's first in-cluster endpoint
   */
  readonly endpoint?: string;
  /**
   * Gateway pods.
   * @default DEFAULT_GATEWAY_REPLICAS (1)
   */
  readonly replicas?: number;
  /**
   * Body sizes of the synthetic pages, served in exactly this mix.
   * @default - 4 KiB ×3, 16 KiB ×5, 128 KiB ×1 (about 25 KB on average)
   */
  readonly pageSizes?: PageSize[];
  /**
   * Share of proxied requests and CONNECTs answered 429 Too Many Requests, from 0 to 1 (at most 6 decimals).
   * @default DEFAULT_RATE_LIMIT_SHARE (0)
   */
  readonly rateLimitShare?: number;
  /**
   * Require `Proxy-Authorization` (Basic) with credentials from a Secret made at deploy time; wrong ones get 407.
   * @default true
   */
  readonly authentication?: boolean;
  /**
   * Namespaces of the crawlers that use this gateway: the CA certificate and the credentials are placed there,
   * and only their pods may connect.
   * @default [DEFAULT_CRAWLER_NAMESPACE] (['crawlers'])
   */
  readonly crawlerNamespaces?: string[];
  /**
   * Sites served directly, without the proxy: one Service per name, ports 80 (HTTP) and 443 (TLS with a
   * certificate for the server name), reached as `http(s)://<name>.<namespace>.svc.cluster.local/`. For crawlers
   * that bypass their gateway (NO_PROXY).
   * @default - none
   */
  readonly sites?: string[];
  /**
   * Namespace of the Prometheus that scrapes the gateway's own metrics; only its pods may reach the metrics port.
   * @default DEFAULT_MONITORING_NAMESPACE ('monitoring', MetricsStack's namespace)
   */
  readonly monitoringNamespace?: string;
  /**
   * Container resources.
   * @default DEFAULT_GATEWAY_RESOURCES (requests 50m CPU / 64Mi, limits 500m CPU / 192Mi)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Offer a usage API (bytes and requests per account and hour, as a vendor bills them) on DEMO_USAGE_PORT to these
   * pods only, with a Bearer token from a Secret made at deploy time; see `usageApi`.
   * @default - none: no usage API
   */
  readonly usageClients?: DemoUsageClients;
}

/**
 * An in-cluster stand-in for a proxy vendor's gateway: a forward proxy (absolute-form HTTP and CONNECT, Basic
 * proxy authentication, a share of 429s) that serves every site itself with synthetic pages and never connects
 * out (its NetworkPolicy allows no egress at all). CONNECT tunnels are terminated with TLS for the requested
 * server name, signed by a demo CA made at deploy time, which the crawlers trust through `CA_FILE`.
 * The pods run outside the mesh, Pod Security "restricted", the program mounted from a ConfigMap into a pinned
 * Node.js image; their own metrics count what they served, to compare with what the sidecars measured.
 */
export class DemoGateway extends Construct {
  /** `<service>.<namespace>.svc.cluster.local:<port>` for a vendor's `endpoints`. */
  public static endpoint(service: string, port: number, namespace = DEMO_NAMESPACE): string {
    return `${checkDnsLabel('service', service)}.${checkDnsLabel('namespace', namespace)}.svc.cluster.local:${checkNumber('port', port, { min: 1024, max: 65535, integer: true })}`;
  }

  public readonly vendor: string;
  public readonly namespace: string;
  /** The Service (and Deployment) name. */
  public readonly name: string;
  public readonly port: number;
  /** Credentials for the vendor's crawlers (`VendorCrawler.proxyCredentials`), when authentication is on. */
  public readonly proxyCredentials?: ProxyCredentials;
  /** The demo CA's certificate for the vendor's crawlers (`VendorCrawler.caCertificate`). */
  public readonly caCertificate: CaCertificateSource;
  /** Host names of the directly served sites. */
  public readonly siteHosts: string[];
  /** The gateway's own metrics, for `MetricsStack`'s `prometheus.podScrapes`. */
  public readonly scrape: PodScrape;
  /** The usage API for a usage collector, when `usageClients` is set. */
  public readonly usageApi?: DemoUsageApi;
  public readonly deployment: kplus.Deployment;
  private readonly crawlerNamespaces: readonly string[];
  private readonly secrets: DemoSecret[] = [];

  constructor(scope: Construct, id: string, props: DemoGatewayProps) {
    super(scope, id);
    // Every invalid prop is reported at synthesis, all at once; construction goes on with defaults.
    const v = new PropertyChecks(this);
    const vendor = v.value(() => props.vendors.get(props.vendor, 'vendor'), undefined);
    this.vendor = vendor?.name ?? String(props.vendor);
    const endpoint = v.value(() => (vendor ? pickEndpoint(vendor.name, vendor.endpoints, props.endpoint) : undefined), undefined)
      ?? { host: `${this.vendor}-gateway.${DEMO_NAMESPACE}.svc.cluster.local`, port: 8080, serviceNamespace: DEMO_NAMESPACE };
    this.namespace = endpoint.serviceNamespace!;
    this.name = endpoint.host.split('.')[0];
    this.port = endpoint.port;
    const replicas = v.value(() => checkNumber('replicas', props.replicas ?? DEFAULT_GATEWAY_REPLICAS, { min: 0, integer: true }), DEFAULT_GATEWAY_REPLICAS);
    const rateLimitShare = v.value(() => {
      const share = checkNumber('rateLimitShare', props.rateLimitShare ?? DEFAULT_RATE_LIMIT_SHARE, { min: 0, max: 1 });
      if (Math.abs(share * 1e6 - Math.round(share * 1e6)) > 1e-6) throw new PropertyError('rateLimitShare', share, 'must have at most 6 decimals');
      return share;
    }, DEFAULT_RATE_LIMIT_SHARE);
    const pageSizes = props.pageSizes === undefined ? undefined : v.value(() => checkNonEmpty('pageSizes', props.pageSizes).map((p, i) => ({
      bytes: checkNumber(`pageSizes[${i}].bytes`, p.bytes, { min: 1, max: 16 * 2 ** 20, integer: true }),
      weight: checkNumber(`pageSizes[${i}].weight`, p.weight ?? DEFAULT_PAGE_WEIGHT, { min: 1, integer: true }),
    })), undefined);
    this.crawlerNamespaces = v.value(() => {
      const namespaces = checkNonEmpty('crawlerNamespaces', props.crawlerNamespaces ?? [DEFAULT_CRAWLER_NAMESPACE]).map((ns, i) => checkDnsLabel(`crawlerNamespaces[${i}]`, ns));
      checkUnique('crawlerNamespaces', namespaces);
      if (namespaces.includes(this.namespace)) {
        throw new PropertyError('crawlerNamespaces', this.namespace, 'includes the gateway\'s own namespace; the gateway must run outside the crawlers\' mesh namespaces');
      }
      return namespaces;
    }, [DEFAULT_CRAWLER_NAMESPACE]);
    const monitoringNamespace = v.value(() => checkDnsLabel('monitoringNamespace', props.monitoringNamespace ?? DEFAULT_MONITORING_NAMESPACE), DEFAULT_MONITORING_NAMESPACE);
    const sites = v.value(() => {
      const names = (props.sites ?? []).map((site, i) => checkDnsLabel(`sites[${i}]`, site));
      checkUnique('sites', names);
      if (names.includes(this.name)) throw new PropertyError('sites', this.name, 'names the gateway\'s own Service');
      return names;
    }, []);
    this.siteHosts = sites.map(site => `${site}.${this.namespace}.svc.cluster.local`);
    const usageClients = props.usageClients === undefined ? undefined : v.value(() => {
      const namespace = checkDnsLabel('usageClients.namespace', props.usageClients!.namespace);
      const labels = checkLabels('usageClients.podLabels', props.usageClients!.podLabels);
      // An empty selector would let every pod of the namespace in.
      if (Object.keys(labels).length === 0) throw new PropertyError('usageClients.podLabels', labels, 'must select the client pods by at least one label');
      return { namespace, podLabels: labels };
    }, undefined);

    const chart = Chart.of(this);
    // Namespace first in the manifest: `kubectl apply -f` creates objects in file order.
    this.node.addDependency(ensureNamespace(chart, this.namespace));
    const script = gatewayScript(chart, this.namespace);
    this.node.addDependency(script);
    const podLabels = { 'app.kubernetes.io/name': DEMO_GATEWAY_APP, 'app.kubernetes.io/instance': this.name, 'app.kubernetes.io/part-of': 'proxy-telemetry' };

    this.need({ kind: 'Secret', namespace: this.namespace, name: DEMO_CA_NAME, content: 'ca' });
    this.caCertificate = { configMapName: DEMO_CA_NAME, key: DEMO_CA_CERTIFICATE_KEY };
    for (const ns of this.crawlerNamespaces) this.need({ kind: 'ConfigMap', namespace: ns, name: DEMO_CA_NAME, content: 'ca-certificate' });

    const env: Record<string, kplus.EnvValue> = {
      VENDOR: kplus.EnvValue.fromValue(this.vendor),
      PORT: kplus.EnvValue.fromValue(String(this.port)),
      METRICS_PORT: kplus.EnvValue.fromValue(String(GATEWAY_METRICS_PORT)),
      CA_CERT_FILE: kplus.EnvValue.fromValue('/etc/proxy-telemetry/ca/tls.crt'),
      CA_KEY_FILE: kplus.EnvValue.fromValue('/etc/proxy-telemetry/ca/tls.key'),
      RATE_LIMIT_SHARE: kplus.EnvValue.fromValue(String(rateLimitShare)),
    };
    if (pageSizes) env.PAGE_SIZES = kplus.EnvValue.fromValue(pageSizes.map(p => `${p.bytes}=${p.weight}`).join(','));
    if (sites.length > 0) env.SITE_PORT = kplus.EnvValue.fromValue(String(DEMO_SITE_PORT));
    env.BANNER_PORT = kplus.EnvValue.fromValue(String(DEMO_BANNER_PORT));
    if (props.authentication ?? true) {
      const secretName = `proxy-telemetry-demo-${this.vendor}-credentials`;
      this.need({ kind: 'Secret', namespace: this.namespace, name: secretName, content: 'credentials' });
      for (const ns of this.crawlerNamespaces) this.need({ kind: 'Secret', namespace: ns, name: secretName, content: 'credentials' });
      const secret = kplus.Secret.fromSecretName(this, 'Credentials', secretName);
      env.PROXY_USERNAME = kplus.EnvValue.fromSecretValue({ secret, key: 'username' });
      env.PROXY_PASSWORD = kplus.EnvValue.fromSecretValue({ secret, key: 'password' });
      this.proxyCredentials = { secretName };
    }
    if (usageClients) {
      const secretName = `proxy-telemetry-demo-${this.vendor}-usage-token`;
      this.need({ kind: 'Secret', namespace: this.namespace, name: secretName, content: 'usage-token' });
      this.need({ kind: 'Secret', namespace: usageClients.namespace, name: secretName, content: 'usage-token' });
      env.USAGE_PORT = kplus.EnvValue.fromValue(String(DEMO_USAGE_PORT));
      env.USAGE_TOKEN = kplus.EnvValue.fromSecretValue({ secret: kplus.Secret.fromSecretName(this, 'UsageToken', secretName), key: DEMO_USAGE_TOKEN_KEY });
      this.usageApi = {
        url: `http://${this.name}.${this.namespace}.svc.cluster.local:${DEMO_USAGE_PORT}${GATEWAY_USAGE_PATH}?from={from}&to={to}`,
        tokenSecret: { name: secretName, key: DEMO_USAGE_TOKEN_KEY, namespace: usageClients.namespace },
      };
    }

    const caVolume = kplus.Volume.fromSecret(this, 'CaVolume', kplus.Secret.fromSecretName(this, 'Ca', DEMO_CA_NAME), { name: 'ca' });
    const scriptVolume = kplus.Volume.fromConfigMap(this, 'ScriptVolume', script, { name: 'script' });
    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name: this.name, namespace: this.namespace, labels: podLabels },
      replicas,
      select: false,
      podMetadata: { labels: podLabels },
      securityContext: { ensureNonRoot: true, user: GATEWAY_RUN_AS_USER, group: GATEWAY_RUN_AS_USER },
      automountServiceAccountToken: false,
      containers: [{
        name: 'gateway',
        image: GATEWAY_IMAGE,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        command: ['node', GATEWAY_SCRIPT_PATH],
        envVariables: env,
        ports: [
          { number: this.port, name: 'proxy' },
          ...(sites.length > 0 ? [{ number: DEMO_SITE_PORT, name: 'site' }] : []),
          { number: GATEWAY_METRICS_PORT, name: 'metrics' },
          { number: DEMO_BANNER_PORT, name: 'banner' },
          ...(usageClients ? [{ number: DEMO_USAGE_PORT, name: USAGE_PORT_NAME }] : []),
        ],
        securityContext: restrictedContainerSecurity(GATEWAY_RUN_AS_USER),
        resources: props.resources ?? DEFAULT_GATEWAY_RESOURCES,
        readiness: kplus.Probe.fromHttpGet('/healthz', { port: GATEWAY_METRICS_PORT }),
        volumeMounts: [
          { path: GATEWAY_SCRIPT_PATH.replace(/\/[^/]+$/, ''), volume: scriptVolume, readOnly: true },
          { path: '/etc/proxy-telemetry/ca', volume: caVolume, readOnly: true },
        ],
      }],
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: podLabels }));
    addRuntimeDefaultSeccomp(this.deployment);
    ApiObject.of(this.deployment).metadata.addAnnotation(DEMO_SECRETS_ANNOTATION, JSON.stringify(this.secrets));

    // The port name tells the crawler sidecars' Istio what to parse (istio/istio pkg/config/protocol: name prefix).
    const proxyPortName = vendor?.inspected ? 'http-proxy' : 'tcp-proxy';
    new k8s.KubeService(this, 'Service', {
      metadata: { name: this.name, namespace: this.namespace, labels: podLabels },
      spec: {
        selector: podLabels,
        ports: [
          { name: proxyPortName, port: this.port, targetPort: k8s.IntOrString.fromString('proxy') },
          // `tcp-` tells Istio the banner is TCP: no protocol sniffing, which would wait for the client to speak first.
          { name: 'tcp-banner', port: DEMO_BANNER_PORT, targetPort: k8s.IntOrString.fromString('banner') },
          ...(usageClients ? [{ name: USAGE_PORT_NAME, port: DEMO_USAGE_PORT, targetPort: k8s.IntOrString.fromString(USAGE_PORT_NAME) }] : []),
        ],
      },
    });
    sites.forEach(site => new k8s.KubeService(this, `Site-${site}`, {
      metadata: { name: site, namespace: this.namespace, labels: { ...podLabels, 'proxy-telemetry.io/demo-site': site } },
      spec: {
        selector: podLabels,
        ports: [
          { name: 'http', port: 80, targetPort: k8s.IntOrString.fromString('site') },
          { name: 'https', port: 443, targetPort: k8s.IntOrString.fromString('site') },
        ],
      },
    }));

    // Crawlers in, Prometheus to the metrics port, the usage clients to the usage port, nothing out: the gateway
    // serves every site itself.
    const fromNamespaces = this.crawlerNamespaces.map(ns => ({ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: ns } } }));
    new k8s.KubeNetworkPolicy(this, 'NetworkPolicy', {
      metadata: { name: this.name, namespace: this.namespace, labels: podLabels },
      spec: {
        podSelector: { matchLabels: podLabels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: fromNamespaces,
            ports: [this.port, DEMO_BANNER_PORT, ...(sites.length > 0 ? [DEMO_SITE_PORT] : [])].map(port => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) })),
          },
          {
            from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: monitoringNamespace } } }],
            ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(GATEWAY_METRICS_PORT) }],
          },
          ...(usageClients ? [{
            from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: usageClients.namespace } }, podSelector: { matchLabels: usageClients.podLabels } }],
            ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(DEMO_USAGE_PORT) }],
          }] : []),
        ],
        egress: [],
      },
    });

    this.scrape = {
      job: DEMO_GATEWAY_JOB, namespace: this.namespace, podLabels: { 'app.kubernetes.io/name': DEMO_GATEWAY_APP },
      portName: 'metrics', path: GATEWAY_METRICS_PATH,
    };
  }

  /**
   * Credentials for a deliberately misconfigured crawler: the right user name with a wrong password (made at deploy
   * time), so that the gateway answers 407 and the dashboards show what a stale Secret looks like.
   */
  public staleCredentials(): ProxyCredentials {
    if (!this.proxyCredentials) throw new PropertyError('authentication', false, 'is off, so no credentials can be stale');
    const secretName = `${this.proxyCredentials.secretName}-stale`;
    for (const ns of this.crawlerNamespaces) {
      this.need({ kind: 'Secret', namespace: ns, name: secretName, content: 'stale-credentials', of: this.proxyCredentials.secretName });
    }
    ApiObject.of(this.deployment).metadata.addAnnotation(DEMO_SECRETS_ANNOTATION, JSON.stringify(this.secrets));
    return { secretName };
  }

  private need(secret: DemoSecret): void {
    if (!this.secrets.some(s => s.kind === secret.kind && s.namespace === secret.namespace && s.name === secret.name)) this.secrets.push(secret);
  }
}

function pickEndpoint(vendor: string, endpoints: readonly VendorEndpoint[], wanted: string | undefined): VendorEndpoint {
  const inCluster = endpoints.filter(e => e.serviceNamespace !== undefined);
  const endpoint = wanted === undefined ? inCluster[0] : endpoints.find(e => `${e.host}:${e.port}` === wanted);
  if (wanted !== undefined && !endpoint) {
    throw new PropertyError('endpoint', wanted, `is not an endpoint of vendor '${vendor}' (endpoints: ${endpoints.map(e => `${e.host}:${e.port}`).join(', ') || 'none'})`);
  }
  if (!endpoint || endpoint.serviceNamespace === undefined) {
    throw new PropertyError(wanted === undefined ? 'vendor' : 'endpoint', wanted ?? vendor,
      `needs an in-cluster endpoint '<service>.<namespace>.svc.cluster.local:<port>' to name the demo gateway's Service (e.g. DemoGateway.endpoint('${vendor}-gateway', 8080))`);
  }
  if (!/\.svc\.cluster\.local$/.test(endpoint.host) || endpoint.host.split('.').length !== 5) {
    throw new PropertyError('endpoint', `${endpoint.host}:${endpoint.port}`, 'must be \'<service>.<namespace>.svc.cluster.local:<port>\'');
  }
  if (endpoint.port < 1024) {
    throw new PropertyError('endpoint', `${endpoint.host}:${endpoint.port}`, 'must use a port >= 1024: the gateway runs without privileges');
  }
  const taken: Record<number, string> = { [GATEWAY_METRICS_PORT]: 'metrics', [DEMO_SITE_PORT]: 'site', [DEMO_BANNER_PORT]: 'banner', [DEMO_USAGE_PORT]: 'usage' };
  if (taken[endpoint.port] !== undefined) {
    throw new PropertyError('endpoint', `${endpoint.host}:${endpoint.port}`, `must not use port ${endpoint.port}, the gateway's ${taken[endpoint.port]} port`);
  }
  return endpoint;
}

/** The namespace of the demo gateways, once per chart: outside the mesh, Pod Security "restricted" enforced. */
function ensureNamespace(chart: Chart, name: string): k8s.KubeNamespace {
  const id = `DemoNamespace-${name}`;
  return (chart.node.tryFindChild(id) as k8s.KubeNamespace | undefined) ?? new k8s.KubeNamespace(chart, id, {
    metadata: {
      name,
      labels: {
        'app.kubernetes.io/part-of': 'proxy-telemetry',
        'istio-injection': 'disabled',
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/warn': 'restricted',
      },
    },
  });
}

/** One ConfigMap with the gateway bundle per chart and namespace, shared by the gateways there. */
function gatewayScript(chart: Chart, namespace: string): kplus.ConfigMap {
  const id = `GatewayScript-${namespace}`;
  return (chart.node.tryFindChild(id) as kplus.ConfigMap | undefined) ?? new kplus.ConfigMap(chart, id, {
    metadata: { namespace, name: 'proxy-telemetry-demo-gateway', labels: { 'app.kubernetes.io/part-of': 'proxy-telemetry' } },
    data: { 'gateway.js': bundleGateway() },
  });
}
