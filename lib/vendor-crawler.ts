import { Construct } from 'constructs';
import { Chart, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { CRAWLER_IMAGE, CRAWLER_METRICS_PORT, CRAWLER_SCRIPT_PATH, bundleCrawler } from '../crawler';
import { DEFAULT_CRAWLER_NAMESPACE } from './mesh-telemetry';
import { PROXY_CONFIG_ANNOTATION, transparentProxyConfig } from './mesh/proxy-config';
import { VENDOR_POD_LABEL } from '../core/metric-contract';
import { VendorCatalog, VendorEndpoint } from '../core/vendor';
import { PropertyChecks, PropertyError, checkDnsLabel, checkDnsName, checkHttpUrl, checkNonEmpty, checkNumber, parseDuration, parseStorageQuantity } from '../core/validation';
import { addRuntimeDefaultSeccomp, restrictedContainerSecurity } from './internal/hardening';

/** A URL the synthetic crawler requests, with its relative weight. */
export interface CrawlTarget {
  /** An http:// or https:// URL. */
  readonly url: string;
  /**
   * Relative share of requests.
   * @default DEFAULT_TARGET_WEIGHT (1)
   */
  readonly weight?: number;
}

/** Proxy credentials held in a Secret the user creates; never inline. */
export interface ProxyCredentials {
  /** Name of the Secret in the crawler namespace. */
  readonly secretName: string;
  /**
   * Key of the user name (URL-encoded if it has reserved characters).
   * @default DEFAULT_USERNAME_KEY ('username')
   */
  readonly usernameKey?: string;
  /**
   * Key of the password (URL-encoded if it has reserved characters).
   * @default DEFAULT_PASSWORD_KEY ('password')
   */
  readonly passwordKey?: string;
}

/** Extra CA certificates the synthetic crawler trusts (`CA_FILE`), from a ConfigMap in the crawler namespace. */
export interface CaCertificateSource {
  /** Name of the ConfigMap. */
  readonly configMapName: string;
  /**
   * Key of the PEM certificates in it.
   * @default DEFAULT_CA_CERTIFICATE_KEY ('ca.crt')
   */
  readonly key?: string;
}

/** Requests and limits of the injected istio-proxy container (Istio's `sidecar.istio.io/proxy*` pod annotations). */
export interface SidecarResources {
  /**
   * CPU request, e.g. '100m'.
   * @default - the mesh's default (100m)
   */
  readonly cpuRequest?: string;
  /**
   * CPU limit, e.g. '1'.
   * @default - the mesh's default
   */
  readonly cpuLimit?: string;
  /**
   * Memory request, e.g. '256Mi'.
   * @default - the mesh's default (128Mi)
   */
  readonly memoryRequest?: string;
  /**
   * Memory limit, e.g. '1Gi'.
   * @default - the mesh's default
   */
  readonly memoryLimit?: string;
}

export interface VendorCrawlerProps {
  /** The vendor model. */
  readonly vendors: VendorCatalog;
  /** Name of the vendor this Deployment crawls through; must be in `vendors`. */
  readonly vendor: string;
  /**
   * Namespace of the Deployment; must be one of MeshTelemetry's crawler namespaces.
   * @default DEFAULT_CRAWLER_NAMESPACE ('crawlers')
   */
  readonly namespace?: string;
  /**
   * Deployment name.
   * @default 'crawler-<vendor>'
   */
  readonly name?: string;
  /**
   * Number of crawler pods.
   * @default DEFAULT_CRAWLER_REPLICAS (1)
   */
  readonly replicas?: number;
  /**
   * The user's own crawler image. When set, the synthetic-crawler settings (`targets`,
   * `requestsPerSecond`, `concurrency`) do not apply.
   * @default - the synthetic crawler, mounted from a ConfigMap into a pinned Node.js image
   */
  readonly image?: string;
  /**
   * Command of the user's image.
   * @default - the image's entrypoint
   */
  readonly command?: string[];
  /**
   * Arguments of the user's image.
   * @default - the image's default arguments
   */
  readonly args?: string[];
  /**
   * User id the crawler container runs as (non-root).
   * @default DEFAULT_CRAWLER_RUN_AS_USER (1000)
   */
  readonly runAsUser?: number;
  /**
   * Synthetic crawler: requests per second per pod.
   * @default DEFAULT_REQUESTS_PER_SECOND (1): polite to sites that did not ask for load; set it for in-cluster demo sites
   */
  readonly requestsPerSecond?: number;
  /**
   * Synthetic crawler: concurrent requests per pod.
   * @default DEFAULT_CONCURRENCY (100)
   */
  readonly concurrency?: number;
  /**
   * Synthetic crawler: URLs to request, HTTP and HTTPS. Required for the synthetic crawler: in-cluster demo sites
   * (see DemoGateway), or public sites that welcome test traffic, such as PUBLIC_TEST_TARGETS, at a polite rate.
   * @default - none; required unless `image` is set
   */
  readonly targets?: CrawlTarget[];
  /**
   * Send through the vendor's gateway (HTTP_PROXY / HTTPS_PROXY) when the vendor has endpoints.
   * @default true
   */
  readonly useGateway?: boolean;
  /**
   * Gateway endpoint `host:port` to use; must be one of the vendor's endpoints.
   * @default - the vendor's first endpoint
   */
  readonly gateway?: string;
  /**
   * Proxy credentials for the gateway.
   * @default - no credentials
   */
  readonly proxyCredentials?: ProxyCredentials;
  /**
   * Synthetic crawler: CA certificates to trust besides the public ones, e.g. a demo gateway's CA.
   * @default - the public CAs only
   */
  readonly caCertificate?: CaCertificateSource;
  /**
   * Hosts the crawler reaches without the gateway (NO_PROXY).
   * @default DEFAULT_NO_PROXY ('localhost,127.0.0.1,.svc,.cluster.local')
   */
  readonly noProxy?: string;
  /**
   * Extra environment variables for the crawler container.
   * @default - none
   */
  readonly env?: Record<string, string>;
  /**
   * Crawler container resources.
   * @default DEFAULT_CRAWLER_RESOURCES (requests 100m CPU / 128Mi, limits 1 CPU / 256Mi)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Resources of the injected istio-proxy sidecar. A sidecar keeps a counter per distinct host its crawler reached
   * (in the destination metrics) for its life, unless `statsEvictionInterval` drops idle ones: give broad crawlers
   * a memory limit with room for them.
   * @default - the mesh's defaults
   */
  readonly sidecarResources?: SidecarResources;
  /**
   * Istio >= 1.28: drop the sidecar's per-destination counters of hosts not reached for about twice this interval
   * (`sidecar.istio.io/statsEvictionInterval`), so a broad crawler's exposition and memory follow the hosts it
   * reaches now, not all it ever reached. A multiple of the stats flush interval (5s). Ignored by older Istio.
   * @default - counters live as long as the sidecar
   */
  readonly statsEvictionInterval?: string;
}

// The defaults of VendorCrawler's props, which their docs name.
/** Relative share of requests of a crawl target. */
export const DEFAULT_TARGET_WEIGHT = 1;
/** Key of the user name in the proxy credentials Secret. */
export const DEFAULT_USERNAME_KEY = 'username';
/** Key of the password in the proxy credentials Secret. */
export const DEFAULT_PASSWORD_KEY = 'password';
/** Key of the PEM certificates in the CA ConfigMap. */
export const DEFAULT_CA_CERTIFICATE_KEY = 'ca.crt';
/** Crawler pods per vendor. */
export const DEFAULT_CRAWLER_REPLICAS = 1;
/** User id of the crawler container. */
export const DEFAULT_CRAWLER_RUN_AS_USER = 1000;
/** Synthetic crawler: requests per second per pod, polite to sites that did not ask for load. */
export const DEFAULT_REQUESTS_PER_SECOND = 1;
/** Synthetic crawler: concurrent requests per pod. */
export const DEFAULT_CONCURRENCY = 100;
/** Hosts the crawler reaches without its gateway: loopback and in-cluster Services. */
export const DEFAULT_NO_PROXY = 'localhost,127.0.0.1,.svc,.cluster.local';
/** Crawler container resources. */
export const DEFAULT_CRAWLER_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(100), limit: kplus.Cpu.units(1) },
  memory: { request: Size.mebibytes(128), limit: Size.mebibytes(256) },
};

