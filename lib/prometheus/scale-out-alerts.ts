import { SCALE_OUT_ALERT_EXPR } from '../../core/metric-contract';
import { AlertingRule, RuleGroup } from '../../core/rules';

export const SCALE_OUT_ALERT_GROUP = 'proxy-telemetry.scale-out';

/**
 * Alerts for series lost on the way between Prometheus servers: a shard that is down (its pods vanish from every
 * vendor total) and remote-write samples a receiver rejected for good. Evaluated by the Prometheus that scrapes
 * the servers' own metrics (the global one when sharded).
 */
export function scaleOutAlertGroup(opts: { sharded: boolean; remoteWrite: boolean; runbookUrl: string }): RuleGroup | undefined {
  const alert = (name: string, expr: string, forDuration: string, severity: 'warning' | 'critical', summary: string, description: string): AlertingRule => ({
    alert: name,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary, description, runbook_url: `${opts.runbookUrl}#${name.toLowerCase()}` },
  });
  const rules: AlertingRule[] = [
    ...(opts.sharded ? [alert('PrometheusShardDown', SCALE_OUT_ALERT_EXPR.shardDown, '5m', 'critical',
      'A Prometheus shard is down.',
      'Prometheus shard {{ $labels.instance }} cannot be scraped: the crawler pods it scrapes are not measured and every vendor total misses them.')] : []),
    // A shard always writes to the global Prometheus, so sharding alone needs this alert too.
    ...(opts.sharded || opts.remoteWrite ? [alert('PrometheusRemoteWriteFailing', SCALE_OUT_ALERT_EXPR.remoteWriteFailing, '15m', 'warning',
      'Prometheus drops samples it cannot remote-write.',
      'Prometheus {{ $labels.instance }} drops {{ $value | humanize }} samples/s that {{ $labels.remote_name }} ({{ $labels.url }}) rejected; they are missing from that store.')] : []),
  ];
  return rules.length > 0 ? { name: SCALE_OUT_ALERT_GROUP, rules } : undefined;
}
