export * from '../core/vendor';
export * from './mesh-telemetry';
export * from './vendor-crawler';
export * from './demo-gateway';
export * from './metrics-stack';
export type { RuleGroup, Rule, RecordingRule, AlertingRule, ContractRule, RulePlacement, RuleSettings, CrawlerJobs } from '../core/rules';
export { contractRules, ruleGroups, placeRules } from '../core/rules';
export type { AlertOptions } from '../core/alerts';
export type { DestinationOptions } from './prometheus/destinations';
export type { NetworkPeer } from './network/peers';
export type { NetworkPolicyOptions, CrawlerEgressOptions } from './network/network-policy-options';
export type {
  AlertmanagerOptions, AlertmanagerReceiver, AlertmanagerRoute, WebhookReceiverOptions, SlackReceiverOptions,
  PagerDutyReceiverOptions, EmailReceiverOptions,
} from './alertmanager/alertmanager-config';
export type { PodScrape } from './prometheus/scrape-config';
export type { RemoteWriteOptions, RemoteWriteBasicAuth, RemoteWriteBearerToken, RemoteWriteQueueOptions } from './prometheus/remote-write';
export type { OperatorOptions } from './operator/operator-options';
export { PropertyError } from '../core/validation';
export * as contract from '../core/metric-contract';
export { proxyDashboards, panelQueries, expandVariables } from '../dashboards';
export type { DashboardJson, PanelQuery, ProxyDashboardsProps, VariableValues } from '../dashboards';
