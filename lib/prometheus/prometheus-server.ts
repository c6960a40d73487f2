import { createHash } from 'crypto';
import { Construct } from 'constructs';
import { Duration, Lazy } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import * as YAML from 'yaml';
import { addRuntimeDefaultSeccomp, restrictedContainerSecurity } from '../internal/hardening';
import { DiscoveryRbac } from './discovery-rbac';
import { REMOTE_WRITE_SECRETS_DIR } from './remote-write';
import { RuleGroup } from '../../core/rules';
import { CrawlerScrapeOptions, PodScrape, crawlerScrapeJobs, podScrapeJob, selfScrapeJob } from './scrape-config';
import { ShardSpec, shardRelabelConfigs } from './sharding';

/** Resolved settings of the Prometheus server (see PrometheusOptions for the meaning). */
export interface PrometheusServerProps {
  readonly namespace: string;
  readonly image: string;
  readonly retention: string;
  readonly retentionSize?: string;
  readonly storageSize: string;
  readonly storageClassName?: string;
  readonly scrape: CrawlerScrapeOptions;
  readonly evaluationInterval: string;
  readonly resources: kplus.ContainerResources;
  readonly labels: Record<string, string>;
  /** Alertmanager addresses (`host:port`) alerts are sent to. */
  readonly alertmanagers?: string[];
  /**
   * Name of the Deployment, Service and ServiceAccount; the ConfigMap is `<name>-config`, the PVC `<name>-data`.
   * @default 'prometheus'
   */
  readonly name?: string;
  /**
   * Scrape the crawler sidecars; a global Prometheus receives their series from the shards instead.
   * @default true
   */
  readonly scrapeCrawlers?: boolean;
  /**
   * Scrape only this shard of the crawler targets.
   * @default - all of them
   */
  readonly shard?: ShardSpec;
  /**
   * More scrape jobs.
   * @default - none
   */
  readonly extraScrapeConfigs?: Record<string, unknown>[];
  /**
   * Pods scraped besides the crawler sidecars (discovery RBAC in their namespaces included).
   * @default - none
   */
  readonly podScrapes?: readonly PodScrape[];
  /**
   * Labels added to everything this server sends (remote write, alerts).
   * @default - none
   */
  readonly externalLabels?: Record<string, string>;
  /**
   * `remote_write` entries, rendered at synth time (rule groups may still be added before).
   * @default - none
   */
  readonly remoteWrite?: () => Record<string, unknown>[];
  /**
   * Secrets mounted read-only at `REMOTE_WRITE_SECRETS_DIR/<name>` (remote-write credentials).
   * @default - none
   */
  readonly secretNames?: string[];
  /**
   * More command-line flags.
   * @default - none
   */
  readonly extraArgs?: string[];
}

export const PROMETHEUS_PORT = 9090;
const CONFIG_DIR = '/etc/prometheus';
const DATA_DIR = '/prometheus';
const RULES_FILE = 'rules.yml';
const UID = 65534;

/** Prometheus with its config, rule file, storage, discovery RBAC and Service. Internal to MetricsStack. */
export class PrometheusServer extends Construct {
  public readonly name: string;
  public readonly service: kplus.Service;
  public readonly deployment: kplus.Deployment;
  public readonly serviceAccount: kplus.ServiceAccount;
  private readonly ruleGroups: RuleGroup[] = [];
  private readonly props: PrometheusServerProps;

