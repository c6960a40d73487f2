import { createHash } from 'crypto';
import { Construct } from 'constructs';
import { Duration, Lazy } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import * as YAML from 'yaml';
import { addRuntimeDefaultSeccomp, restrictedContainerSecurity } from '../internal/hardening';
import { DiscoveryRbac } from './discovery-rbac';
import { RuleGroup } from './rule-group';
import { CrawlerScrapeOptions, crawlerScrapeJob, selfScrapeJob } from './scrape-config';

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
}

export const PROMETHEUS_PORT = 9090;
const CONFIG_DIR = '/etc/prometheus';
const DATA_DIR = '/prometheus';
const RULES_FILE = 'rules.yml';
const UID = 65534;

/** Prometheus with its config, rule file, storage, discovery RBAC and Service. Internal to MetricsStack. */
export class PrometheusServer extends Construct {
  public readonly service: kplus.Service;
  public readonly deployment: kplus.Deployment;
  public readonly serviceAccount: kplus.ServiceAccount;
  private readonly ruleGroups: RuleGroup[] = [];
  private readonly props: PrometheusServerProps;

  constructor(scope: Construct, id: string, props: PrometheusServerProps) {
    super(scope, id);
    this.props = props;
    const ns = props.namespace;

    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: 'prometheus', namespace: ns, labels: props.labels },
      automountToken: false,
    });
    new DiscoveryRbac(this, 'Discovery', {
      namespaces: props.scrape.namespaces, clusterWide: props.scrape.clusterWide ?? false, serviceAccount: this.serviceAccount, namespace: ns, labels: props.labels,
    });

    const config = new k8s.KubeConfigMap(this, 'Config', {
      metadata: { name: 'prometheus-config', namespace: ns, labels: props.labels },
      data: {
        'prometheus.yml': Lazy.any({ produce: () => this.renderConfig() }),
        [RULES_FILE]: Lazy.any({ produce: () => this.renderRules() }),
      },
    });

    new k8s.KubePersistentVolumeClaim(this, 'Storage', {
      metadata: { name: 'prometheus-data', namespace: ns, labels: props.labels },
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
    ];
    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name: 'prometheus', namespace: ns, labels: props.labels },
      replicas: 1,
      // One writer per TSDB volume.
      strategy: kplus.DeploymentStrategy.recreate(),
      serviceAccount: this.serviceAccount,
      automountServiceAccountToken: true,
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
      kplus.PersistentVolumeClaim.fromClaimName(this, 'DataRef', 'prometheus-data'), { name: 'data' }));
    addRuntimeDefaultSeccomp(this.deployment);

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name: 'prometheus', namespace: ns, labels: props.labels },
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
    return {
      global: {
        scrape_interval: this.props.scrape.scrapeInterval,
        evaluation_interval: this.props.evaluationInterval,
      },
      rule_files: [`${CONFIG_DIR}/${RULES_FILE}`],
      ...(this.props.alertmanagers?.length ? { alerting: { alertmanagers: [{ static_configs: [{ targets: this.props.alertmanagers }] }] } } : {}),
      scrape_configs: [crawlerScrapeJob(this.props.scrape), selfScrapeJob(this.props.scrape.scrapeInterval)],
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