/** Where the synthetic crawler finds `caCertificate`. */
const CA_DIRECTORY = '/etc/proxy-telemetry/ca';

/**
 * Public pages that exist for tests and examples, plain HTTP and HTTPS. Opt-in only, and at a polite rate (the
 * default 1 request/s per pod): real sites pay for every request a crawler makes.
 */
export const PUBLIC_TEST_TARGETS: readonly CrawlTarget[] = [
  { url: 'http://example.com/', weight: 2 },
  { url: 'https://example.com/', weight: 3 },
  { url: 'http://neverssl.com/', weight: 1 },
  { url: 'https://httpbin.org/get', weight: 2 },
];

/**
 * Crawler pods for one vendor, labelled `proxy-vendor: <vendor>` so that every byte their sidecars see is
 * attributed to that vendor. Runs the synthetic crawler unless the user brings an image.
 */
export class VendorCrawler extends Construct {
  /** The vendor's name. */
  public readonly vendor: string;
  public readonly namespace: string;
  public readonly replicas: number;
  /** Gateway the crawler sends through, if any. */
  public readonly gateway?: VendorEndpoint;
  public readonly deployment: kplus.Deployment;

  constructor(scope: Construct, id: string, props: VendorCrawlerProps) {
    super(scope, id);
    // Every invalid prop is reported at synthesis, all at once; construction goes on with defaults.
    const v = new PropertyChecks(this);
    const vendor = v.value(() => props.vendors.get(props.vendor, 'vendor'), undefined);
    this.vendor = vendor?.name ?? String(props.vendor);
    this.namespace = v.value(() => checkDnsLabel('namespace', props.namespace ?? DEFAULT_CRAWLER_NAMESPACE), DEFAULT_CRAWLER_NAMESPACE);
    const name = v.value(() => checkDnsLabel('name', props.name ?? `crawler-${this.vendor}`), 'crawler');
    this.replicas = v.value(() => checkNumber('replicas', props.replicas ?? DEFAULT_CRAWLER_REPLICAS, { min: 0, integer: true }), DEFAULT_CRAWLER_REPLICAS);
    const runAsUser = v.value(() => checkNumber('runAsUser', props.runAsUser ?? DEFAULT_CRAWLER_RUN_AS_USER, { min: 1, integer: true }), DEFAULT_CRAWLER_RUN_AS_USER);
    if (props.image !== undefined && props.image.trim() === '') v.fail('image', props.image, 'must be an image reference');

    const endpoints = vendor?.endpoints ?? [];
    if ((props.useGateway ?? true) && endpoints.length > 0) {
      this.gateway = props.gateway === undefined ? endpoints[0] : endpoints.find(e => `${e.host}:${e.port}` === props.gateway);
      if (!this.gateway) {
        v.fail('gateway', props.gateway, `is not an endpoint of vendor '${this.vendor}' (endpoints: ${endpoints.map(e => `${e.host}:${e.port}`).join(', ')})`);
      }
    } else if (props.gateway !== undefined && vendor) {
      v.fail('gateway', props.gateway, props.useGateway === false ? 'is set while \'useGateway\' is false' : `is set but vendor '${this.vendor}' has no endpoints`);
    }
    if (props.proxyCredentials && !this.gateway && vendor) {
      v.fail('proxyCredentials', props.proxyCredentials.secretName, 'needs a vendor gateway to send them to');
    }
    if (props.proxyCredentials) v.run(() => checkDnsName('proxyCredentials.secretName', props.proxyCredentials!.secretName));
    const sidecarAnnotations = v.value(() => proxyAnnotations(props.sidecarResources, props.statsEvictionInterval), {});

    const env: Record<string, kplus.EnvValue> = {};
    env.PROXY_VENDOR = kplus.EnvValue.fromValue(this.vendor);
    if (this.gateway) {
      let auth = '';
      if (props.proxyCredentials) {
        const secret = kplus.Secret.fromSecretName(this, 'ProxyCredentials', props.proxyCredentials.secretName);
        env.PROXY_USERNAME = kplus.EnvValue.fromSecretValue({ secret, key: props.proxyCredentials.usernameKey ?? DEFAULT_USERNAME_KEY });
        env.PROXY_PASSWORD = kplus.EnvValue.fromSecretValue({ secret, key: props.proxyCredentials.passwordKey ?? DEFAULT_PASSWORD_KEY });
        // Kubernetes expands $(VAR) from earlier entries, so the password never appears in the manifest.
        auth = '$(PROXY_USERNAME):$(PROXY_PASSWORD)@';
      }
      const proxyUrl = `http://${auth}${this.gateway.host}:${this.gateway.port}`;
      env.HTTP_PROXY = kplus.EnvValue.fromValue(proxyUrl);
      env.HTTPS_PROXY = kplus.EnvValue.fromValue(proxyUrl);
      env.NO_PROXY = kplus.EnvValue.fromValue(props.noProxy ?? DEFAULT_NO_PROXY);
    }

    const synthetic = props.image === undefined;
    const volumes: Array<{ path: string; volume: kplus.Volume }> = [];
    const ports: kplus.ContainerPort[] = [];
    if (synthetic) {
      const rps = v.value(() => checkNumber('requestsPerSecond', props.requestsPerSecond ?? DEFAULT_REQUESTS_PER_SECOND, { minExclusive: 0 }), DEFAULT_REQUESTS_PER_SECOND);
      const concurrency = v.value(() => checkNumber('concurrency', props.concurrency ?? DEFAULT_CONCURRENCY, { min: 1, integer: true }), DEFAULT_CONCURRENCY);
      if (props.targets === undefined) {
        v.fail('targets', undefined, 'is required for the synthetic crawler: in-cluster demo sites (DemoGateway), or public sites that welcome test traffic (PUBLIC_TEST_TARGETS) at a polite rate; or set \'image\' to run your own crawler');
      }
      const targets = props.targets === undefined ? [] : v.value(() => checkNonEmpty('targets', props.targets).map((t, i) => checkTarget(`targets[${i}]`, t)), []);
      env.TARGETS = kplus.EnvValue.fromValue(targets.map(t => `${t.url}=${t.weight}`).join(','));
      env.REQUESTS_PER_SECOND = kplus.EnvValue.fromValue(String(rps));
      env.CONCURRENCY = kplus.EnvValue.fromValue(String(concurrency));
      env.METRICS_PORT = kplus.EnvValue.fromValue(String(CRAWLER_METRICS_PORT));
      const script = crawlerScript(this, this.namespace);
      volumes.push({ path: CRAWLER_SCRIPT_PATH.replace(/\/[^/]+$/, ''), volume: kplus.Volume.fromConfigMap(this, 'ScriptVolume', script, { name: 'script' }) });
      ports.push({ number: CRAWLER_METRICS_PORT, name: 'http-metrics' });
      if (props.caCertificate) {
        const key = props.caCertificate.key ?? DEFAULT_CA_CERTIFICATE_KEY;
        if (!/^[-._a-zA-Z0-9]+$/.test(key)) v.fail('caCertificate.key', key, 'must be a ConfigMap key (letters, digits, \'-\', \'_\', \'.\')');
        const configMapName = v.value(() => checkDnsName('caCertificate.configMapName', props.caCertificate!.configMapName), 'ca');
        const configMap = kplus.ConfigMap.fromConfigMapName(this, 'CaCertificate', configMapName);
        volumes.push({ path: CA_DIRECTORY, volume: kplus.Volume.fromConfigMap(this, 'CaVolume', configMap, { name: 'ca-certificates', items: { [key]: { path: key } } }) });
        env.CA_FILE = kplus.EnvValue.fromValue(`${CA_DIRECTORY}/${key}`);
      }
    } else {
      for (const key of ['targets', 'requestsPerSecond', 'concurrency', 'caCertificate'] as const) {
        if (props[key] !== undefined) v.fail(key, props[key], 'applies to the synthetic crawler only; it is set together with \'image\'');
      }
    }
    for (const [key, value] of Object.entries(props.env ?? {})) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) v.fail(`env.${key}`, value, 'has a name that is not a valid environment variable name');
      else if (key in env) v.fail(`env.${key}`, value, 'would override a variable this construct sets; use the matching prop instead');
      else env[key] = kplus.EnvValue.fromValue(value);
    }

    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name, namespace: this.namespace, labels: this.labels() },
      replicas: this.replicas,
      podMetadata: {
        labels: { ...this.labels(), 'sidecar.istio.io/inject': 'true' },
        annotations: {
          // The crawler must not send before its sidecar can see (and count) the traffic, and the sidecar must not add
          // headers to what the crawler sends (lib/mesh/proxy-config.ts).
          [PROXY_CONFIG_ANNOTATION]: transparentProxyConfig('{"holdApplicationUntilProxyStarts":true}'),
          ...sidecarAnnotations,
        },
      },
      securityContext: { ensureNonRoot: true, user: runAsUser, group: runAsUser },
      automountServiceAccountToken: false,
      containers: [{
        name: 'crawler',
        image: props.image ?? CRAWLER_IMAGE,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        command: synthetic ? ['node', CRAWLER_SCRIPT_PATH] : props.command,
        args: synthetic ? undefined : props.args,
        envVariables: env,
        ports,
        securityContext: restrictedContainerSecurity(runAsUser),
        resources: props.resources ?? DEFAULT_CRAWLER_RESOURCES,
        volumeMounts: [
          ...volumes.map(v => ({ path: v.path, volume: v.volume, readOnly: true })),
          // The root filesystem is read-only; crawlers (and libraries they use) may need scratch space.
          { path: '/tmp', volume: kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp', { sizeLimit: Size.mebibytes(256) }) },
        ],
      }],
    });
    addRuntimeDefaultSeccomp(this.deployment);
  }

  private labels(): Record<string, string> {
    return {
      'app.kubernetes.io/name': 'crawler',
      'app.kubernetes.io/part-of': 'proxy-telemetry',
      [VENDOR_POD_LABEL]: this.vendor,
    };
  }
}

