/**
 * The public API: the constructs with their props and option types, the vendor model, and the mixin as data (rules,
 * alerts, dashboards) for deployments by other means. Whole modules are exported; the helpers they export for the
 * library's own use are marked internal and left out of the published declarations.
 */

// Constructs
export * from './mesh-telemetry';
export * from './vendor-crawler';
export * from './demo-gateway';
export * from './vendor-usage';
export * from './metrics-stack';
export * from './metrics/metrics-stack-props';

// What crawler pods of your own need from their sidecar
export { PROXY_CONFIG_ANNOTATION, TRANSPARENT_PROXY_HEADERS, makeSidecarTransparent, sidecarHeaderGaps, transparentProxyConfig } from './mesh/proxy-config';

// Their option types
export * from './alertmanager/alertmanager-config';
export * from './grafana/dashboard';
export * from './grafana/grafana-options';
export * from './network/network-policy-options';
export * from './network/peers';
export * from './operator/operator-options';
export * from './prometheus/destinations';
export * from './prometheus/prometheus-options';
export * from './prometheus/remote-write';
export type { GlobalTierEngine, GlobalTierOptions, GlobalTierRemoteWrite } from './prometheus/global-tier';
export * from './prometheus/scrape-config';

// The vendor model, and the error invalid props are reported with
export * from '../core/vendor';
export { PropertyError } from '../core/validation';

// The mixin: recording rules, alerts and dashboards as data, and the metric contract they read
export * from '../mixin';
export * from '../core/rules';
export * from '../core/alerts';
export * from '../core/destinations';
export * from '../dashboards';
export * as contract from '../core/metric-contract';
