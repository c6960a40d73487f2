import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { placeRules } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { vmalertCheckRules } from '../harness/victoria-process';
import { GLOBAL_RULES_FILE, renderGlobalRuleFile, resolveGlobalTier } from '../lib/prometheus/global-tier';
import { proxyMixin } from '../mixin';
import { globalTierMixin } from '../mixin/global-tier';
import { renderMixin } from '../bin/mixin';
import { KubeObject } from '../harness/kube-object';
import { checkRules } from './support/prometheus-config';
import { expectValidObjects } from './support/schemas';
import { findObject, synthMetricsStack } from './support/synth';
import { tempDir } from './support/temp-dir';

/** `prometheus.globalTier`: its checks, the rule file for the engine's evaluator, and the mixin's export of it. */

const vendors = new VendorCatalog([{ name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000'] }, { name: 'vendor-b' }]);
const mixin = proxyMixin({ vendors, jobs: { totals: 'crawler-sidecars', destinations: 'crawler-destinations' }, sampleLimits: { totals: 20000, destinations: 20000 } });
const tier = { engine: 'victoriametrics' as const, remoteWrite: { url: 'http://vminsert.vm.svc:8480/insert/0/prometheus/api/v1/write' }, queryUrl: 'http://vmselect.vm.svc:8481/select/0/prometheus' };

test('resolveGlobalTier applies the default ConfigMap name and refuses what the tier does not use, naming the property', () => {
  expect(resolveGlobalTier('prometheus.globalTier', tier)).toEqual({ ...tier, rulesConfigMapName: 'proxy-telemetry-global-rules' });
  const fails = (o: unknown) => () => resolveGlobalTier('prometheus.globalTier', o as any);
  expect(fails({ ...tier, engine: 'influx' })).toThrow(/'prometheus.globalTier.engine' \("influx"\) must be one of 'victoriametrics', 'mimir', 'thanos'/);
  expect(fails({ ...tier, remoteWrite: { ...tier.remoteWrite, contractOnly: true } })).toThrow(/prometheus.globalTier.remoteWrite.contractOnly/);
  expect(fails({ ...tier, remoteWrite: { ...tier.remoteWrite, name: 'mine' } })).toThrow(/prometheus.globalTier.remoteWrite.name/);
  expect(fails({ ...tier, remoteWrite: { url: ['http://user', 'pw@vminsert:8480/'].join(':') } })).toThrow(/must not contain credentials/);
  expect(fails({ ...tier, remoteWrite: { ...tier.remoteWrite, headers: { Authorization: 'Bearer x' } } })).toThrow(/basicAuth or bearerToken/);
  expect(fails({ ...tier, queryUrl: 'vmselect:8481' })).toThrow(/'prometheus.globalTier.queryUrl' .* must be an http\(s\) URL/);
  expect(fails({ ...tier, rulesConfigMapName: 'Rules!' })).toThrow(/rulesConfigMapName/);
  // Mimir tenancy as in remoteWrite.
  expect(resolveGlobalTier('p', { engine: 'mimir', remoteWrite: { url: 'http://mimir:8080/api/v1/push', headers: { 'X-Scope-OrgID': 'crawlers' }, basicAuth: { secretName: 'mimir', username: 'pt' } }, queryUrl: 'http://mimir:8080/prometheus' }).remoteWrite.headers)
    .toEqual({ 'X-Scope-OrgID': 'crawlers' });
  expect(GLOBAL_RULES_FILE).toBe('proxy-telemetry.rules.yaml');
});

test('the mixin splits the rules as a sharded stack does: partials and pod rules on the shards, sums, ratios and alerts for the evaluator', () => {
  const split = globalTierMixin(mixin, 'victoriametrics');
  const placed = placeRules(mixin.records, 30);
  expect(split.globalRules.slice(0, placed.global.length)).toEqual(placed.global.filter(g => g.rules.length > 0));
  const alerts = split.globalRules.flatMap(g => g.rules.flatMap(r => ('alert' in r ? [r.alert] : [])));
  expect(alerts).toEqual(mixin.prometheusAlerts.flatMap(g => g.rules.map(r => ('alert' in r ? r.alert : ''))));
  // Each shard alerts on its own remote-write failures; nothing else alerts there.
  expect(split.shardRules.flatMap(g => g.rules.flatMap(r => ('alert' in r ? [r.alert] : [])))).toEqual(['PrometheusRemoteWriteFailing']);
  expect(YAML.parse(split.globalRuleFile)).toEqual({ groups: split.globalRules.map(g => ({ name: g.name, ...(g.interval ? { interval: g.interval } : {}), rules: g.rules })) });
  expect(renderGlobalRuleFile('victoriametrics', split.globalRules)).toBe(split.globalRuleFile);
});

test('the evaluator\'s rule file loads in vmalert (MetricsQL) and passes promtool; the shard rules pass promtool', () => {
  const split = globalTierMixin(mixin, 'victoriametrics');
  const file = path.join(tempDir('global-tier-rules'), 'global.yaml');
  fs.writeFileSync(file, split.globalRuleFile);
  const vm = vmalertCheckRules(file);
  expect({ status: vm.status, errors: vm.output.split('\n').filter(l => /\berror\b|fatal/.test(l)) }).toEqual({ status: 0, errors: [] });
  expect(checkRules(split.globalRuleFile).status).toBe(0);
  expect(checkRules(YAML.stringify({ groups: split.shardRules }, { lineWidth: 0 })).status).toBe(0);
});

describe('MetricsStack with prometheus.globalTier', () => {
  const synth = (prometheus: Record<string, unknown>) => synthMetricsStack({ vendors, crawlerNamespaces: ['crawlers'], prometheus: prometheus as any });
  const withTier = (shards: number, extra: Record<string, unknown> = {}) => synth({ shards, globalTier: { ...tier, ...extra } });
  const config = (objects: KubeObject[], name: string) => YAML.parse(findObject(objects, 'ConfigMap', `${name}-config`, 'monitoring').data['prometheus.yml']);

  test('runs shards only: no global Prometheus; each shard writes what the global rules read to the tier; Grafana reads the tier', () => {
    const { objects, stack } = withTier(3);
    expectValidObjects(objects);
    const deployments = objects.filter(o => o.kind === 'Deployment').map(o => o.metadata.name).sort();
    expect(deployments).toEqual(['grafana', 'prometheus-shard-0', 'prometheus-shard-1', 'prometheus-shard-2']);
    for (let i = 0; i < 3; i++) {
      const c = config(objects, `prometheus-shard-${i}`);
      expect(c.global.external_labels).toEqual({ prometheus_shard: String(i) });
      expect(c.remote_write).toHaveLength(1);
      const [rw] = c.remote_write;
      expect(rw).toMatchObject({ url: tier.remoteWrite.url, name: 'proxy-telemetry-global' });
      const keep = new RegExp(`^(?:${rw.write_relabel_configs[0].regex})$`);
      for (const ok of ['proxy_vendor_shard:proxy_requests:rate5m;', 'proxy_vendor_pod:proxy_sent_bytes:rate5m;', 'up;crawler-sidecars', 'up;prometheus', 'prometheus_tsdb_head_series;prometheus']) expect(keep.test(ok)).toBe(true);
      for (const no of ['istio_requests_total;crawler-sidecars', 'pod_response_code:proxy_http_requests:rate5m;']) expect(keep.test(no)).toBe(false);
    }
    const datasource = YAML.parse(findObject(objects, 'ConfigMap', 'grafana-provisioning', 'monitoring').data['datasources.yaml']).datasources[0];
    expect(datasource.url).toBe(tier.queryUrl);
    expect(stack.prometheusUrl).toBe(tier.queryUrl);
    // The global rules, for the evaluator, in a ConfigMap; the same as renderRules('global-tier').
    const rules = findObject(objects, 'ConfigMap', 'proxy-telemetry-global-rules', 'monitoring');
    expect(rules.metadata.annotations).toEqual({ 'proxy-telemetry.io/evaluator': 'victoriametrics' });
    expect(rules.data[GLOBAL_RULES_FILE]).toBe(stack.renderRules('global-tier'));
    expect(() => stack.renderPrometheusConfig('prometheus')).toThrow(/no Prometheus server 'prometheus'.*global-tier/);
  });

  test('the rules are placed as with a global Prometheus; shards alert on their remote write, the evaluator on silent shards', () => {
    const { stack } = withTier(2);
    const { stack: reference } = synth({ shards: 2 });
    const global = YAML.parse(stack.renderRules('global-tier')).groups;
    const refGlobal = YAML.parse(reference.renderRules('prometheus')).groups;
    const records = (groups: any[]) => groups.flatMap(g => g.rules.flatMap((r: any) => (r.record ? [`${r.record} ${r.expr}`] : [])));
    expect(records(global)).toEqual(records(refGlobal));
    expect(records(YAML.parse(stack.renderRules('prometheus-shard-0')).groups)).toEqual(records(YAML.parse(reference.renderRules('prometheus-shard-0')).groups));
    const alerts = (groups: any[]) => groups.flatMap(g => g.rules.flatMap((r: any) => (r.alert ? [r.alert] : [])));
    expect(alerts(YAML.parse(stack.renderRules('prometheus-shard-1')).groups)).toEqual(['PrometheusRemoteWriteFailing']);
    const shardDown = global.flatMap((g: any) => g.rules).find((r: any) => r.alert === 'PrometheusShardDown');
    expect(shardDown.expr).toBe('(2 - (count(up{job="prometheus", prometheus_shard!=""} == 1) or vector(0))) > 0');
    expect(alerts(global)).not.toContain('PrometheusRemoteWriteFailing');
  });

  test('one shard is enough; tenancy headers and credentials as in remoteWrite; a ConfigMap name of your own', () => {
    const { objects } = withTier(1, {
      engine: 'mimir', rulesConfigMapName: 'mimir-rules',
      remoteWrite: { url: 'http://mimir-distributor.mimir.svc:8080/api/v1/push', headers: { 'X-Scope-OrgID': 'crawlers' }, basicAuth: { secretName: 'mimir-credentials', username: 'pt' } },
      queryUrl: 'http://mimir-query-frontend.mimir.svc:8080/prometheus',
    });
    const [rw] = config(objects, 'prometheus-shard-0').remote_write;
    expect(rw).toMatchObject({ headers: { 'X-Scope-OrgID': 'crawlers' }, basic_auth: { username: 'pt', password_file: '/etc/prometheus-secrets/mimir-credentials/password' } });
    // One shard scrapes every target: no hashmod.
    expect(JSON.stringify(config(objects, 'prometheus-shard-0').scrape_configs)).not.toContain('hashmod');
    expect(findObject(objects, 'ConfigMap', 'mimir-rules', 'monitoring').metadata.annotations).toEqual({ 'proxy-telemetry.io/evaluator': 'mimir' });
  });

  test('errors name the property', () => {
    expect(() => withTier(2, { engine: 'graphite' })).toThrow(/'prometheus.globalTier.engine' \("graphite"\) must be one of/);
    expect(() => withTier(2, { queryUrl: 'vmselect' })).toThrow(/'prometheus.globalTier.queryUrl' \("vmselect"\) must be an http\(s\) URL/);
    expect(() => synthMetricsStack({ vendors, crawlerNamespaces: ['crawlers'], mode: 'prometheus-operator', prometheus: { globalTier: tier } as any })).toThrow(/'prometheus.globalTier'.*not used in mode 'prometheus-operator'/);
  });
});

test('`mixin --global-tier` writes the shard rules and the evaluator\'s rule file beside the usual files', () => {
  const files = renderMixin({ vendors, mode: 'standalone', globalTier: 'victoriametrics' });
  expect(Object.keys(files)).toEqual(expect.arrayContaining(['rules.yaml', 'alerts.yaml', 'global-tier/shard-rules.yaml', 'global-tier/global-rules.yaml']));
  expect(Object.keys(renderMixin({ vendors, mode: 'standalone' })).filter(f => f.startsWith('global-tier/'))).toEqual([]);
  const file = path.join(tempDir('mixin-global-tier'), 'global.yaml');
  fs.writeFileSync(file, files['global-tier/global-rules.yaml']);
  expect(vmalertCheckRules(file).status).toBe(0);
  expect(checkRules(files['global-tier/shard-rules.yaml']).status).toBe(0);
});