/** Istio's pod annotations for the sidecar's resources and stats eviction (istio/api `annotation/annotations.yaml`). */
function proxyAnnotations(resources: SidecarResources | undefined, evictionInterval: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const cpu = (property: string, value: string) => {
    if (typeof value !== 'string' || !/^(\d+m|\d+(\.\d+)?)$/.test(value) || /^0+(\.0*)?m?$/.test(value)) {
      throw new PropertyError(property, value, 'must be a positive CPU quantity such as \'100m\' or \'1\'');
    }
    return value;
  };
  const memory = (property: string, value: string) => (parseStorageQuantity(property, value), value);
  if (resources?.cpuRequest !== undefined) out['sidecar.istio.io/proxyCPU'] = cpu('sidecarResources.cpuRequest', resources.cpuRequest);
  if (resources?.cpuLimit !== undefined) out['sidecar.istio.io/proxyCPULimit'] = cpu('sidecarResources.cpuLimit', resources.cpuLimit);
  if (resources?.memoryRequest !== undefined) out['sidecar.istio.io/proxyMemory'] = memory('sidecarResources.memoryRequest', resources.memoryRequest);
  if (resources?.memoryLimit !== undefined) out['sidecar.istio.io/proxyMemoryLimit'] = memory('sidecarResources.memoryLimit', resources.memoryLimit);
  if (evictionInterval !== undefined) {
    const ms = parseDuration('statsEvictionInterval', evictionInterval);
    // Istio ignores an interval that is not a multiple of the stats flush interval (pkg/bootstrap/config.go).
    if (ms % 5000 !== 0) throw new PropertyError('statsEvictionInterval', evictionInterval, 'must be a multiple of the stats flush interval, 5s');
    out['sidecar.istio.io/statsEvictionInterval'] = `${ms / 1000}s`;
  }
  return out;
}

/** One ConfigMap with the crawler bundle per chart and namespace, shared by all vendors' Deployments. */
function crawlerScript(scope: Construct, namespace: string): kplus.ConfigMap {
  const chart = Chart.of(scope);
  const id = `CrawlerScript-${namespace}`;
  return (chart.node.tryFindChild(id) as kplus.ConfigMap | undefined) ?? new kplus.ConfigMap(chart, id, {
    metadata: { namespace, name: 'proxy-telemetry-crawler', labels: { 'app.kubernetes.io/part-of': 'proxy-telemetry' } },
    data: { 'crawler.js': bundleCrawler() },
  });
}

function checkTarget(property: string, target: CrawlTarget): Required<CrawlTarget> {
  checkHttpUrl(`${property}.url`, target.url);
  if (/[,=\s]/.test(target.url)) {
    throw new PropertyError(`${property}.url`, target.url, 'must not contain \',\', \'=\' or white space (they separate TARGETS entries)');
  }
  return { url: target.url, weight: checkNumber(`${property}.weight`, target.weight ?? DEFAULT_TARGET_WEIGHT, { min: 1, integer: true }) };
}
