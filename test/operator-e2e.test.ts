import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { describeContractE2e } from './support/contract-e2e';
import { promtool } from './support/prometheus-config';

/**
 * Operator mode is equivalent to the standalone scrape job: the PodMonitor and PrometheusRule, converted to the
 * configuration prometheus-operator generates (test/support/operator-scrape-config.ts), pass promtool and the
 * same end-to-end checks on a real Prometheus.
 */
const e2e = describeContractE2e('prometheus-operator');

test('promtool accepts the configuration and rule file generated from the PodMonitor and PrometheusRule', () => {
  // GIVEN the converted configuration the end-to-end checks run on
  const configFile = e2e.configFile();
  const config = YAML.parse(fs.readFileSync(configFile, 'utf8'));
  const rulesFile = config.rule_files[0];

  // WHEN
  const checkConfig = promtool(['check', 'config', configFile]);
  const checkRules = promtool(['check', 'rules', rulesFile]);

  // THEN
  expect({ status: checkConfig.status, out: checkConfig.stdout + checkConfig.stderr }).toMatchObject({ status: 0 });
  expect({ status: checkRules.status, out: checkRules.stdout + checkRules.stderr }).toMatchObject({ status: 0 });
  expect(path.dirname(rulesFile)).toBe(path.dirname(configFile));
  expect(config.scrape_configs[0].job_name).toBe('podMonitor/monitoring/crawler-sidecars/0');
});

test('targets carry the job label prometheus-operator gives them, and the rules select on it', async () => {
  const { activeTargets } = await e2e.prom().targets();
  const sidecars = activeTargets.filter((t: any) => t.scrapePool === 'podMonitor/monitoring/crawler-sidecars/0');
  expect(sidecars.length).toBeGreaterThan(0);
  for (const t of sidecars) expect(t.labels).toMatchObject({ job: 'monitoring/crawler-sidecars', container: 'istio-proxy' });
  expect(e2e.job()).toBe('monitoring/crawler-sidecars');
  // crawlerPods counts up{job="monitoring/crawler-sidecars"}: a wrong job would leave it empty.
  const pods = await e2e.prom().query('proxy_vendor:proxy_crawler_pods:count');
  expect(Object.fromEntries(pods.map(s => [s.metric.proxy_vendor, s.value]))).toEqual({ 'vendor-a': 2, 'vendor-b': 2, 'vendor-c': 2 });
});
