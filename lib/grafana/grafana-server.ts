import { Construct } from 'constructs';
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as YAML from 'yaml';
import { addRuntimeDefaultSeccomp, restrictedContainerSecurity } from '../internal/hardening';
import { DashboardModel, renderDashboard } from './dashboard';

/** Resolved settings of the Grafana server (see GrafanaOptions for the meaning). */
export interface GrafanaServerProps {
  readonly namespace: string;
  readonly image: string;
  readonly adminSecretName: string;
  readonly prometheusUrl: string;
  readonly scrapeInterval: string;
  readonly resources: kplus.ContainerResources;
  readonly labels: Record<string, string>;
}

export const GRAFANA_PORT = 3000;
/** Uid of the provisioned Prometheus datasource; dashboards refer to it. */
export const DATASOURCE_UID = 'prometheus';
const DASHBOARDS_DIR = '/var/lib/grafana-dashboards';
const UID = 472;
export { MAX_DASHBOARD_BYTES } from './dashboard';

/** Grafana with a provisioned Prometheus datasource and file-provisioned dashboards. Internal to MetricsStack. */
export class GrafanaServer extends Construct {
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  private readonly props: GrafanaServerProps;
  private readonly dashboardUids = new Set<string>();

  constructor(scope: Construct, id: string, props: GrafanaServerProps) {
    super(scope, id);
    this.props = props;
    const ns = props.namespace;

    const provisioning = new kplus.ConfigMap(this, 'Provisioning', {
      metadata: { name: 'grafana-provisioning', namespace: ns, labels: props.labels },
      data: {
        'datasources.yaml': YAML.stringify({
          apiVersion: 1,
          datasources: [{
            name: 'Prometheus',
            uid: DATASOURCE_UID,
            type: 'prometheus',
            access: 'proxy',
            url: props.prometheusUrl,
            isDefault: true,
            editable: false,
            jsonData: { timeInterval: props.scrapeInterval },
          }],
        }),
        'dashboards.yaml': YAML.stringify({
          apiVersion: 1,
          providers: [{
            name: 'proxy-telemetry',
            folder: 'Proxy Telemetry',
            type: 'file',
            disableDeletion: true,
            allowUiUpdates: false,
            options: { path: DASHBOARDS_DIR },
          }],
        }),
      },
    });

    const adminSecret = kplus.Secret.fromSecretName(this, 'AdminSecret', props.adminSecretName);
    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name: 'grafana', namespace: ns, labels: props.labels },
      replicas: 1,
      podMetadata: { labels: props.labels },
      automountServiceAccountToken: false,
      securityContext: { ensureNonRoot: true, user: UID, group: UID, fsGroup: UID },
      containers: [{
        name: 'grafana',
        image: props.image,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        ports: [{ number: GRAFANA_PORT, name: 'http' }],
        envVariables: {
          // Credentials come only from a Secret the operator creates; there is no default password.
          GF_SECURITY_ADMIN_USER: kplus.EnvValue.fromSecretValue({ secret: adminSecret, key: 'admin-user' }),
          GF_SECURITY_ADMIN_PASSWORD: kplus.EnvValue.fromSecretValue({ secret: adminSecret, key: 'admin-password' }),
          GF_AUTH_ANONYMOUS_ENABLED: kplus.EnvValue.fromValue('false'),
          GF_USERS_ALLOW_SIGN_UP: kplus.EnvValue.fromValue('false'),
          GF_AUTH_DISABLE_LOGIN_FORM: kplus.EnvValue.fromValue('false'),
          GF_ANALYTICS_REPORTING_ENABLED: kplus.EnvValue.fromValue('false'),
          GF_ANALYTICS_CHECK_FOR_UPDATES: kplus.EnvValue.fromValue('false'),
          GF_PATHS_PROVISIONING: kplus.EnvValue.fromValue('/etc/grafana/provisioning'),
        },
        securityContext: restrictedContainerSecurity(UID),
        resources: props.resources,
        readiness: kplus.Probe.fromHttpGet('/api/health', { port: GRAFANA_PORT, periodSeconds: Duration.seconds(10) }),
        liveness: kplus.Probe.fromHttpGet('/api/health', { port: GRAFANA_PORT, periodSeconds: Duration.seconds(20), failureThreshold: 6, timeoutSeconds: Duration.seconds(5) }),
      }],
    });
    const container = this.deployment.containers[0];
    container.mount('/etc/grafana/provisioning', kplus.Volume.fromConfigMap(this, 'ProvisioningVolume', provisioning, {
      name: 'provisioning',
      items: {
        'datasources.yaml': { path: 'datasources/datasources.yaml' },
        'dashboards.yaml': { path: 'dashboards/dashboards.yaml' },
      },
    }), { readOnly: true });
    // Writable paths under a read-only root filesystem.
    container.mount('/var/lib/grafana', kplus.Volume.fromEmptyDir(this, 'Data', 'data'));
    container.mount('/tmp', kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp'));
    addRuntimeDefaultSeccomp(this.deployment);

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name: 'grafana', namespace: ns, labels: props.labels },
      selector: this.deployment,
      ports: [{ port: GRAFANA_PORT, targetPort: GRAFANA_PORT, name: 'http' }],
    });
  }

  /** Provisions a dashboard from its JSON model, in a ConfigMap of its own. */
  public addDashboard(dashboard: DashboardModel): void {
    const { uid, json } = renderDashboard(dashboard, this.dashboardUids);
    const cm = new kplus.ConfigMap(this, `Dashboard-${uid}`, {
      metadata: { name: `grafana-dashboard-${uid}`, namespace: this.props.namespace, labels: this.props.labels },
      data: { [`${uid}.json`]: json },
    });
    this.deployment.containers[0].mount(`${DASHBOARDS_DIR}/${uid}`,
      kplus.Volume.fromConfigMap(this, `DashboardVolume-${uid}`, cm, { name: `dashboard-${uid}` }), { readOnly: true });
  }
}
