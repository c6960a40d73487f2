import * as kplus from 'cdk8s-plus-27';
import { NetworkPeer } from '../network/peers';

/** Grafana settings. */
export interface GrafanaOptions {
  /**
   * Grafana image.
   * @default DEFAULT_GRAFANA_IMAGE ('docker.io/grafana/grafana:11.6.0')
   */
  readonly image?: string;
  /**
   * Secret (in the monitoring namespace) with keys `admin-user` and `admin-password`; create it before
   * applying. There is no default password.
   * @default DEFAULT_GRAFANA_ADMIN_SECRET_NAME ('grafana-admin')
   */
  readonly adminSecretName?: string;
  /**
   * Container resources.
   * @default DEFAULT_GRAFANA_RESOURCES (requests 100m CPU / 256Mi, limits 1 CPU / 512Mi)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Who may reach Grafana (port 3000) when NetworkPolicies are on, e.g. your ingress controller's
   * namespace. `kubectl port-forward` is not subject to NetworkPolicies and always works.
   * @default - none: Grafana is reached through `kubectl port-forward` only
   */
  readonly allowFrom?: NetworkPeer[];
  /**
   * URL of the Prometheus-compatible query API behind the datasource, e.g. a long-term store's
   * (`http://mimir-query-frontend.mimir.svc:8080/prometheus`).
   * @default - the stack's Prometheus (the global one when sharded)
   */
  readonly datasourceUrl?: string;
}
