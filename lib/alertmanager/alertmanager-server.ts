import { createHash } from 'crypto';
import { Construct } from 'constructs';
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import * as YAML from 'yaml';
import { addRuntimeDefaultSeccomp, restrictedContainerSecurity } from '../internal/hardening';
import { ALERTMANAGER_SECRETS_DIR } from './alertmanager-config';

/** Resolved settings of the Alertmanager server (see AlertmanagerOptions for the meaning). */
export interface AlertmanagerServerProps {
  readonly namespace: string;
  readonly image: string;
  /** alertmanager.yml as an object. */
  readonly config: Record<string, unknown>;
  readonly credentialsSecretName: string;
  /** Whether a receiver reads a file of the credentials Secret. */
  readonly mountCredentials: boolean;
  readonly storageSize?: string;
  readonly storageClassName?: string;
  readonly resources: kplus.ContainerResources;
  readonly labels: Record<string, string>;
}

export const ALERTMANAGER_PORT = 9093;
const CONFIG_DIR = '/etc/alertmanager/config';
const DATA_DIR = '/alertmanager';
const UID = 65534;

/** A single Alertmanager (no gossip cluster) with its config, optional credentials and storage. Internal to MetricsStack. */
export class AlertmanagerServer extends Construct {
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  /** alertmanager.yml as rendered into the ConfigMap. */
  public readonly renderedConfig: string;

  constructor(scope: Construct, id: string, props: AlertmanagerServerProps) {
    super(scope, id);
    const ns = props.namespace;
    this.renderedConfig = YAML.stringify(props.config, { lineWidth: 0 });

    const config = new kplus.ConfigMap(this, 'Config', {
      metadata: { name: 'alertmanager-config', namespace: ns, labels: props.labels },
      data: { 'alertmanager.yml': this.renderedConfig },
    });
    if (props.storageSize !== undefined) {
      new k8s.KubePersistentVolumeClaim(this, 'Storage', {
        metadata: { name: 'alertmanager-data', namespace: ns, labels: props.labels },
        spec: {
          accessModes: ['ReadWriteOnce'],
          storageClassName: props.storageClassName,
          resources: { requests: { storage: k8s.Quantity.fromString(props.storageSize) } },
        },
      });
    }

    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name: 'alertmanager', namespace: ns, labels: props.labels },
      replicas: 1,
      // A ReadWriteOnce volume has one writer at a time.
      strategy: props.storageSize !== undefined ? kplus.DeploymentStrategy.recreate() : undefined,
      automountServiceAccountToken: false,
      podMetadata: {
        labels: props.labels,
        annotations: { 'checksum/config': createHash('sha256').update(this.renderedConfig).digest('hex').slice(0, 16) },
      },
      securityContext: { ensureNonRoot: true, user: UID, group: UID, fsGroup: UID },
      containers: [{
        name: 'alertmanager',
        image: props.image,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        args: [
          `--config.file=${CONFIG_DIR}/alertmanager.yml`,
          `--storage.path=${DATA_DIR}`,
          `--web.listen-address=:${ALERTMANAGER_PORT}`,
          // One replica: no gossip port to open or protect.
          '--cluster.listen-address=',
        ],
        ports: [{ number: ALERTMANAGER_PORT, name: 'http' }],
        securityContext: restrictedContainerSecurity(UID),
        resources: props.resources,
        readiness: kplus.Probe.fromHttpGet('/-/ready', { port: ALERTMANAGER_PORT, periodSeconds: Duration.seconds(10) }),
        liveness: kplus.Probe.fromHttpGet('/-/healthy', { port: ALERTMANAGER_PORT, periodSeconds: Duration.seconds(20), failureThreshold: 6, timeoutSeconds: Duration.seconds(5) }),
      }],
    });
    const container = this.deployment.containers[0];
    container.mount(CONFIG_DIR, kplus.Volume.fromConfigMap(this, 'ConfigVolume', config, { name: 'config' }), { readOnly: true });
    if (props.mountCredentials) {
      // Receiver credentials stay in a Secret the user creates; the config names files, not values.
      container.mount(ALERTMANAGER_SECRETS_DIR, kplus.Volume.fromSecret(this, 'CredentialsVolume',
        kplus.Secret.fromSecretName(this, 'Credentials', props.credentialsSecretName), { name: 'credentials' }), { readOnly: true });
    }
    container.mount(DATA_DIR, props.storageSize !== undefined
      ? kplus.Volume.fromPersistentVolumeClaim(this, 'DataVolume', kplus.PersistentVolumeClaim.fromClaimName(this, 'DataRef', 'alertmanager-data'), { name: 'data' })
      : kplus.Volume.fromEmptyDir(this, 'DataVolume', 'data'));
    addRuntimeDefaultSeccomp(this.deployment);

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name: 'alertmanager', namespace: ns, labels: props.labels },
      selector: this.deployment,
      ports: [{ port: ALERTMANAGER_PORT, targetPort: ALERTMANAGER_PORT, name: 'http' }],
    });
  }
}
