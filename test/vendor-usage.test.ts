import { createHash } from 'crypto';
import * as YAML from 'yaml';
import { VendorUsage, VendorUsageProps } from '../lib/vendor-usage';
import { MetricsStack } from '../lib/metrics-stack';
import { RULE } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { parseUsageConfig } from '../collector';
import { KubeObject } from '../harness/kube-object';
import { podTemplates, podViolations } from './support/pod-security';
import { expectValidObjects } from './support/schemas';
import { findObject, synthChart } from './support/synth';

const vendors = new VendorCatalog([
  { name: 'vendor-a', endpoints: ['vendor-a-gateway.proxy-demo.svc.cluster.local:8080'] },
  { name: 'vendor-b', endpoints: ['proxy.vendor-b.example:22225'] },
  { name: 'vendor-c' },
]);

/** vendor-a through an in-cluster API with a bearer token, vendor-b from a CSV export in a ConfigMap. */
const SOURCES: VendorUsageProps['sources'] = [
  {
    vendor: 'vendor-a',
    api: { url: 'http://vendor-a-gateway.proxy-demo.svc.cluster.local:9092/v1/usage?from={from}&to={to}', auth: { type: 'bearer', token: { name: 'vendor-a-usage', key: 'token' } } },
    mapping: { records: 'usage', account: 'account', start: 'hour', bytes: 'bytes', requests: 'requests' },
    onDecrease: 'reset',
    intervalSeconds: 30,
  },
  {
    vendor: 'vendor-b',
    export: { configMap: 'vendor-b-usage', key: 'usage.csv', format: 'csv' },
    mapping: { account: 'Sub-user', start: 'Hour (UTC)', bytes: ['Upload (GB)', 'Download (GB)'], bytesUnit: 'GB', requests: 'Requests' },
  },
];

function usage(props: Partial<VendorUsageProps> = {}): { objects: KubeObject[]; usage: VendorUsage } {
  let construct!: VendorUsage;
  const objects = synthChart(chart => {
    construct = new VendorUsage(chart, 'usage', { vendors, sources: SOURCES, ...props });
  });
  return { objects, usage: construct };
}

