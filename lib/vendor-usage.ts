import { Construct } from 'constructs';
import { createHash } from 'crypto';
import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import {
  COLLECTOR_CONFIG_FILE_VARIABLE, COLLECTOR_IMAGE, COLLECTOR_METRICS_PATH, COLLECTOR_METRICS_PORT, COLLECTOR_RUN_AS_USER, COLLECTOR_SCRIPT_PATH,
  OnDecrease, TimeFormat, UsageConfig, UsageConfigError, bundleCollector, parseUsageConfig,
} from '../collector';
import { USAGE_JOB } from '../core/metric-contract';
import { PropertyChecks, PropertyError, checkDnsLabel, checkNonEmpty } from '../core/validation';
import { VendorCatalog } from '../core/vendor';
import { addRuntimeDefaultSeccomp, restrictedContainerSecurity } from './internal/hardening';
import { DEFAULT_MONITORING_NAMESPACE } from './metrics/settings';
import { DEFAULT_DNS_PEERS, DNS_PORTS, NAMESPACE_NAME_LABEL, NetworkPeer, checkPeers, toPolicyPeer, toPolicyPorts } from './network/peers';
import { PodScrape } from './prometheus/scrape-config';

export type { OnDecrease, TimeFormat, UsageConfig, UsageSource, UsageSourceBase, HttpUsageSource, FileUsageSource, UsageMapping, UsageAuth, BytesUnit } from '../collector';

/** Name of the collector's Deployment, ConfigMaps and NetworkPolicy unless told otherwise. */
export const DEFAULT_USAGE_COLLECTOR_NAME = 'proxy-usage-collector';
/**
 * Container resources of the collector: a few polls a minute. Memory from bench/collector.ts: the bundle holds ~100 MiB
 * resident polling 100 accounts × 48 hourly buckets, ~180 MiB for 1,000 (a 4 MiB answer); more accounts or a longer
 * lookback need more.
 */
export const DEFAULT_USAGE_COLLECTOR_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(500) },
  memory: { request: Size.mebibytes(128), limit: Size.mebibytes(256) },
};
/** Label of the collector's pods, for discovery and network policies. */
export const USAGE_COLLECTOR_APP = 'proxy-usage-collector';
/** Where a source's export ConfigMap is mounted: `<dir>/<vendor>/<key>`. */
const EXPORT_DIR = '/var/run/proxy-usage';
const CONFIG_DIR = '/etc/proxy-usage';

/** A key of a Secret in the collector's namespace. */
export interface SecretKeyRef {
  /** Secret name. */
  readonly name: string;
  /** Key in the Secret. */
  readonly key: string;
}

/** How the collector authenticates to a usage API; the credentials stay in Secrets. */
export type UsageApiAuth =
  | { readonly type: 'bearer'; readonly token: SecretKeyRef }
  | { readonly type: 'basic'; readonly username: SecretKeyRef; readonly password: SecretKeyRef }
  | { readonly type: 'header'; readonly header: string; readonly value: SecretKeyRef };

/** A vendor's usage API: an HTTP endpoint answering JSON. */
export interface UsageApi {
  /** http(s) URL; `{from}` and `{to}` are replaced by the window asked for (the last `lookbackHours`). */
  readonly url: string;
  /**
   * How `{from}` and `{to}` are written: 'iso', 'unix' (seconds) or 'unix-ms'.
   * @default 'iso'
   */
  readonly timeFormat?: TimeFormat;
  /**
   * Seconds before a poll counts as failed (`timeout`).
   * @default COLLECTOR_DEFAULT_TIMEOUT_SECONDS (10)
   */
  readonly timeoutSeconds?: number;
  /**
   * Credentials.
   * @default - none
   */
  readonly auth?: UsageApiAuth;
}

/** A vendor's usage export (CSV or JSON), kept in a ConfigMap that whoever downloads the export updates. */
export interface UsageExport {
  /** ConfigMap in the collector's namespace. */
  readonly configMap: string;
  /** Key of the export in the ConfigMap. */
  readonly key: string;
  /** 'csv' (a header row names the columns) or 'json'. */
  readonly format: 'csv' | 'json';
}

/** Where the figures are in each record: dotted field paths (JSON) or column names (CSV). */
export interface UsageMappingProps {
  /**
   * Dotted path of the array of records in a JSON body or export; '' when the body is the array. Not for CSV.
   * @default ''
   */
  readonly records?: string;
  /**
   * Field of the account (or sub-user) the usage is billed to.
   * @default - every record is account `default`
   */
  readonly account?: string;
  /**
   * Field of the start of the record's time bucket (ISO 8601, or unix seconds or milliseconds).
   * @default - each record is a cumulative counter per account, which the vendor may reset
   */
  readonly start?: string;
  /** Field(s) of the billed bytes; several are summed (e.g. upload and download). */
  readonly bytes: string | string[];
  /**
   * Field of the billed requests.
   * @default - no requests
   */
  readonly requests?: string;
  /**
   * Unit of the bytes: 'B', decimal 'KB' … 'TB', binary 'KiB' … 'TiB'.
   * @default 'B'
   */
  readonly bytesUnit?: string;
  /**
   * IANA time zone of timestamps written without an offset, e.g. 'America/New_York'.
   * @default 'UTC'
   */
  readonly timeZone?: string;
}

