import * as YAML from 'yaml';
import { MetricsStack } from '../lib/metrics-stack';
import { StandaloneMetricsStackProps } from '../lib/metrics/metrics-stack-props';
import { USAGE_JOB, shardPartial } from '../core/metric-contract';
import { INTERMEDIATE, RULE } from '../core/rules';
import { contractRules, placeRules } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { hashmod } from './support/hashmod';
import { injectedPodTargets } from './support/pod-discovery';
import { discoveredTargets, materializeConfig, promtool } from './support/prometheus-config';
import { promqlErrors } from './support/promql';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';
import { findObject, synthChart } from './support/synth';

const vendors = () => new VendorCatalog([{ name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000'], pricePerGiB: 4, monthlyBudget: 100 }, { name: 'vendor-b', pricePer1kRequests: 0.5 }]);

function stack(props: Partial<StandaloneMetricsStackProps> = {}, build?: (s: MetricsStack) => void): { objects: KubeObject[]; stack: MetricsStack } {
  let metrics!: MetricsStack;
  const objects = synthChart(chart => {
    metrics = new MetricsStack(chart, 'metrics', { vendors: vendors(), crawlerNamespaces: ['crawlers'], ...props });
    build?.(metrics);
  });
  return { objects, stack: metrics };
}

const sharded = (shards = 3, props: Partial<StandaloneMetricsStackProps> = {}) => stack({ ...props, prometheus: { shards, ...props.prometheus } });
const rulesOf = (s: MetricsStack, server?: string) => YAML.parse(s.renderRules(server)).groups.flatMap((g: any) => g.rules);
const configOf = (s: MetricsStack, server?: string) => YAML.parse(s.renderPrometheusConfig(server));

describe('MetricsStack with prometheus.shards', () => {
  test('N shard Prometheus servers plus a global one, each with its own config, PVC and Service; valid against the schemas', () => {
    // GIVEN / WHEN
    const { objects } = sharded(3);

    // THEN
    expect(objects).toMatchSnapshot();
    expectValidObjects(objects);
    const deployments = objects.filter(o => o.kind === 'Deployment').map(o => o.metadata.name);
    expect(deployments).toEqual(['prometheus', 'prometheus-shard-0', 'prometheus-shard-1', 'prometheus-shard-2', 'grafana']);
    for (const name of ['prometheus', 'prometheus-shard-0', 'prometheus-shard-1', 'prometheus-shard-2']) {
      expect(findObject(objects, 'PersistentVolumeClaim', `${name}-data`).spec.resources.requests.storage).toBe('50Gi');
      expect(findObject(objects, 'Service', name).spec.ports[0].port).toBe(9090);
      const deployment = findObject(objects, 'Deployment', name);
      expect(deployment.spec.strategy.type).toBe('Recreate');
      expect(deployment.spec.template.spec.volumes).toContainEqual({ name: 'config', configMap: { name: `${name}-config` } });
    }
    // Only shards discover pods; the global server has no API token and no Role.
    expect(objects.filter(o => o.kind === 'Role').map(o => o.metadata.name)).toEqual(['prometheus-shard-0-pod-discovery', 'prometheus-shard-1-pod-discovery', 'prometheus-shard-2-pod-discovery']);
    expect(findObject(objects, 'Deployment', 'prometheus').spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(findObject(objects, 'Deployment', 'prometheus').spec.template.spec.containers[0].args).toContain('--web.enable-remote-write-receiver');
    expect(findObject(objects, 'Deployment', 'prometheus-shard-1').spec.template.spec.containers[0].args).not.toContain('--web.enable-remote-write-receiver');
    // Grafana queries the global Prometheus.
    const datasources = YAML.parse(findObject(objects, 'ConfigMap', 'grafana-provisioning').data['datasources.yaml']);
    expect(datasources.datasources[0].url).toBe('http://prometheus.monitoring.svc:9090');
  });

  test('shard i keeps the targets whose address hashes to i, labels what it sends with prometheus_shard and writes to the global Prometheus', () => {
    // GIVEN / WHEN
    const { stack: metrics } = sharded(3);

    // THEN
    for (const i of [0, 1, 2]) {
      const config = configOf(metrics, `prometheus-shard-${i}`);
      expect(config.global.external_labels).toEqual({ prometheus_shard: String(i) });
      const job = config.scrape_configs.find((j: any) => j.job_name === 'crawler-sidecars');
      expect(job.relabel_configs.slice(-2)).toEqual([
        { source_labels: ['__address__'], target_label: '__tmp_hash', modulus: 3, action: 'hashmod' },
        { source_labels: ['__tmp_hash'], regex: String(i), action: 'keep' },
      ]);
      expect(config.remote_write[0]).toMatchObject({ url: 'http://prometheus.monitoring.svc:9090/api/v1/write', name: 'proxy-telemetry-global' });
    }
    const global = configOf(metrics);
    expect(global.scrape_configs.map((j: any) => j.job_name)).toEqual(['prometheus', 'prometheus-shards']);
    expect(global.scrape_configs[1].static_configs[0].targets).toEqual([0, 1, 2].map(i => `prometheus-shard-${i}.monitoring.svc:9090`));
    expect(global.remote_write).toBeUndefined();
  });

  test('every target is kept by exactly one shard, the one hashmod predicts (promtool check service-discovery)', () => {
    // GIVEN 24 crawler pods and the rendered shard configs
    const { stack: metrics } = sharded(3);
    const deployment: KubeObject = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'crawler-vendor-a', namespace: 'crawlers' },
      spec: { template: { metadata: { labels: { 'proxy-vendor': 'vendor-a' } }, spec: { containers: [{ name: 'crawler', image: 'node:20' }] } } },
    };
    const pods = Array.from({ length: 24 }, (_, i) => ({ name: `crawler-vendor-a-5f7c9-p${i}`, ip: `10.1.${i >> 4}.${(i % 16) + 1}` }));
    const targets = pods.flatMap(p => injectedPodTargets(deployment, p));

    // WHEN
    const keptBy = [0, 1, 2].map(i => {
      const { configFile, rulesFile } = materializeConfig(metrics.renderPrometheusConfig(`prometheus-shard-${i}`), metrics.renderRules(`prometheus-shard-${i}`), targets);
      expect(promtool(['check', 'config', configFile]).status).toBe(0);
      expect(promtool(['check', 'rules', rulesFile]).status).toBe(0);
      return discoveredTargets(configFile, 'crawler-sidecars').map(r => r.labels ?? {}).filter(l => l.pod).map(l => ({ pod: l.pod, address: l.__address__ }));
    });

    // THEN
    const all = keptBy.flat();
    expect(all.map(t => t.pod).sort()).toEqual(pods.map(p => p.name).sort());
    expect(new Set(all.map(t => t.pod)).size).toBe(pods.length);
    keptBy.forEach((kept, i) => {
      expect(kept.length).toBeGreaterThan(0);
      for (const t of kept) expect({ pod: t.pod, shard: hashmod(t.address, 3) }).toEqual({ pod: t.pod, shard: i });
    });
  });

  test('the global config and rules pass promtool; every rule expression parses', () => {
    const { stack: metrics } = sharded(2, { prometheus: { remoteWrite: [{ url: 'http://mimir.example/api/v1/push', contractOnly: true }] } });
    const { configFile, rulesFile } = materializeConfig(metrics.renderPrometheusConfig(), metrics.renderRules(), []);
    expect(promtool(['check', 'config', configFile]).status).toBe(0);
    const rules = promtool(['check', 'rules', rulesFile]);
    expect(rules.stdout + rules.stderr).toContain('SUCCESS');
    for (const server of ['prometheus', 'prometheus-shard-0']) {
      for (const rule of rulesOf(metrics, server)) expect({ rule: rule.record ?? rule.alert, errors: promqlErrors(rule.expr) }).toEqual({ rule: rule.record ?? rule.alert, errors: [] });
    }
  });

  test('rule placement: pod-level rules on shards, partial sums summed globally, ratios, cost, constants and alerts global only', () => {
    // GIVEN / WHEN
    // (with a usage collector, so that the reconciliation rules are placed too)
    const usage = { job: USAGE_JOB, namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'proxy-usage-collector' }, portName: 'metrics', path: '/metrics' };
    const { stack: metrics } = sharded(2, { prometheus: { podScrapes: [usage] } });
    const shard = rulesOf(metrics, 'prometheus-shard-0');
    const global = rulesOf(metrics);
    const recorded = (rules: any[]) => rules.filter(r => r.record).map(r => r.record);

    // THEN every contract rule is a record with a placement, and is recorded where its placement says
    const records = contractRules({ vendors: metrics.vendors, jobs: { totals: 'crawler-sidecars', destinations: 'crawler-destinations' }, usage: true });
    expect(Object.values(RULE).filter(name => !records.some(r => r.record === name))).toEqual([RULE.monthlyTrafficBudgetBytes]); // no vendor sets it
    for (const { record: rule, placement } of records) {
      expect({ rule, onShard: recorded(shard).includes(placement === 'partial' ? shardPartial(rule) : rule) }).toEqual({ rule, onShard: placement !== 'global' });
      expect({ rule, global: recorded(global).includes(rule) }).toEqual({ rule, global: placement !== 'shard' });
    }
    expect(shard.filter((r: any) => r.alert)).toEqual([]);
    // A partial's global total sums it by the same labels; a ratio is computed from global sums only.
    expect(global.find((r: any) => r.record === RULE.requests).expr).toBe(`sum by (proxy_vendor, request_protocol) (${shardPartial(RULE.requests)})`);
    expect(global.find((r: any) => r.record === RULE.errorRatio).expr).not.toContain('_shard:');
    expect(shard.map((r: any) => r.expr).join('\n')).not.toMatch(/:constant|:ratio_rate/);
    expect(recorded(global)).toEqual(expect.arrayContaining([RULE.vendorInfo, RULE.pricePerGiB, RULE.spend1h]));
    expect(global.filter((r: any) => r.alert).map((r: any) => r.alert)).toEqual(expect.arrayContaining(['CrawlerSidecarTargetsDown', 'PrometheusShardDown', 'PrometheusRemoteWriteFailing']));
  });

  test('the destination bound ranks fleet-wide totals: shards record every (folded) destination, the global Prometheus keeps the top N', () => {
    // GIVEN the default bound (200 per vendor), and a fold
    const { stack: metrics } = sharded(2);
    const folded = sharded(2, { destinations: { fold: 'registrable-domain', maxPerVendor: 50 } }).stack;

    // THEN shards sum per destination, unbounded; the global Prometheus sums their partials and bounds the sum
    const partial = shardPartial(INTERMEDIATE.destinations);
    const onShard = rulesOf(metrics, 'prometheus-shard-0').find((r: any) => r.record === partial).expr;
    expect(onShard).toMatch(/^sum by \(/);
    expect(onShard).not.toContain('topk');
    expect(rulesOf(metrics, 'prometheus-shard-0').find((r: any) => r.record === RULE.destinationRequests)).toBeUndefined();
    expect(rulesOf(metrics).find((r: any) => r.record === INTERMEDIATE.destinations).expr).toBe(`sum by (proxy_vendor, request_protocol, destination) (${partial})`);
    // The top list, ranked by the hourly average of the fleet-wide sums and steadied by its own previous list.
    expect(rulesOf(metrics, 'prometheus-shard-0').find((r: any) => r.record === INTERMEDIATE.destinationsListed)).toBeUndefined();
    const listOnGlobal = rulesOf(metrics).find((r: any) => r.record === INTERMEDIATE.destinationsListed).expr;
    expect(listOnGlobal).toContain('topk by (proxy_vendor, request_protocol) (200, ');
    expect(listOnGlobal).toContain(`avg_over_time(${INTERMEDIATE.destinations}[1h])`);
    expect(listOnGlobal).toContain(`and on (proxy_vendor, request_protocol, destination) ${INTERMEDIATE.destinationsListed}`);
    const onGlobal = rulesOf(metrics).find((r: any) => r.record === RULE.destinationRequests).expr;
    expect(onGlobal).toContain(`and on (proxy_vendor, request_protocol, destination) ${INTERMEDIATE.destinationsListed}`);
    expect(onGlobal).toContain(INTERMEDIATE.destinations);
    expect(onGlobal).toContain('"(other)"');
    // A fold happens where hosts are known, on the shards; the global bound does not fold again.
    expect(rulesOf(folded, 'prometheus-shard-0').find((r: any) => r.record === partial).expr).toContain('label_replace');
    expect(rulesOf(folded).find((r: any) => r.record === INTERMEDIATE.destinationsListed).expr).toContain('(50, ');
    const foldedGlobal = rulesOf(folded).find((r: any) => r.record === RULE.destinationRequests).expr;
    expect(foldedGlobal).not.toContain('(?i)');
    // The per-pod intermediates stay on the shards: the global rules read their sums.
    const sent = configOf(metrics, 'prometheus-shard-0').remote_write[0].write_relabel_configs[0].regex;
    for (const name of [INTERMEDIATE.podResponseCodes, INTERMEDIATE.podConnections]) expect(sent).not.toContain(name.replace(/[.]/g, '\\.'));
    expect(sent).toContain(RULE.podRequests);
  });

  test('placeRules refuses a rule in an unknown group and a partial rule that is not one sum', () => {
    expect(() => placeRules([{ record: 'proxy_vendor:new_rule:rate5m', expr: 'vector(1)', group: 'elsewhere', placement: 'global' }])).toThrow("group 'elsewhere', which is not one of proxy-telemetry.rules");
    expect(() => placeRules([{ record: RULE.requests, expr: 'sum by (proxy_vendor) (a) / sum by (proxy_vendor) (b)', group: 'proxy-telemetry.rules', placement: 'partial' }])).toThrow('must be a single \'sum by (...) (...)\'');
  });

  test('user rule groups go to the global Prometheus, or with onShards to every shard, whose outputs are sent to the global one', () => {
    // GIVEN / WHEN
    const { stack: metrics } = sharded(2);
    metrics.addRuleGroup({ name: 'global-example', rules: [{ record: 'proxy_vendor:example:sum', expr: 'sum by (proxy_vendor) (proxy_vendor:proxy_requests:rate5m)' }] });
    metrics.addRuleGroup({ name: 'pod-example', rules: [{ record: 'proxy_vendor_pod:example:rate5m', expr: 'sum by (proxy_vendor, namespace, pod) (rate(istio_requests_total[5m]))' }] }, { onShards: true });

    // THEN
    expect(YAML.parse(metrics.renderRules()).groups.map((g: any) => g.name)).toContain('global-example');
    for (const i of [0, 1]) {
      expect(YAML.parse(metrics.renderRules(`prometheus-shard-${i}`)).groups.map((g: any) => g.name)).toEqual(['proxy-telemetry.rules', 'proxy-telemetry.destinations', 'proxy-telemetry.latency', 'proxy-telemetry.scrape', 'proxy-telemetry.cost', 'pod-example']);
      expect(configOf(metrics, `prometheus-shard-${i}`).remote_write[0].write_relabel_configs[0].regex).toContain('proxy_vendor_pod:example:rate5m');
    }
    expect(() => metrics.addRuleGroup({ name: 'pod-example', rules: [] }, { onShards: true })).toThrow('not used by another group');
    expect(() => stack().stack.addRuleGroup({ name: 'x', rules: [] }, { onShards: true })).toThrow('\'ruleGroup(x).onShards\' (true) needs prometheus.shards > 1');
    expect(() => metrics.renderPrometheusConfig('prometheus-shard-7')).toThrow('no Prometheus server \'prometheus-shard-7\'');
  });

  test('shards: 1 is the single Prometheus of old, with no sharding relabels and no scale-out alerts', () => {
    const { stack: one } = stack({ prometheus: { shards: 1 } });
    const { stack: unset } = stack();
    expect(one.renderPrometheusConfig()).toBe(unset.renderPrometheusConfig());
    expect(one.renderRules()).toBe(unset.renderRules());
    expect(one.renderPrometheusConfig()).not.toContain('hashmod');
    expect(one.renderRules()).not.toContain('PrometheusShardDown');
  });

  test.each([
    [{ prometheus: { shards: 0 } }, '\'prometheus.shards\' (0) must be >= 1'],
    [{ prometheus: { shards: 1.5 } }, '\'prometheus.shards\' (1.5) must be a whole number'],
    [{ prometheus: { shards: 65 } }, '\'prometheus.shards\' (65) must be <= 64'],
  ])('rejects %j', (props, message) => {
    expect(() => stack(props as Partial<StandaloneMetricsStackProps>)).toThrow(message);
  });
});
