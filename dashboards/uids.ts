/* Dashboard uids and the tag they share: no Grafana SDK here, so the public types never need it. */

/** Tag shared by every dashboard: the dashboards link to each other through it. */
export const DASHBOARD_TAG = 'proxy-telemetry';
export const BANDWIDTH_UID = 'proxy-bandwidth';
export const COST_UID = 'proxy-cost';
export const DESTINATIONS_UID = 'proxy-destinations';
export const HEALTH_UID = 'proxy-health';
export const OVERVIEW_UID = 'proxy-overview';