const env = (o: KubeObject) => Object.fromEntries(o.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

describe('VendorUsage', () => {
  test('one collector pod: the bundle and the configuration from ConfigMaps, credentials from Secrets, exports mounted', () => {
    // GIVEN / WHEN
    const { objects, usage: u } = usage();

    // THEN
    const hash = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
    expect(objects.map(o => (o.data?.['collector.js'] ? { ...o, data: { 'collector.js': hash(o.data['collector.js']) } } : o))).toMatchSnapshot();
    expectValidObjects(objects);
    const deployment = findObject(objects, 'Deployment', 'proxy-usage-collector', 'monitoring');
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    expect(env(deployment)).toEqual({
      USAGE_CONFIG_FILE: '/etc/proxy-usage/config.json',
      METRICS_PORT: '9466',
      USAGE_VENDOR_A_TOKEN: { secretKeyRef: { name: 'vendor-a-usage', key: 'token' } },
    });
    // The configuration the collector reads is what the props say, defaults filled in, and parses to itself.
    const config = JSON.parse(findObject(objects, 'ConfigMap', 'proxy-usage-collector-config').data['config.json']);
    expect(parseUsageConfig(config)).toEqual(config);
    expect(config).toEqual(u.config);
    expect(config.sources[0]).toMatchObject({ vendor: 'vendor-a', kind: 'http', auth: { type: 'bearer', tokenEnv: 'USAGE_VENDOR_A_TOKEN' }, onDecrease: 'reset', intervalSeconds: 30, lookbackHours: 48 });
    expect(config.sources[1]).toMatchObject({ vendor: 'vendor-b', kind: 'file', path: '/var/run/proxy-usage/vendor-b/usage.csv', format: 'csv', mapping: { bytes: ['Upload (GB)', 'Download (GB)'], bytesUnit: 'GB' } });
    const volumes = deployment.spec.template.spec.volumes;
    expect(volumes.find((v: any) => v.name === 'export-vendor-b')).toEqual({ name: 'export-vendor-b', configMap: { name: 'vendor-b-usage' } });
    expect(u.scrape).toEqual({ job: 'proxy-usage', namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'proxy-usage-collector' }, portName: 'metrics', path: '/metrics' });
  });

  test('Pod Security "restricted", no service account token', () => {
    const { objects } = usage();
    for (const pod of podTemplates(objects)) expect(podViolations(pod, { needsApiToken: false })).toEqual([]);
  });

  test('NetworkPolicy: Prometheus in, DNS and the usage sources out: the in-cluster API\'s namespace on its port, the export none', () => {
    const policy = findObject(usage({ prometheusNamespace: 'metrics' }).objects, 'NetworkPolicy', 'proxy-usage-collector');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'metrics' } } }], ports: [{ port: 9466, protocol: 'TCP' }] }]);
    expect(policy.spec.egress).toEqual([
      { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
      { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'proxy-demo' } } }], ports: [{ port: 9092, protocol: 'TCP' }] },
    ]);
    // An external API: any address, on its port (NetworkPolicy cannot name hosts), unless egress says where.
    const external = (egress?: any) => findObject(usage({ sources: [{ vendor: 'vendor-b', api: { url: 'https://api.vendor-b.example/usage' }, mapping: { bytes: 'bytes' }, egress }] }).objects, 'NetworkPolicy', 'proxy-usage-collector').spec.egress[1];
    expect(external()).toEqual({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: [{ port: 443, protocol: 'TCP' }] });
    expect(external([{ cidr: '203.0.113.0/24' }])).toEqual({ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 443, protocol: 'TCP' }] });
  });

  test('bad props are refused at synth time by the property and value, with the collector\'s own validation', () => {
    const fails = (props: Partial<VendorUsageProps>) => () => usage(props);
    expect(fails({ sources: [{ ...SOURCES[0], vendor: 'vendor-z' }] })).toThrow('\'sources[0].vendor\' ("vendor-z") is not a known vendor');
    expect(fails({ sources: [{ ...SOURCES[0], mapping: { ...SOURCES[0].mapping, bytesUnit: 'kb' } }] })).toThrow('\'sources[0].mapping.bytesUnit\' ("kb")');
    expect(fails({ sources: [{ ...SOURCES[0], api: { url: 'ftp://x.example/usage' } }] })).toThrow('\'sources[0].api.url\' ("ftp://x.example/usage")');
    expect(fails({ sources: [{ vendor: 'vendor-a', mapping: { bytes: 'b' } }] })).toThrow('\'sources[0]\' ("vendor-a") must set exactly one of \'api\' and \'export\'');
    expect(fails({ sources: [SOURCES[0], SOURCES[0]] })).toThrow('\'sources[1].vendor\' ("vendor-a")');
    expect(fails({ sources: [] })).toThrow('\'sources\'');
    expect(fails({ namespace: 'Monitoring' })).toThrow('\'namespace\' ("Monitoring")');
  });

  test('scraped by MetricsStack, it turns on the reconciliation rules and alerts', () => {
    let rules = '';
    synthChart(chart => {
      const u = new VendorUsage(chart, 'usage', { vendors, sources: SOURCES });
      rules = new MetricsStack(chart, 'metrics', { vendors, crawlerNamespaces: ['crawlers'], prometheus: { podScrapes: [u.scrape] } }).renderRules();
    });
    const names = YAML.parse(rules).groups.flatMap((g: any) => g.rules).map((r: any) => r.record ?? r.alert);
    expect(names).toEqual(expect.arrayContaining([RULE.billedBytes, RULE.measuredBillableBytes, RULE.billedToMeasured1d, 'ProxyVendorUsageOutsideFleet', 'ProxyUsageSourceStale']));
  });
});
