export * from './vendor';
export * from './mesh-telemetry';
export * from './vendor-crawler';
export * from './metrics-stack';
export type { RuleGroup, Rule, RecordingRule, AlertingRule } from './prometheus/rule-group';
export type { DestinationOptions } from './prometheus/destinations';
export { PropertyError } from './validation';
export * as contract from './metric-contract';