  constructor(scope: Construct, id: string, props: PrometheusServerProps) {
    super(scope, id);
    this.props = props;
    const ns = props.namespace;
    const name = this.name = props.name ?? 'prometheus';
    const scrapesCrawlers = props.scrapeCrawlers ?? true;

    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name, namespace: ns, labels: props.labels },
      automountToken: false,
    });
    // Discovery needs pods only, and only in the crawler namespaces (unless cluster-wide is asked for).
    if (scrapesCrawlers) {
      new DiscoveryRbac(this, 'Discovery', {
        name: `${name}-pod-discovery`, namespaces: props.scrape.namespaces, clusterWide: props.scrape.clusterWide ?? false,
        serviceAccount: this.serviceAccount, namespace: ns, labels: props.labels,
      });
    }
    const podScrapeNamespaces = [...new Set((props.podScrapes ?? []).map(t => t.namespace))]
      .filter(n => !(scrapesCrawlers && (props.scrape.clusterWide || props.scrape.namespaces.includes(n))));
    if (podScrapeNamespaces.length > 0) {
      new DiscoveryRbac(this, 'PodScrapeDiscovery', {
        name: `${name}-pod-discovery`, namespaces: podScrapeNamespaces, clusterWide: false,
        serviceAccount: this.serviceAccount, namespace: ns, labels: props.labels,
      });
    }
    const discovers = scrapesCrawlers || (props.podScrapes ?? []).length > 0;

    const config = new k8s.KubeConfigMap(this, 'Config', {
      metadata: { name: `${name}-config`, namespace: ns, labels: props.labels },
      data: {
        'prometheus.yml': Lazy.any({ produce: () => this.renderConfig() }),
        [RULES_FILE]: Lazy.any({ produce: () => this.renderRules() }),
      },
    });

    new k8s.KubePersistentVolumeClaim(this, 'Storage', {
      metadata: { name: `${name}-data`, namespace: ns, labels: props.labels },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: props.storageClassName,
        resources: { requests: { storage: k8s.Quantity.fromString(props.storageSize) } },
      },
    });

    const args = [
      `--config.file=${CONFIG_DIR}/prometheus.yml`,
      `--storage.tsdb.path=${DATA_DIR}`,
      `--storage.tsdb.retention.time=${props.retention}`,
      ...(props.retentionSize ? [`--storage.tsdb.retention.size=${props.retentionSize}`] : []),
      `--web.listen-address=:${PROMETHEUS_PORT}`,
      ...(props.extraArgs ?? []),
    ];
    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name, namespace: ns, labels: props.labels },
      replicas: 1,
      // One writer per TSDB volume.
      strategy: kplus.DeploymentStrategy.recreate(),
      serviceAccount: this.serviceAccount,
      // The API token is for pod discovery only.
      automountServiceAccountToken: discovers,
      podMetadata: {
        labels: props.labels,
        annotations: { 'checksum/config': Lazy.any({ produce: () => this.configChecksum() }) as unknown as string },
      },
      securityContext: { ensureNonRoot: true, user: UID, group: UID, fsGroup: UID },
      containers: [{
        name: 'prometheus',
        image: props.image,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        args,
        ports: [{ number: PROMETHEUS_PORT, name: 'http' }],
        securityContext: restrictedContainerSecurity(UID),
        resources: props.resources,
        readiness: kplus.Probe.fromHttpGet('/-/ready', { port: PROMETHEUS_PORT, periodSeconds: Duration.seconds(10), failureThreshold: 3 }),
        liveness: kplus.Probe.fromHttpGet('/-/healthy', { port: PROMETHEUS_PORT, periodSeconds: Duration.seconds(15), failureThreshold: 4, timeoutSeconds: Duration.seconds(5) }),
        // WAL replay after a restart can take minutes on a large TSDB.
        startup: kplus.Probe.fromHttpGet('/-/ready', { port: PROMETHEUS_PORT, periodSeconds: Duration.seconds(10), failureThreshold: 60 }),
      }],
    });
    const container = this.deployment.containers[0];
    container.mount(CONFIG_DIR, kplus.Volume.fromConfigMap(this, 'ConfigVolume',
      kplus.ConfigMap.fromConfigMapName(this, 'ConfigRef', config.name), { name: 'config' }), { readOnly: true });
    container.mount(DATA_DIR, kplus.Volume.fromPersistentVolumeClaim(this, 'DataVolume',
      kplus.PersistentVolumeClaim.fromClaimName(this, 'DataRef', `${name}-data`), { name: 'data' }));
    (props.secretNames ?? []).forEach((secretName, i) => {
      container.mount(`${REMOTE_WRITE_SECRETS_DIR}/${secretName}`, kplus.Volume.fromSecret(this, `SecretVolume${i}`,
        kplus.Secret.fromSecretName(this, `SecretRef${i}`, secretName), { name: `secret-${i}` }), { readOnly: true });
    });
    addRuntimeDefaultSeccomp(this.deployment);

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name, namespace: ns, labels: props.labels },
      selector: this.deployment,
      ports: [{ port: PROMETHEUS_PORT, targetPort: PROMETHEUS_PORT, name: 'http' }],
    });
  }

  /** Adds a rule group to the rule file; names must be unique. */
  public addRuleGroup(group: RuleGroup): void {
    this.ruleGroups.push(group);
  }

  public get groups(): readonly RuleGroup[] {
    return this.ruleGroups;
  }

  /** The Prometheus configuration as an object (before YAML rendering). */
  public config(): Record<string, unknown> {
    const { scrape, shard, externalLabels } = this.props;
    const crawlerJobs = (this.props.scrapeCrawlers ?? true) ? crawlerScrapeJobs(scrape) : [];
    if (shard) {
      // Sharding comes last, after the filters: it splits exactly the targets the jobs keep, alike in both jobs.
      for (const job of crawlerJobs as Array<{ relabel_configs: unknown[] }>) job.relabel_configs = [...job.relabel_configs, ...shardRelabelConfigs(shard)];
    }
    const remoteWrite = this.props.remoteWrite?.() ?? [];
    return {
      global: {
        scrape_interval: scrape.scrapeInterval,
        evaluation_interval: this.props.evaluationInterval,
        ...(externalLabels && Object.keys(externalLabels).length > 0 ? { external_labels: externalLabels } : {}),
      },
      rule_files: [`${CONFIG_DIR}/${RULES_FILE}`],
      ...(this.props.alertmanagers?.length ? { alerting: { alertmanagers: [{ static_configs: [{ targets: this.props.alertmanagers }] }] } } : {}),
      scrape_configs: [
        ...crawlerJobs, selfScrapeJob(scrape.scrapeInterval), ...(this.props.extraScrapeConfigs ?? []),
        ...(this.props.podScrapes ?? []).map(t => podScrapeJob(t, scrape.scrapeInterval)),
      ],
      ...(remoteWrite.length > 0 ? { remote_write: remoteWrite } : {}),
    };
  }

  public renderConfig(): string {
    return YAML.stringify(this.config(), { lineWidth: 0 });
  }

  public renderRules(): string {
    return YAML.stringify({ groups: this.ruleGroups }, { lineWidth: 0 });
  }

  private configChecksum(): string {
    return createHash('sha256').update(this.renderConfig()).update(this.renderRules()).digest('hex').slice(0, 16);
  }
}
