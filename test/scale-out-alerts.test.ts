import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { MetricsStack } from '../lib/metrics-stack';
import { DEFAULT_RUNBOOK_URL } from '../core/alerts';
import { VendorCatalog } from '../core/vendor';
import { expectRuleTestsPass } from './support/prometheus-config';

// GIVEN the global Prometheus' rules of a sharded stack that also writes to a store.
const rulesYaml = new MetricsStack(Testing.chart(), 'metrics', {
  vendors: new VendorCatalog([{ name: 'vendor-a' }]), crawlerNamespaces: ['crawlers'],
  prometheus: { shards: 2, remoteWrite: [{ url: 'http://mimir.example/api/v1/push', name: 'mimir' }] },
}).renderRules();

/** promtool test rules: `alert` fires at `firesAt` as expected and not one evaluation (1m) earlier. */
function expectFiresAt(alert: string, firesAt: number, inputSeries: unknown[], labels: Record<string, string>, description: string): void {
  const rule = YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === alert);
  expectRuleTestsPass(rulesYaml, {
    evaluation_interval: '1m',
    tests: [{
      interval: '1m',
      input_series: inputSeries,
      alert_rule_test: [
        { eval_time: `${firesAt - 1}m`, alertname: alert, exp_alerts: [] },
        {
          eval_time: `${firesAt}m`, alertname: alert, exp_alerts: [{
            exp_labels: { severity: rule.labels.severity, ...labels },
            exp_annotations: { summary: rule.annotations.summary, description, runbook_url: `${DEFAULT_RUNBOOK_URL}#${alert.toLowerCase()}` },
          }],
        },
      ],
    }],
  });
}

test('PrometheusShardDown fires 5 minutes after a shard stops answering the global scrape, not earlier', () => {
  const shard = (i: number) => `up{job="prometheus-shards", instance="prometheus-shard-${i}.monitoring.svc:9090"}`;
  expectFiresAt('PrometheusShardDown', 7, [
    { series: shard(0), values: '1x20' },
    // Down from minute 2.
    { series: shard(1), values: '1 1 0x20' },
  ], { job: 'prometheus-shards', instance: 'prometheus-shard-1.monitoring.svc:9090' },
  'Prometheus shard prometheus-shard-1.monitoring.svc:9090 cannot be scraped: the crawler pods it scrapes are not measured and every vendor total misses them.');
});

test('PrometheusRemoteWriteFailing fires after 15 minutes of rejected samples, not earlier', () => {
  const failed = (instance: string, remote: string) => `prometheus_remote_storage_samples_failed_total{job="prometheus-shards", instance="${instance}", remote_name="${remote}", url="http://mimir.example/api/v1/push"}`;
  expectFiresAt('PrometheusRemoteWriteFailing', 21, [
    // 60 samples a minute rejected from minute 6 on; the other queue never fails.
    { series: failed('prometheus-shard-0.monitoring.svc:9090', 'mimir'), values: '0x5 60+60x30' },
    { series: failed('prometheus-shard-1.monitoring.svc:9090', 'mimir'), values: '0x40' },
  ], { instance: 'prometheus-shard-0.monitoring.svc:9090', remote_name: 'mimir', url: 'http://mimir.example/api/v1/push' },
  'Prometheus prometheus-shard-0.monitoring.svc:9090 drops 1 samples/s that mimir (http://mimir.example/api/v1/push) rejected; they are missing from that store.');
});
