export * from './vendor';
export * from './mesh-telemetry';
export * from './vendor-crawler';
export * from './metrics-stack';
export type { RuleGroup, Rule, RecordingRule, AlertingRule } from './prometheus/rule-group';
export type { RemoteWriteOptions, RemoteWriteBasicAuth, RemoteWriteBearerToken, RemoteWriteQueueOptions } from './prometheus/remote-write';
export type { OperatorOptions } from './operator/operator-options';
export { PropertyError } from './validation';
export * as contract from './metric-contract';