/** Where one vendor's usage comes from. Set `api` or `export`. */
export interface UsageSourceProps {
  /** The vendor: one of `vendors`. */
  readonly vendor: string;
  /** The vendor's usage API. */
  readonly api?: UsageApi;
  /** A usage export in a ConfigMap. */
  readonly export?: UsageExport;
  /** Where the figures are in the records. */
  readonly mapping: UsageMappingProps;
  /**
   * Seconds between polls.
   * @default COLLECTOR_DEFAULT_INTERVAL_SECONDS (60)
   */
  readonly intervalSeconds?: number;
  /**
   * Hours of buckets asked for and kept: late and revised buckets inside it are counted once.
   * @default COLLECTOR_DEFAULT_LOOKBACK_HOURS (48)
   */
  readonly lookbackHours?: number;
  /**
   * What a bucket's value going down means: 'revision' (the vendor corrected it: counted as withdrawn) or 'reset'
   * (the vendor's counter restarted: the new value is new usage).
   * @default 'revision'
   */
  readonly onDecrease?: OnDecrease;
  /**
   * Where the collector may connect for this source.
   * @default - for a `*.svc.cluster.local` URL the pods of that namespace, else any address; on the URL's port
   */
  readonly egress?: NetworkPeer[];
}

export interface VendorUsageProps {
  /** The vendor model. */
  readonly vendors: VendorCatalog;
  /** One usage source per vendor. */
  readonly sources: UsageSourceProps[];
  /**
   * Namespace of the collector; Secrets and export ConfigMaps are read from it.
   * @default DEFAULT_MONITORING_NAMESPACE ('monitoring')
   */
  readonly namespace?: string;
  /**
   * Namespace of the Prometheus that scrapes the collector; only its pods may reach the metrics port.
   * @default - the collector's namespace
   */
  readonly prometheusNamespace?: string;
  /**
   * Name of the Deployment and its ConfigMaps.
   * @default DEFAULT_USAGE_COLLECTOR_NAME ('proxy-usage-collector')
   */
  readonly name?: string;
  /**
   * DNS servers the collector may query.
   * @default DEFAULT_DNS_PEERS (pods labelled `k8s-app: kube-dns` in kube-system)
   */
  readonly dnsPeers?: NetworkPeer[];
  /**
   * Container resources.
   * @default DEFAULT_USAGE_COLLECTOR_RESOURCES
   */
  readonly resources?: kplus.ContainerResources;
}

/**
 * The vendor usage collector: one pod that polls each vendor's usage API or export and exports what the vendor says it
 * billed (`proxy_usage_*`, collector/README.md), for MetricsStack's reconciliation rules, alerts and panels. Pass
 * `scrape` to MetricsStack's `prometheus.podScrapes`. The bundle runs in a pinned stock Node image, Pod Security
 * "restricted", no service account token; its NetworkPolicy lets it reach the sources and DNS only, and Prometheus
 * reach its metrics.
 */
export class VendorUsage extends Construct {
  public readonly namespace: string;
  public readonly name: string;
  /** The collector's configuration as it runs, defaults filled in. */
  public readonly config: UsageConfig;
  /** The collector's metrics, for MetricsStack's `prometheus.podScrapes`. */
  public readonly scrape: PodScrape;
  public readonly deployment: kplus.Deployment;

