import { createHash } from 'crypto';
import * as YAML from 'yaml';
import { DEMO_SECRETS_ANNOTATION, DEMO_USAGE_PORT, DemoGateway, DemoGatewayProps } from '../lib/demo-gateway';
import { MetricsStack } from '../lib/metrics-stack';
import { VendorCatalog } from '../core/vendor';
import { podTemplates, podViolations } from './support/pod-security';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';
import { findObject, synthChart } from './support/synth';

const vendors = () => new VendorCatalog([
  { name: 'vendor-a', endpoints: [DemoGateway.endpoint('vendor-a-gateway', 8080)] },
  { name: 'vendor-b', endpoints: [DemoGateway.endpoint('vendor-b-gateway', 8081)], gateway: { inspect: 'http' } },
  { name: 'vendor-c', endpoints: ['gw.vendor-c.example:8000'] },
  { name: 'vendor-d' },
]);

function gateway(props: Partial<DemoGatewayProps> = {}): { objects: KubeObject[]; gw: DemoGateway } {
  let gw!: DemoGateway;
  const objects = synthChart(chart => {
    gw = new DemoGateway(chart, 'gw', { vendors: vendors(), vendor: 'vendor-a', ...props });
  });
  return { objects, gw };
}

const env = (o: KubeObject) => Object.fromEntries(o.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

describe('DemoGateway', () => {
  test('defaults: a forward proxy outside the mesh, named by the vendor\'s in-cluster endpoint, with a deploy-time CA and credentials', () => {
    // GIVEN / WHEN
    const { objects, gw } = gateway();

    // THEN
    const hash = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
    expect(objects.map(o => (o.data?.['gateway.js'] ? { ...o, data: { 'gateway.js': hash(o.data['gateway.js']) } } : o))).toMatchSnapshot();
    expectValidObjects(objects);
    expect([gw.vendor, gw.namespace, gw.name, gw.port]).toEqual(['vendor-a', 'proxy-demo', 'vendor-a-gateway', 8080]);
    // The namespace first, outside the mesh, restricted.
    expect(objects[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'proxy-demo', labels: { 'istio-injection': 'disabled', 'pod-security.kubernetes.io/enforce': 'restricted' } } });
    const deployment = findObject(objects, 'Deployment', 'vendor-a-gateway', 'proxy-demo');
    expect(env(deployment)).toMatchObject({
      VENDOR: 'vendor-a', PORT: '8080', METRICS_PORT: '9102', RATE_LIMIT_SHARE: '0',
      CA_CERT_FILE: '/etc/proxy-telemetry/ca/tls.crt', CA_KEY_FILE: '/etc/proxy-telemetry/ca/tls.key',
      PROXY_PASSWORD: { secretKeyRef: { name: 'proxy-telemetry-demo-vendor-a-credentials', key: 'password' } },
    });
    expect(env(deployment).SITE_PORT).toBeUndefined();
    // A TCP gateway: the Service port name makes Istio treat it as TCP.
    // The banner port: a server-first TCP service that deploy's probe reaches through a crawler's sidecar.
    expect(findObject(objects, 'Service', 'vendor-a-gateway').spec.ports).toEqual([
      { name: 'tcp-proxy', port: 8080, targetPort: 'proxy' }, { name: 'tcp-banner', port: 2525, targetPort: 'banner' },
    ]);
    // What the crawlers get: the same credentials Secret in their namespace, the CA certificate only.
    expect(gw.proxyCredentials).toEqual({ secretName: 'proxy-telemetry-demo-vendor-a-credentials' });
    expect(gw.caCertificate).toEqual({ configMapName: 'proxy-telemetry-demo-ca', key: 'ca.crt' });
    expect(JSON.parse(deployment.metadata.annotations![DEMO_SECRETS_ANNOTATION])).toEqual([
      { kind: 'Secret', namespace: 'proxy-demo', name: 'proxy-telemetry-demo-ca', content: 'ca' },
      { kind: 'ConfigMap', namespace: 'crawlers', name: 'proxy-telemetry-demo-ca', content: 'ca-certificate' },
      { kind: 'Secret', namespace: 'proxy-demo', name: 'proxy-telemetry-demo-vendor-a-credentials', content: 'credentials' },
      { kind: 'Secret', namespace: 'crawlers', name: 'proxy-telemetry-demo-vendor-a-credentials', content: 'credentials' },
    ]);
    // No Secret and no key in the manifests.
    expect(objects.filter(o => o.kind === 'Secret')).toEqual([]);
    expect(JSON.stringify(objects)).not.toContain('PRIVATE KEY');
  });

  test('Pod Security "restricted", no service account token, and a NetworkPolicy: crawlers in, Prometheus to the metrics port, nothing out', () => {
    const { objects } = gateway({ sites: ['catalog'] });
    for (const pod of podTemplates(objects)) expect({ pod: pod.where, violations: podViolations(pod, { needsApiToken: false }) }).toEqual({ pod: pod.where, violations: [] });
    const policy = findObject(objects, 'NetworkPolicy', 'vendor-a-gateway');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.egress).toEqual([]);
    expect(policy.spec.ingress).toEqual([
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'crawlers' } } }], ports: [{ protocol: 'TCP', port: 8080 }, { protocol: 'TCP', port: 2525 }, { protocol: 'TCP', port: 8443 }] },
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 9102 }] },
    ]);
  });

  test('an inspected vendor gets an http-proxy port; sites are Services on 80 and 443 to the site port', () => {
    // GIVEN / WHEN
    const { objects, gw } = gateway({ vendor: 'vendor-b', sites: ['catalog', 'forum'], rateLimitShare: 0.02, pageSizes: [{ bytes: 2048, weight: 2 }, { bytes: 65536 }] });

    // THEN
    expect(findObject(objects, 'Service', 'vendor-b-gateway').spec.ports[0].name).toBe('http-proxy');
    expect(gw.siteHosts).toEqual(['catalog.proxy-demo.svc.cluster.local', 'forum.proxy-demo.svc.cluster.local']);
    for (const site of ['catalog', 'forum']) {
      const svc = findObject(objects, 'Service', site, 'proxy-demo');
      expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'site' }, { name: 'https', port: 443, targetPort: 'site' }]);
      expect(svc.spec.selector).toEqual(findObject(objects, 'Service', 'vendor-b-gateway').spec.selector);
    }
    expect(env(findObject(objects, 'Deployment', 'vendor-b-gateway'))).toMatchObject({ SITE_PORT: '8443', RATE_LIMIT_SHARE: '0.02', PAGE_SIZES: '2048=2,65536=1' });
  });

  test('gateways of one chart share the namespace and the bundle; stale credentials are a second Secret for crawlers only', () => {
    let stale: unknown;
    const objects = synthChart(chart => {
      new DemoGateway(chart, 'a', { vendors: vendors(), vendor: 'vendor-a', authentication: false });
      const b = new DemoGateway(chart, 'b', { vendors: vendors(), vendor: 'vendor-b', crawlerNamespaces: ['crawl-eu', 'crawl-us'] });
      stale = b.staleCredentials();
    });
    expect(objects.filter(o => o.kind === 'Namespace').map(o => o.metadata.name)).toEqual(['proxy-demo']);
    expect(objects.filter(o => o.kind === 'ConfigMap').map(o => o.metadata.name)).toEqual(['proxy-telemetry-demo-gateway']);
    expect(env(findObject(objects, 'Deployment', 'vendor-a-gateway')).PROXY_PASSWORD).toBeUndefined();
    expect(stale).toEqual({ secretName: 'proxy-telemetry-demo-vendor-b-credentials-stale' });
    const needed = JSON.parse(findObject(objects, 'Deployment', 'vendor-b-gateway').metadata.annotations![DEMO_SECRETS_ANNOTATION]);
    expect(needed.filter((s: any) => s.content === 'stale-credentials')).toEqual(['crawl-eu', 'crawl-us'].map(namespace => ({
      kind: 'Secret', namespace, name: 'proxy-telemetry-demo-vendor-b-credentials-stale', content: 'stale-credentials', of: 'proxy-telemetry-demo-vendor-b-credentials',
    })));
  });

  test('MetricsStack scrapes the gateways\' metrics port (discovery RBAC and egress for their namespace) and adds the served-vs-measured panel', () => {
    // GIVEN
    let stack!: MetricsStack;
    const objects = synthChart(chart => {
      const gws = ['vendor-a', 'vendor-b'].map(vendor => new DemoGateway(chart, vendor, { vendors: vendors(), vendor }));
      stack = new MetricsStack(chart, 'metrics', { vendors: vendors(), crawlerNamespaces: ['crawlers'], prometheus: { podScrapes: gws.map(g => g.scrape) } });
    });

    // THEN one job for both (equal scrapes are kept once)
    const config = YAML.parse(findObject(objects, 'ConfigMap', 'prometheus-config').data['prometheus.yml']);
    const job = config.scrape_configs.find((j: any) => j.job_name === 'demo-gateways');
    expect(config.scrape_configs.filter((j: any) => j.job_name === 'demo-gateways')).toHaveLength(1);
    expect(job).toMatchObject({ metrics_path: '/metrics', kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: ['proxy-demo'] } }] });
    expect(job.relabel_configs[0]).toEqual({
      source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name', '__meta_kubernetes_pod_container_port_name'], regex: 'proxy-demo-gateway;metrics', action: 'keep',
    });
    expect(objects.filter(o => o.kind === 'Role').map(o => `${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual(['crawlers/prometheus-pod-discovery', 'proxy-demo/prometheus-pod-discovery']);
    const egress = findObject(objects, 'NetworkPolicy', 'prometheus').spec.egress;
    expect(egress).toContainEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'proxy-demo' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'proxy-demo-gateway' } } }],
      ports: [{ protocol: 'TCP', port: 'metrics' }],
    });
    const bandwidth = stack.dashboards.find(d => d.uid === 'proxy-bandwidth')!;
    expect((bandwidth.panels as any[]).map(p => p.title)).toContain('Served by the demo gateways, measured by the sidecars');
  });

  const COLLECTOR = { namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'usage-collector' } };

  test('usageClients: a usage API on port 9092 for the collector pods only, its token from a deploy-time Secret on both sides', () => {
    // GIVEN / WHEN
    const { objects, gw } = gateway({ usageClients: COLLECTOR });

    // THEN
    expectValidObjects(objects);
    expect(DEMO_USAGE_PORT).toBe(9092);
    const deployment = findObject(objects, 'Deployment', 'vendor-a-gateway', 'proxy-demo');
    expect(env(deployment)).toMatchObject({
      USAGE_PORT: '9092',
      USAGE_TOKEN: { secretKeyRef: { name: 'proxy-telemetry-demo-vendor-a-usage-token', key: 'token' } },
    });
    expect(deployment.spec.template.spec.containers[0].ports).toContainEqual({ containerPort: 9092, name: 'http-usage' });
    expect(findObject(objects, 'Service', 'vendor-a-gateway').spec.ports).toEqual([
      { name: 'tcp-proxy', port: 8080, targetPort: 'proxy' },
      { name: 'tcp-banner', port: 2525, targetPort: 'banner' },
      { name: 'http-usage', port: 9092, targetPort: 'http-usage' },
    ]);
    // Exactly the collector's pods in its namespace: both selectors in one peer.
    expect(findObject(objects, 'NetworkPolicy', 'vendor-a-gateway').spec.ingress[2]).toEqual({
      from: [{
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'usage-collector' } },
      }],
      ports: [{ protocol: 'TCP', port: 9092 }],
    });
    expect(gw.usageApi).toEqual({
      url: 'http://vendor-a-gateway.proxy-demo.svc.cluster.local:9092/v1/usage?from={from}&to={to}',
      tokenSecret: { name: 'proxy-telemetry-demo-vendor-a-usage-token', key: 'token', namespace: 'monitoring' },
    });
    expect(JSON.parse(deployment.metadata.annotations![DEMO_SECRETS_ANNOTATION]).filter((s: any) => s.content === 'usage-token')).toEqual([
      { kind: 'Secret', namespace: 'proxy-demo', name: 'proxy-telemetry-demo-vendor-a-usage-token', content: 'usage-token' },
      { kind: 'Secret', namespace: 'monitoring', name: 'proxy-telemetry-demo-vendor-a-usage-token', content: 'usage-token' },
    ]);
    // The token is made at deploy time: no Secret in the manifests.
    expect(objects.filter(o => o.kind === 'Secret')).toEqual([]);
  });

  test('without usageClients nothing of the usage API is synthesized', () => {
    const { objects, gw } = gateway();
    expect(gateway({ usageClients: undefined }).objects).toEqual(objects);
    expect(gw.usageApi).toBeUndefined();
    const text = JSON.stringify(objects.filter(o => o.kind !== 'ConfigMap'));
    for (const absent of ['USAGE_', '9092', 'http-usage', 'usage-token']) expect({ absent, found: text.includes(absent) }).toEqual({ absent, found: false });
  });

  test('usage clients in the gateway\'s own namespace need the token Secret once', () => {
    const { objects, gw } = gateway({ usageClients: { namespace: 'proxy-demo', podLabels: { app: 'collector' } } });
    const needed = JSON.parse(findObject(objects, 'Deployment', 'vendor-a-gateway').metadata.annotations![DEMO_SECRETS_ANNOTATION]);
    expect(needed.filter((s: any) => s.content === 'usage-token')).toHaveLength(1);
    expect(gw.usageApi!.tokenSecret.namespace).toBe('proxy-demo');
  });

  test.each<[Partial<DemoGatewayProps>, string]>([
    [{ usageClients: { namespace: 'Monitoring', podLabels: { app: 'c' } } }, '\'usageClients.namespace\' ("Monitoring") must be a DNS label'],
    [{ usageClients: { namespace: 'monitoring', podLabels: {} } }, '\'usageClients.podLabels\' ({}) must select the client pods by at least one label'],
    [{ usageClients: { namespace: 'monitoring', podLabels: { 'bad key!': 'x' } } }, '\'usageClients.podLabels key\' ("bad key!") must be a Kubernetes label key'],
    [{ vendor: 'vendor-c' }, '\'vendor\' ("vendor-c") needs an in-cluster endpoint \'<service>.<namespace>.svc.cluster.local:<port>\''],
    [{ vendor: 'vendor-d' }, '\'vendor\' ("vendor-d") needs an in-cluster endpoint'],
    [{ endpoint: 'other.proxy-demo.svc.cluster.local:8080' }, '\'endpoint\' ("other.proxy-demo.svc.cluster.local:8080") is not an endpoint of vendor \'vendor-a\''],
    [{ rateLimitShare: 1.5 }, '\'rateLimitShare\' (1.5) must be <= 1'],
    [{ rateLimitShare: 0.1234567 }, '\'rateLimitShare\' (0.1234567) must have at most 6 decimals'],
    [{ replicas: -1 }, '\'replicas\' (-1) must be >= 0'],
    [{ pageSizes: [] }, '\'pageSizes\' ([]) must list at least one entry'],
    [{ pageSizes: [{ bytes: 0 }] }, '\'pageSizes[0].bytes\' (0) must be >= 1'],
    [{ pageSizes: [{ bytes: 1024, weight: 0.5 }] }, '\'pageSizes[0].weight\' (0.5) must be a whole number'],
    [{ crawlerNamespaces: ['proxy-demo'] }, '\'crawlerNamespaces\' ("proxy-demo") includes the gateway\'s own namespace'],
    [{ crawlerNamespaces: ['crawlers', 'crawlers'] }, '\'crawlerNamespaces[1]\' ("crawlers") is a duplicate'],
    [{ sites: ['Catalog'] }, '\'sites[0]\' ("Catalog") must be a DNS label'],
    [{ sites: ['vendor-a-gateway'] }, '\'sites\' ("vendor-a-gateway") names the gateway\'s own Service'],
    [{ monitoringNamespace: 'Mon' }, '\'monitoringNamespace\' ("Mon") must be a DNS label'],
  ])('rejects %j', (props, message) => {
    expect(() => gateway(props)).toThrow(message);
  });

  test('the usage port is not free for the proxy', () => {
    const taken = new VendorCatalog([{ name: 'vendor-a', endpoints: [DemoGateway.endpoint('vendor-a-gateway', 9092)] }]);
    expect(() => gateway({ vendors: taken })).toThrow('\'endpoint\' ("vendor-a-gateway.proxy-demo.svc.cluster.local:9092") must not use port 9092, the gateway\'s usage port');
  });

  test('stale credentials need authentication', () => {
    expect(() => synthChart(chart => new DemoGateway(chart, 'a', { vendors: vendors(), vendor: 'vendor-a', authentication: false }).staleCredentials()))
      .toThrow('\'authentication\' (false) is off, so no credentials can be stale');
  });

  test('DemoGateway.endpoint names a Service the vendor model recognises as in-cluster', () => {
    expect(DemoGateway.endpoint('acme-gateway', 3128)).toBe('acme-gateway.proxy-demo.svc.cluster.local:3128');
    expect(DemoGateway.endpoint('acme-gateway', 3128, 'demo')).toBe('acme-gateway.demo.svc.cluster.local:3128');
    expect(new VendorCatalog([{ name: 'acme', endpoints: [DemoGateway.endpoint('acme-gateway', 3128)] }]).vendors[0].endpoints[0].serviceNamespace).toBe('proxy-demo');
    expect(() => DemoGateway.endpoint('acme-gateway', 80)).toThrow('\'port\' (80) must be >= 1024');
  });
});
