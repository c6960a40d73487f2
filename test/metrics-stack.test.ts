import * as kplus from 'cdk8s-plus-27';
import { Size } from 'cdk8s';
import * as YAML from 'yaml';
import { MetricsStack } from '../lib/metrics-stack';
import { StandaloneMetricsStackProps } from '../lib/metrics/metrics-stack-props';
import { VendorCatalog } from '../core/vendor';
import { crawlerDeployment, injectedPodTargets } from './support/pod-discovery';
import { discoveredTargets, materializeConfig, promtool } from './support/prometheus-config';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';
import { findObject, synthChart, synthMetricsStack } from './support/synth';

const vendors = () => new VendorCatalog([{ name: 'vendor-a' }, { name: 'vendor-b' }]);

const stack = (props: Partial<StandaloneMetricsStackProps> = {}) => synthMetricsStack({ vendors: vendors(), crawlerNamespaces: ['crawlers'], ...props });

function prometheusConfig(objects: KubeObject[]): any {
  return YAML.parse(findObject(objects, 'ConfigMap', 'prometheus-config').data['prometheus.yml']);
}

describe('MetricsStack', () => {
  test('defaults: Prometheus and Grafana in monitoring, valid against the Kubernetes schemas', () => {
    // GIVEN / WHEN
    const { objects } = stack();

    // THEN
    expect(objects).toMatchSnapshot();
    expectValidObjects(objects);
    expect(objects[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'monitoring' } });
    const prom = findObject(objects, 'Deployment', 'prometheus', 'monitoring');
    const container = prom.spec.template.spec.containers[0];
    expect(container.args).toContain('--storage.tsdb.retention.time=30d');
    expect(container.readinessProbe.httpGet.path).toBe('/-/ready');
    expect(container.livenessProbe.httpGet.path).toBe('/-/healthy');
    expect(prom.spec.strategy.type).toBe('Recreate');
    expect(findObject(objects, 'PersistentVolumeClaim', 'prometheus-data').spec.resources.requests.storage).toBe('50Gi');
    expect(findObject(objects, 'Service', 'prometheus').spec.ports[0].port).toBe(9090);
    expect(findObject(objects, 'Service', 'grafana').spec.ports[0].port).toBe(3000);
  });

  test('the scrape job keeps the sidecar stats port and labels proxy_vendor, namespace and pod', () => {
    // GIVEN / WHEN
    const job = prometheusConfig(stack().objects).scrape_configs.find((j: any) => j.job_name === 'crawler-sidecars');

    // THEN
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod', namespaces: { names: ['crawlers'] } }]);
    expect(job.metrics_path).toBe('/stats/prometheus');
    expect(job.honor_timestamps).toBe(true);
    expect(job.sample_limit).toBe(20000);
    expect(job.relabel_configs).toEqual([
      { source_labels: ['__meta_kubernetes_pod_container_name', '__meta_kubernetes_pod_container_port_name'], regex: 'istio-proxy;http-envoy-prom', action: 'keep' },
      { source_labels: ['__meta_kubernetes_pod_phase'], regex: 'Pending|Succeeded|Failed', action: 'drop' },
      { source_labels: ['__meta_kubernetes_pod_label_proxy_vendor'], target_label: 'proxy_vendor', action: 'replace' },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace', action: 'replace' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod', action: 'replace' },
    ]);
  });

  test('real promtool accepts the config and rules, and discovery labels a sidecar target with proxy_vendor/namespace/pod', () => {
    // GIVEN
    const { stack: metrics } = stack();
    const labelled = crawlerDeployment('crawler-vendor-a', { 'proxy-vendor': 'vendor-a', 'app.kubernetes.io/name': 'crawler' });
    const unlabelled = crawlerDeployment('batch-job', { 'app.kubernetes.io/name': 'batch' });
    const targets = [
      ...injectedPodTargets(labelled, { name: 'crawler-vendor-a-5f7c9-abcde', ip: '10.1.0.7' }),
      ...injectedPodTargets(labelled, { name: 'crawler-vendor-a-5f7c9-pend1', ip: '10.1.0.9', phase: 'Pending' }),
      ...injectedPodTargets(unlabelled, { name: 'batch-job-77d-xyz12', ip: '10.1.0.8' }),
    ];

    // WHEN
    const { configFile, rulesFile } = materializeConfig(metrics.renderPrometheusConfig(), metrics.renderRules(), targets);
    const check = promtool(['check', 'config', configFile]);
    const rules = promtool(['check', 'rules', rulesFile]);
    const results = discoveredTargets(configFile, 'crawler-sidecars');

    // THEN
    expect(check.stderr + check.stdout).toContain('SUCCESS');
    expect(check.status).toBe(0);
    expect(rules.status).toBe(0);
    const kept = results.map(r => r.labels ?? {}).filter(l => Object.keys(l).length > 0);
    // One target per running pod (the crawler port, istio-init and the Pending pod are dropped).
    expect(kept).toHaveLength(2);
    const crawler = kept.find(l => l.pod === 'crawler-vendor-a-5f7c9-abcde')!;
    expect(crawler).toMatchObject({
      __address__: '10.1.0.7:15090', __metrics_path__: '/stats/prometheus', job: 'crawler-sidecars',
      proxy_vendor: 'vendor-a', namespace: 'crawlers', pod: 'crawler-vendor-a-5f7c9-abcde',
    });
    const batch = kept.find(l => l.pod === 'batch-job-77d-xyz12')!;
    expect(batch.namespace).toBe('crawlers');
    expect(batch).not.toHaveProperty('proxy_vendor');
  });

  test('promtool rejects a broken config, so the check above can fail', () => {
    const { stack: metrics } = stack();
    const broken = metrics.renderPrometheusConfig().replace('action: keep', 'action: keepp');
    const { configFile } = materializeConfig(broken, 'groups: []\n', []);
    expect(promtool(['check', 'config', configFile]).status).not.toBe(0);
  });

  test('non-default props: retention, size cap, storage class, scrape interval, sample limit, images, resources, own secret', () => {
    // GIVEN / WHEN
    const { objects } = stack({
      namespace: 'observability',
      crawlerNamespaces: ['crawl-eu', 'crawl-us'],
      prometheus: {
        image: 'quay.io/prometheus/prometheus:v2.54.1', retention: '90d', retentionSize: '450GB', storageSize: '500Gi',
        storageClassName: 'fast-ssd', scrapeInterval: '30s', evaluationInterval: '1m', sampleLimit: 5000,
        resources: { cpu: { request: kplus.Cpu.units(2) }, memory: { request: Size.gibibytes(16), limit: Size.gibibytes(16) } },
      },
      grafana: { image: 'docker.io/grafana/grafana:12.0.0', adminSecretName: 'my-grafana-admin' },
    });

    // THEN
    expect(objects).toMatchSnapshot();
    expectValidObjects(objects);
    const args = findObject(objects, 'Deployment', 'prometheus', 'observability').spec.template.spec.containers[0].args;
    expect(args).toEqual(expect.arrayContaining(['--storage.tsdb.retention.time=90d', '--storage.tsdb.retention.size=450GB']));
    expect(findObject(objects, 'PersistentVolumeClaim', 'prometheus-data').spec).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '500Gi' } } });
    const config = prometheusConfig(objects);
    const job = config.scrape_configs[0];
    expect(job).toMatchObject({ scrape_interval: '30s', scrape_timeout: '10000ms', sample_limit: 5000 });
    expect(job.kubernetes_sd_configs[0].namespaces.names).toEqual(['crawl-eu', 'crawl-us']);
    // Discovery RBAC: read-only on pods, only in the crawler namespaces.
    const roles = objects.filter(o => o.kind === 'Role');
    expect(roles.map(r => r.metadata.namespace)).toEqual(['crawl-eu', 'crawl-us']);
    for (const role of roles) expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
    const grafanaEnv = findObject(objects, 'Deployment', 'grafana').spec.template.spec.containers[0].env;
    expect(grafanaEnv.find((e: any) => e.name === 'GF_SECURITY_ADMIN_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'my-grafana-admin', key: 'admin-password' });
  });

  test('rule groups and dashboards added later land in the synthesized objects', () => {
    // GIVEN
    const objects = synthChart(chart => {
      const metrics = new MetricsStack(chart, 'metrics', { vendors: vendors(), crawlerNamespaces: ['crawlers'] });
      // WHEN
      metrics.addRuleGroup({ name: 'example', rules: [{ record: 'proxy_vendor:up:count', expr: 'count by (proxy_vendor) (up)' }] });
      metrics.addDashboard({ uid: 'example-dashboard', title: 'Example' });
    });

    // THEN
    const rules = YAML.parse(findObject(objects, 'ConfigMap', 'prometheus-config').data['rules.yml']);
    expect(rules.groups.map((g: any) => g.name)).toEqual(['proxy-telemetry.rules', 'proxy-telemetry.destinations', 'proxy-telemetry.latency', 'proxy-telemetry.scrape', 'proxy-telemetry.vendors', 'proxy-telemetry.cost', 'proxy-telemetry.alerts', 'example']);
    expect(rules.groups[7]).toEqual({ name: 'example', rules: [{ record: 'proxy_vendor:up:count', expr: 'count by (proxy_vendor) (up)' }] });
    expect(JSON.parse(findObject(objects, 'ConfigMap', 'grafana-dashboard-example-dashboard').data['example-dashboard.json']).title).toBe('Example');
    const mounts = findObject(objects, 'Deployment', 'grafana').spec.template.spec.containers[0].volumeMounts;
    expect(mounts).toContainEqual(expect.objectContaining({ mountPath: '/var/lib/grafana-dashboards/example-dashboard', readOnly: true }));
  });

  test.each([
    [{ crawlerNamespaces: [] }, '\'crawlerNamespaces\' ([]) must list at least one entry'],
    [{ namespace: 'Monitoring' }, '\'namespace\' ("Monitoring") must be a DNS label'],
    [{ prometheus: { retention: '30 days' } }, '\'prometheus.retention\' ("30 days") must be a Prometheus duration'],
    [{ prometheus: { retention: '0d' } }, '\'prometheus.retention\' ("0d") must be longer than zero'],
    [{ prometheus: { retentionSize: '50Gi' } }, '\'prometheus.retentionSize\' ("50Gi") must be a Prometheus byte size'],
    [{ prometheus: { storageSize: 'fifty' } }, '\'prometheus.storageSize\' ("fifty") must be a positive Kubernetes quantity'],
    [{ prometheus: { storageSize: '0Gi' } }, '\'prometheus.storageSize\' ("0Gi") must be a positive Kubernetes quantity'],
    [{ prometheus: { scrapeInterval: '15' } }, '\'prometheus.scrapeInterval\' ("15") must be a Prometheus duration'],
    [{ prometheus: { sampleLimit: 0 } }, '\'prometheus.sampleLimit\' (0) must be >= 1'],
    [{ grafana: { adminSecretName: 'Admin Secret' } }, '\'grafana.adminSecretName\' ("Admin Secret") must be a DNS name'],
  ])('rejects %j', (props, message) => {
    expect(() => stack(props as Partial<StandaloneMetricsStackProps>)).toThrow(message);
  });

  test('rejects bad rule groups and dashboards', () => {
    const { stack: metrics } = stack();
    metrics.addRuleGroup({ name: 'g', rules: [] });
    expect(() => metrics.addRuleGroup({ name: 'g', rules: [] })).toThrow('\'ruleGroup(g).name\' ("g") must be a non-empty name not used by another group');
    expect(() => metrics.addRuleGroup({ name: 'h', rules: [{ alert: 'X', expr: 'up == 0', for: '5 minutes' }] })).toThrow('\'ruleGroup(h).rules[0].for\' ("5 minutes") must be a Prometheus duration');
    expect(() => metrics.addDashboard({ uid: 'Bad UID', title: 'x' })).toThrow('\'dashboard.uid\' ("Bad UID") must be a lower-case DNS label');
    expect(() => metrics.addDashboard({ uid: 'big', panels: ['x'.repeat(300 * 1024)] })).toThrow('exceeds 262144 bytes');
  });
});