  constructor(scope: Construct, id: string, props: VendorUsageProps) {
    super(scope, id);
    const v = new PropertyChecks(this);
    this.namespace = v.value(() => checkDnsLabel('namespace', props.namespace ?? DEFAULT_MONITORING_NAMESPACE), DEFAULT_MONITORING_NAMESPACE);
    this.name = v.value(() => checkDnsLabel('name', props.name ?? DEFAULT_USAGE_COLLECTOR_NAME), DEFAULT_USAGE_COLLECTOR_NAME);
    const prometheusNamespace = v.value(() => checkDnsLabel('prometheusNamespace', props.prometheusNamespace ?? this.namespace), this.namespace);
    const dnsPeers = v.value(() => checkPeers('dnsPeers', props.dnsPeers ?? DEFAULT_DNS_PEERS), DEFAULT_DNS_PEERS);
    const sources = v.value(() => checkNonEmpty('sources', props.sources), []);
    sources.forEach((s, i) => v.value(() => props.vendors.get(s.vendor, `sources[${i}].vendor`), undefined));

    const env: Record<string, kplus.EnvValue> = {
      [COLLECTOR_CONFIG_FILE_VARIABLE]: kplus.EnvValue.fromValue(`${CONFIG_DIR}/config.json`),
      METRICS_PORT: kplus.EnvValue.fromValue(String(COLLECTOR_METRICS_PORT)),
    };
    const exportFiles: Array<{ vendor: string; source: UsageExport }> = [];
    const raw = sources.map((s, i) => v.value(() => collectorSource(`sources[${i}]`, s, env, exportFiles, this), undefined));
    this.config = v.value(() => {
      try {
        return parseUsageConfig({ sources: raw });
      } catch (err) {
        if (err instanceof UsageConfigError) throw new PropertyError(propPath(err.path), err.value, err.reason);
        throw err;
      }
    }, { sources: [] });
    const egress = v.value(() => sources.flatMap((s, i) => sourceEgress(`sources[${i}]`, s)), []);

    const podLabels = { 'app.kubernetes.io/name': USAGE_COLLECTOR_APP, 'app.kubernetes.io/instance': this.name, 'app.kubernetes.io/part-of': 'proxy-telemetry' };
    const script = new kplus.ConfigMap(this, 'Script', {
      metadata: { namespace: this.namespace, name: `${this.name}-script`, labels: podLabels },
      data: { 'collector.js': bundleCollector() },
    });
    const configMap = new kplus.ConfigMap(this, 'Config', {
      metadata: { namespace: this.namespace, name: `${this.name}-config`, labels: podLabels },
      data: { 'config.json': `${JSON.stringify(this.config, undefined, 2)}\n` },
    });
    const volumeMounts: kplus.VolumeMount[] = [
      { path: COLLECTOR_SCRIPT_PATH.replace(/\/[^/]+$/, ''), volume: kplus.Volume.fromConfigMap(this, 'ScriptVolume', script, { name: 'script' }), readOnly: true },
      { path: CONFIG_DIR, volume: kplus.Volume.fromConfigMap(this, 'ConfigVolume', configMap, { name: 'config' }), readOnly: true },
      ...exportFiles.map(({ vendor, source }, i) => ({
        path: `${EXPORT_DIR}/${vendor}`,
        volume: kplus.Volume.fromConfigMap(this, `Export${i}`, kplus.ConfigMap.fromConfigMapName(this, `ExportMap${i}`, source.configMap), { name: `export-${vendor}` }),
        readOnly: true,
      })),
    ];
    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name: this.name, namespace: this.namespace, labels: podLabels },
      // One collector: two would export every bill twice.
      replicas: 1,
      strategy: kplus.DeploymentStrategy.recreate(),
      select: false,
      // A new bundle or configuration rolls the pod.
      podMetadata: { labels: podLabels, annotations: { 'checksum/config': createHash('sha256').update(bundleCollector()).update(JSON.stringify(this.config)).digest('hex').slice(0, 16) } },
      securityContext: { ensureNonRoot: true, user: COLLECTOR_RUN_AS_USER, group: COLLECTOR_RUN_AS_USER },
      automountServiceAccountToken: false,
      containers: [{
        name: 'collector',
        image: COLLECTOR_IMAGE,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        command: ['node', COLLECTOR_SCRIPT_PATH],
        envVariables: env,
        ports: [{ number: COLLECTOR_METRICS_PORT, name: 'metrics' }],
        securityContext: restrictedContainerSecurity(COLLECTOR_RUN_AS_USER),
        resources: props.resources ?? DEFAULT_USAGE_COLLECTOR_RESOURCES,
        readiness: kplus.Probe.fromHttpGet('/healthz', { port: COLLECTOR_METRICS_PORT }),
        volumeMounts,
      }],
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: podLabels }));
    addRuntimeDefaultSeccomp(this.deployment);

    new k8s.KubeNetworkPolicy(this, 'NetworkPolicy', {
      metadata: { name: this.name, namespace: this.namespace, labels: podLabels },
      spec: {
        podSelector: { matchLabels: podLabels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{
          from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: prometheusNamespace } } }],
          ports: toPolicyPorts([{ port: COLLECTOR_METRICS_PORT }]),
        }],
        egress: [
          { to: dnsPeers.map(toPolicyPeer), ports: toPolicyPorts(DNS_PORTS) },
          ...egress.map(e => ({ to: e.peers.map(toPolicyPeer), ports: toPolicyPorts([{ port: e.port }]) })),
        ],
      },
    });

    this.scrape = { job: USAGE_JOB, namespace: this.namespace, podLabels: { 'app.kubernetes.io/name': USAGE_COLLECTOR_APP }, portName: 'metrics', path: COLLECTOR_METRICS_PATH };
  }
}

