import * as YAML from 'yaml';
import { MetricsStack } from '../lib/metrics-stack';
import { MetricsStackProps, OperatorMetricsStackProps } from '../lib/metrics/metrics-stack-props';
import { VendorCatalog } from '../core/vendor';
import { operatorPrometheusConfig } from './support/operator-scrape-config';
import { crawlerDeployment, injectedPodTargets } from './support/pod-discovery';
import { discoveredTargets, materializeConfig, promtool } from './support/prometheus-config';
import { expectValidObjects } from './support/schemas';
import { findObject, synthChart, synthMetricsStack } from './support/synth';

const vendors = () => new VendorCatalog([{ name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000'] }, { name: 'vendor-b' }]);

const stack = (props: Partial<OperatorMetricsStackProps> = {}, build?: (s: MetricsStack) => void) => synthMetricsStack({ vendors: vendors(), crawlerNamespaces: ['crawlers'], mode: 'prometheus-operator', ...props }, build);

function standaloneJob(): any {
  let metrics!: MetricsStack;
  synthChart(chart => { metrics = new MetricsStack(chart, 'metrics', { vendors: vendors(), crawlerNamespaces: ['crawlers'] }); });
  return YAML.parse(metrics.renderPrometheusConfig()).scrape_configs.find((j: any) => j.job_name === 'crawler-sidecars');
}

describe('MetricsStack in mode prometheus-operator', () => {
  test('emits a PodMonitor and a PrometheusRule only, valid against the prometheus-operator CRD schemas', () => {
    // GIVEN / WHEN
    const { objects } = stack({ operator: { podMonitorLabels: { release: 'kube-prometheus-stack' }, ruleLabels: { release: 'kube-prometheus-stack' } } });

    // THEN
    expect(objects).toMatchSnapshot();
    expectValidObjects(objects);
    expect(objects.map(o => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'PodMonitor/monitoring/crawler-sidecars', 'PodMonitor/monitoring/crawler-destinations', 'PrometheusRule/monitoring/proxy-telemetry',
      ...['overview', 'bandwidth', 'destinations', 'health', 'cost'].map(d => `ConfigMap/monitoring/grafana-dashboard-proxy-${d}`),
    ]);
    expect(findObject(objects, 'PodMonitor', 'crawler-sidecars').metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'proxy-telemetry', 'release': 'kube-prometheus-stack' });
    expect(findObject(objects, 'PrometheusRule', 'proxy-telemetry').metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'proxy-telemetry', 'release': 'kube-prometheus-stack' });
  });

  test('the PodMonitor carries the standalone job\'s relabeling, keep-list, limits and intervals', () => {
    // GIVEN
    const job = standaloneJob();
    const camel = (r: any) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()), v]));

    // WHEN
    const pm = findObject(stack().objects, 'PodMonitor', 'crawler-sidecars');

    // THEN
    expect(pm.spec.namespaceSelector).toEqual({ matchNames: ['crawlers'] });
    expect(pm.spec.selector).toEqual({});
    expect(pm.spec).toMatchObject({ sampleLimit: job.sample_limit, labelLimit: job.label_limit, labelNameLengthLimit: job.label_name_length_limit, labelValueLengthLimit: job.label_value_length_limit });
    const [ep] = pm.spec.podMetricsEndpoints;
    expect(ep).toMatchObject({ path: '/stats/prometheus', interval: job.scrape_interval, scrapeTimeout: job.scrape_timeout, honorTimestamps: true });
    expect(ep.relabelings).toEqual(job.relabel_configs.map(camel));
    expect(ep.metricRelabelings).toEqual(job.metric_relabel_configs.map(camel));
    expect(ep.relabelings.map((r: any) => r.targetLabel).filter(Boolean)).toEqual(['proxy_vendor', 'namespace', 'pod']);
  });

  test('the PrometheusRule holds the standalone rules and alerts, selecting the job the operator names <namespace>/<podmonitor>', () => {
    // GIVEN
    let standalone!: MetricsStack;
    synthChart(chart => { standalone = new MetricsStack(chart, 'metrics', { vendors: vendors(), crawlerNamespaces: ['crawlers'] }); });

    // WHEN
    const { objects, stack: metrics } = stack();
    const groups = findObject(objects, 'PrometheusRule', 'proxy-telemetry').spec.groups;

    // THEN
    expect(metrics.scrapeJob).toBe('monitoring/crawler-sidecars');
    expect(metrics.destinationScrapeJob).toBe('monitoring/crawler-destinations');
    // Groups carry an explicit interval (the 30s the dashboards' range totals assume), whatever your Prometheus' global one.
    const expected = YAML.parse(standalone.renderRules().replace(/(job="|job=~"|\d+ for |of job |\|)(crawler-(?:sidecars|destinations))/g, '$1monitoring/$2')).groups
      .map((g: { interval?: string }) => ({ ...g, interval: g.interval ?? '30s' }));
    expect(groups).toEqual(expected);
    expect(YAML.parse(metrics.renderRules()).groups).toEqual(expected);
    expect(JSON.stringify(groups)).not.toMatch(/job=\\"crawler-/);
  });

  test('operator-generated and standalone scrape configs select and label the same targets (promtool check service-discovery)', () => {
    // GIVEN pods of a vendor, a Pending pod and a pod without the vendor label, each with a second container port
    const labelled = crawlerDeployment('crawler-vendor-a', { 'proxy-vendor': 'vendor-a', 'app.kubernetes.io/name': 'crawler' });
    const unlabelled = crawlerDeployment('batch-job', { 'app.kubernetes.io/name': 'batch' });
    const targets = [
      ...injectedPodTargets(labelled, { name: 'crawler-vendor-a-5f7c9-abcde', ip: '10.1.0.7' }),
      ...injectedPodTargets(labelled, { name: 'crawler-vendor-a-5f7c9-fghij', ip: '10.1.0.10' }),
      ...injectedPodTargets(labelled, { name: 'crawler-vendor-a-5f7c9-pend1', ip: '10.1.0.9', phase: 'Pending' }),
      ...injectedPodTargets(labelled, { name: 'crawler-vendor-a-5f7c9-done1', ip: '10.1.0.11', phase: 'Succeeded' }),
      ...injectedPodTargets(unlabelled, { name: 'batch-job-77d-xyz12', ip: '10.1.0.8' }),
    ];
    let standalone!: MetricsStack;
    synthChart(chart => { standalone = new MetricsStack(chart, 'metrics', { vendors: vendors(), crawlerNamespaces: ['crawlers'] }); });
    const { configYaml, rulesYaml } = operatorPrometheusConfig(stack().objects, { scrapeInterval: '15s', evaluationInterval: '30s' });

    // WHEN
    const operatorConfig = materializeConfig(configYaml, rulesYaml, targets);
    const standaloneConfig = materializeConfig(standalone.renderPrometheusConfig(), standalone.renderRules(), targets);
    const kept = (configFile: string, job: string) => discoveredTargets(configFile, job).map(r => r.labels ?? {}).filter(l => Object.keys(l).length > 0)
      .map(l => ({ address: l.__address__, path: l.__metrics_path__, proxy_vendor: l.proxy_vendor, namespace: l.namespace, pod: l.pod }))
      .sort((a, b) => a.pod.localeCompare(b.pod));

    // THEN
    expect(promtool(['check', 'config', operatorConfig.configFile]).status).toBe(0);
    expect(promtool(['check', 'rules', operatorConfig.rulesFile]).status).toBe(0);
    const fromOperator = kept(operatorConfig.configFile, 'podMonitor/monitoring/crawler-sidecars/0');
    expect(fromOperator).toEqual(kept(standaloneConfig.configFile, 'crawler-sidecars'));
    expect(fromOperator.map(t => t.pod)).toEqual(['batch-job-77d-xyz12', 'crawler-vendor-a-5f7c9-abcde', 'crawler-vendor-a-5f7c9-fghij']);
    expect(fromOperator[1]).toEqual({ address: '10.1.0.7:15090', path: '/stats/prometheus', proxy_vendor: 'vendor-a', namespace: 'crawlers', pod: 'crawler-vendor-a-5f7c9-abcde' });
    expect(fromOperator[0].proxy_vendor).toBeUndefined();
  });

  test('dashboards become ConfigMaps labelled for the Grafana sidecar; key, value and namespace are configurable', () => {
    // GIVEN / WHEN
    const defaults = stack({}, s => s.addDashboard({ uid: 'custom-board', title: 'Custom' })).objects;
    const custom = stack({ operator: { dashboardLabel: 'grafana.example.com/dashboard', dashboardLabelValue: 'true', dashboardNamespace: 'grafana' } },
      s => s.addDashboard({ uid: 'custom-board', title: 'Custom' })).objects;

    // THEN
    expectValidObjects(defaults);
    const cm = findObject(defaults, 'ConfigMap', 'grafana-dashboard-custom-board', 'monitoring');
    expect(cm.metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'proxy-telemetry', 'grafana_dashboard': '1' });
    expect(JSON.parse(cm.data['custom-board.json'])).toEqual({ uid: 'custom-board', title: 'Custom' });
    expect(defaults.filter(o => o.kind === 'Deployment')).toEqual([]);
    const customCm = findObject(custom, 'ConfigMap', 'grafana-dashboard-custom-board', 'grafana');
    expect(customCm.metadata.labels).toMatchObject({ 'grafana.example.com/dashboard': 'true' });
    // The bundled dashboards too, selecting the job the operator names and kube-prometheus-stack's datasource.
    const overview = JSON.parse(findObject(defaults, 'ConfigMap', 'grafana-dashboard-proxy-overview', 'monitoring').data['proxy-overview.json']);
    expect(overview.templating.list[0].current.value).toBe('prometheus');
    const health = JSON.parse(findObject(defaults, 'ConfigMap', 'grafana-dashboard-proxy-health', 'monitoring').data['proxy-health.json']);
    expect(JSON.stringify(health)).toContain('proxy_vendor_job:proxy_scrape_targets_down:sum{job=\\"monitoring/crawler-sidecars\\"');
  });

  test('rule groups added later land in the PrometheusRule; dashboards keep the 256 KiB limit', () => {
    // GIVEN / WHEN
    const { objects, stack: metrics } = stack({}, s => s.addRuleGroup({ name: 'example', rules: [{ record: 'proxy_vendor:up:count', expr: 'count by (proxy_vendor) (up)' }] }));

    // THEN
    const groups = findObject(objects, 'PrometheusRule', 'proxy-telemetry').spec.groups;
    expect(groups[groups.length - 1]).toEqual({ name: 'example', rules: [{ record: 'proxy_vendor:up:count', expr: 'count by (proxy_vendor) (up)' }] });
    expect(() => metrics.addDashboard({ uid: 'big', panels: ['x'.repeat(300 * 1024)] })).toThrow('exceeds 262144 bytes');
    metrics.addDashboard({ uid: 'once' });
    expect(() => metrics.addDashboard({ uid: 'once' })).toThrow('\'dashboard.uid\' ("once") is already provisioned');
    expect(() => metrics.addRuleGroup({ name: 'huge', rules: [{ record: 'x:y:z', expr: `vector(1) or ${'vector(1) or '.repeat(50_000)}vector(1)` }] }))
      .toThrow('makes the PrometheusRule exceed 524288 bytes');
    expect(() => metrics.renderPrometheusConfig()).toThrow('runs no Prometheus of its own');
  });

  test('createNamespace defaults to false (the monitoring namespace exists) and can be turned on', () => {
    expect(stack().objects.some(o => o.kind === 'Namespace')).toBe(false);
    expect(findObject(stack({ createNamespace: true }).objects, 'Namespace', 'monitoring')).toBeDefined();
  });

  test.each([
    [{ prometheus: { retention: '90d' } }, '\'prometheus.retention\' ("90d") is not used in mode \'prometheus-operator\''],
    [{ prometheus: { shards: 2 } }, '\'prometheus.shards\' (2) is not used in mode \'prometheus-operator\''],
    [{ prometheus: { remoteWrite: [{ url: 'http://mimir/api/v1/push' }] } }, '\'prometheus.remoteWrite\''],
    [{ grafana: { image: 'grafana/grafana:12.0.0' } }, '\'grafana\' ({"image":"grafana/grafana:12.0.0"}) is not used in mode \'prometheus-operator\''],
    [{ operator: { podMonitorLabels: { 'bad key!': 'x' } } }, '\'operator.podMonitorLabels key\' ("bad key!") must be a Kubernetes label key'],
    [{ operator: { ruleLabels: { release: 'not a value' } } }, '\'operator.ruleLabels.release\' ("not a value") must be a Kubernetes label value'],
    [{ operator: { dashboardNamespace: 'Grafana' } }, '\'operator.dashboardNamespace\' ("Grafana") must be a DNS label'],
    [{ mode: 'operator' }, '\'mode\' ("operator") must be \'standalone\' or \'prometheus-operator\''],
  ])('rejects %j', (props, message) => {
    expect(() => stack(props as Partial<OperatorMetricsStackProps>)).toThrow(message);
  });

  test('refuses what the stack cannot run in this mode: Alertmanager, NetworkPolicies, cluster-wide discovery; no NetworkPolicy by default', () => {
    // Type errors in TypeScript (see below); from JavaScript, synth errors.
    const untyped = (props: object) => stack(props as Partial<OperatorMetricsStackProps>);
    expect(() => untyped({ alertmanager: { receivers: [{ name: 'ops', webhooks: [{ url: 'https://hooks.example/alert' }] }] } }))
      .toThrow("'alertmanager' ");
    expect(() => stack({ networkPolicies: { enabled: true } })).toThrow("'networkPolicies.enabled' (true) is not supported in mode 'prometheus-operator'");
    expect(() => untyped({ prometheus: { clusterWideDiscovery: true } })).toThrow("'prometheus.clusterWideDiscovery' (true) is not used in mode 'prometheus-operator'");
    // A crawler-namespace ingress policy would shut out your Prometheus: none is emitted.
    expect(stack().objects.filter(o => o.kind === 'NetworkPolicy')).toEqual([]);
  });

  test('rejects operator options in mode standalone', () => {
    expect(() => stack({ mode: 'standalone', operator: { ruleLabels: { release: 'x' } } } as object as Partial<OperatorMetricsStackProps>))
      .toThrow('\'operator\' ({"ruleLabels":{"release":"x"}}) is only used in mode \'prometheus-operator\'');
  });

  test('a setting the mode does not use is a type error: props per mode', () => {
    // tsc checks these lines; each would compile without its @ts-expect-error only if the types allowed the misuse.
    const vendors_ = vendors();
    const props: MetricsStackProps[] = [
      // @ts-expect-error grafana is mode 'standalone' only
      { vendors: vendors_, crawlerNamespaces: ['crawlers'], mode: 'prometheus-operator', grafana: {} },
      // @ts-expect-error alertmanager is mode 'standalone' only
      { vendors: vendors_, crawlerNamespaces: ['crawlers'], mode: 'prometheus-operator', alertmanager: { receivers: [] } },
      // @ts-expect-error retention belongs to your Prometheus resource
      { vendors: vendors_, crawlerNamespaces: ['crawlers'], mode: 'prometheus-operator', prometheus: { retention: '90d' } },
      // @ts-expect-error operator is mode 'prometheus-operator' only
      { vendors: vendors_, crawlerNamespaces: ['crawlers'], operator: {} },
      { vendors: vendors_, crawlerNamespaces: ['crawlers'], mode: 'prometheus-operator', prometheus: { scrapeInterval: '30s', sampleLimit: 5000 } },
    ];
    expect(props).toHaveLength(5);
  });
});
