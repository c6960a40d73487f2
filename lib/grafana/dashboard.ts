import { PropertyError } from '../../core/validation';

/** kubectl's last-applied annotation holds the whole object; above this, client-side apply fails. */
export const MAX_DASHBOARD_BYTES = 256 * 1024;

/** A Grafana dashboard JSON model; `uid` names its ConfigMap and file. */
export type DashboardModel = { uid?: string } & Record<string, unknown>;

/**
 * Checks a dashboard before it is put into a ConfigMap (either provisioning mode): uid a DNS label that
 * is not taken yet, JSON within the ConfigMap size limit. Records the uid in `taken` and returns the JSON.
 * @internal
 */
export function renderDashboard(dashboard: DashboardModel, taken: Set<string>): { uid: string; json: string } {
  const uid = dashboard.uid;
  if (typeof uid !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(uid)) {
    throw new PropertyError('dashboard.uid', uid, 'must be a lower-case DNS label of at most 40 characters');
  }
  if (taken.has(uid)) {
    throw new PropertyError('dashboard.uid', uid, 'is already provisioned');
  }
  const json = JSON.stringify(dashboard, null, 2);
  if (Buffer.byteLength(json) > MAX_DASHBOARD_BYTES) {
    throw new PropertyError(`dashboard(${uid})`, `${Buffer.byteLength(json)} bytes`, `exceeds ${MAX_DASHBOARD_BYTES} bytes, the limit of kubectl's last-applied annotation`);
  }
  taken.add(uid);
  return { uid, json };
}