/** Environment variable of a credential: `USAGE_<VENDOR>_<PART>`. */
function credentialVariable(vendor: string, part: string): string {
  return `USAGE_${vendor.toUpperCase().replace(/-/g, '_')}_${part}`;
}

/** The collector's JSON for one source; credentials become environment variables from their Secrets. */
function collectorSource(path: string, s: UsageSourceProps, env: Record<string, kplus.EnvValue>, exportFiles: Array<{ vendor: string; source: UsageExport }>, scope: Construct): unknown {
  if ((s.api === undefined) === (s.export === undefined)) throw new PropertyError(path, s.vendor, 'must set exactly one of \'api\' and \'export\'');
  const mapping = { ...s.mapping, bytes: typeof s.mapping?.bytes === 'string' ? [s.mapping.bytes] : s.mapping?.bytes };
  const common = { vendor: s.vendor, intervalSeconds: s.intervalSeconds, lookbackHours: s.lookbackHours, onDecrease: s.onDecrease, mapping };
  if (s.export) {
    checkDnsLabel(`${path}.export.configMap`, s.export.configMap);
    if (typeof s.export.key !== 'string' || !/^[-._a-zA-Z0-9]+$/.test(s.export.key)) throw new PropertyError(`${path}.export.key`, s.export.key, 'must be a ConfigMap key (letters, digits, \'-\', \'_\', \'.\')');
    exportFiles.push({ vendor: s.vendor, source: s.export });
    return { ...common, kind: 'file', path: `${EXPORT_DIR}/${s.vendor}/${s.export.key}`, format: s.export.format };
  }
  const api = s.api!;
  const secret = (ref: SecretKeyRef, part: string, property: string): string => {
    checkDnsLabel(`${property}.name`, ref?.name);
    if (typeof ref.key !== 'string' || ref.key === '') throw new PropertyError(`${property}.key`, ref.key, 'must name a key of the Secret');
    const name = credentialVariable(s.vendor, part);
    env[name] = kplus.EnvValue.fromSecretValue({ secret: kplus.Secret.fromSecretName(scope, `${path}-${part}`, ref.name), key: ref.key });
    return name;
  };
  const authPath = `${path}.api.auth`;
  const auth = api.auth === undefined ? undefined
    : api.auth.type === 'bearer' ? { type: 'bearer', tokenEnv: secret(api.auth.token, 'TOKEN', `${authPath}.token`) }
      : api.auth.type === 'basic' ? { type: 'basic', usernameEnv: secret(api.auth.username, 'USERNAME', `${authPath}.username`), passwordEnv: secret(api.auth.password, 'PASSWORD', `${authPath}.password`) }
        : api.auth.type === 'header' ? { type: 'header', name: api.auth.header, valueEnv: secret(api.auth.value, 'HEADER', `${authPath}.value`) }
          : (() => { throw new PropertyError(`${authPath}.type`, (api.auth as { type: unknown }).type, 'must be \'bearer\', \'basic\' or \'header\''); })();
  return { ...common, kind: 'http', url: api.url, timeFormat: api.timeFormat, timeoutSeconds: api.timeoutSeconds, auth };
}

/** A collector configuration path as the prop that set it: `sources[0].url` is `sources[0].api.url`. */
function propPath(configPath: string): string {
  return configPath
    .replace(/^(sources\[\d+\])\.(url|timeFormat|timeoutSeconds)/, '$1.api.$2')
    .replace(/^(sources\[\d+\])\.auth\.\w+Env/, '$1.api.auth')
    .replace(/^(sources\[\d+\])\.auth/, '$1.api.auth')
    .replace(/^(sources\[\d+\])\.(path|format)/, (_m, s: string, p: string) => `${s}.export.${p === 'path' ? 'key' : p}`);
}

/** Where a source's polls go: the URL's port on the given peers, the service's namespace, or anywhere. */
function sourceEgress(path: string, s: UsageSourceProps): Array<{ peers: readonly NetworkPeer[]; port: number }> {
  if (!s.api) return [];
  let url: URL;
  try {
    url = new URL(s.api.url.replace(/\{(from|to)\}/g, '0'));
  } catch {
    throw new PropertyError(`${path}.api.url`, s.api.url, 'must be an http(s) URL');
  }
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  if (s.egress) return [{ peers: checkPeers(`${path}.egress`, s.egress), port }];
  const service = /^[a-z0-9-]+\.([a-z0-9-]+)\.svc(\.|$)/.exec(url.hostname);
  return [{ peers: service ? [{ namespaceLabels: { [NAMESPACE_NAME_LABEL]: service[1] } }] : [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }], port }];
}
