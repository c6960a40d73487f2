import { App, Chart, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { AlertmanagerOptions, MeshTelemetry, MetricsStack, VendorCatalog, VendorCrawler } from '../../lib';

/** Every receiver type, two routes, a PVC. */
export const EVERY_RECEIVER: AlertmanagerOptions = {
  receivers: [
    { name: 'team-webhook', webhooks: [{ url: 'https://alerts.example.com/hook', bearerTokenKey: 'webhook-token' }, { url: 'http://bridge.tools.svc:8080/alerts', sendResolved: false }] },
    { name: 'oncall', pagerDuty: [{ routingKeyKey: 'pagerduty-routing-key' }], slack: [{ apiUrlKey: 'slack-url', channel: '#proxy-alerts' }] },
    { name: 'mail', email: [{ to: 'ops@example.com', from: 'alertmanager@example.com', smarthost: 'smtp.example.com:587', authUsername: 'alertmanager', authPasswordKey: 'smtp-password' }] },
  ],
  routes: [
    { receiver: 'oncall', matchers: ['severity="critical"'], continue: true },
    { receiver: 'mail', matchers: ['alertname=~"ProxyVendor(Spend|Traffic)OverBudget"'] },
  ],
  storageSize: '2Gi',
};

/**
 * An app with every optional part switched on: Alertmanager with every receiver type and a PVC, cluster-wide
 * discovery, NetworkPolicies with every peer kind, crawler egress restriction, a restricted crawler
 * namespace (Istio CNI), the synthetic crawler and a user image with proxy credentials.
 */
export function buildAllOptionsApp(app: App): void {
  const vendors = new VendorCatalog([
    { name: 'vendor-a', endpoints: ['gw.vendor-a.example:22225', 'gw2.vendor-a.example:22226'], pricePerGiB: 8, monthlyBudget: 1000 },
    { name: 'vendor-b', endpoints: ['proxy.vendor-b.example:7777'], pricePer1kRequests: 0.9 },
  ]);
  const meshChart = new Chart(app, 'mesh');
  const mesh = new MeshTelemetry(meshChart, 'mesh', {
    vendors,
    namespaces: ['crawl-eu', 'crawl-us'],
    revision: 'stable',
    podSecurityLevel: 'restricted',
    crawlerEgress: {},
  });

  const crawlerChart = new Chart(app, 'crawlers');
  crawlerChart.addDependency(meshChart);
  new VendorCrawler(crawlerChart, 'synthetic', {
    vendors, vendor: 'vendor-a', namespace: 'crawl-eu', replicas: 2, requestsPerSecond: 20,
    targets: [{ url: 'https://shop.example/', weight: 3 }, { url: 'http://news.example/' }],
  });
  new VendorCrawler(crawlerChart, 'own', {
    vendors, vendor: 'vendor-b', namespace: 'crawl-us', replicas: 5, name: 'my-crawler',
    image: 'registry.example.com/crawler:2.3.1', args: ['--queue', 'jobs'], runAsUser: 10001,
    proxyCredentials: { secretName: 'vendor-b-credentials' },
    resources: { cpu: { request: kplus.Cpu.millis(250), limit: kplus.Cpu.units(2) }, memory: { request: Size.mebibytes(512), limit: Size.gibibytes(1) } },
  });

  const monitoringChart = new Chart(app, 'monitoring');
  monitoringChart.addDependency(meshChart);
  new MetricsStack(monitoringChart, 'metrics', {
    vendors,
    crawlerNamespaces: mesh.namespaces,
    namespace: 'observability',
    prometheus: {
      clusterWideDiscovery: true,
      allowFrom: [{ cidr: '10.20.0.0/16', except: ['10.20.5.0/24'] }],
      resources: { cpu: { request: kplus.Cpu.units(1), limit: kplus.Cpu.units(4) }, memory: { request: Size.gibibytes(4), limit: Size.gibibytes(8) } },
    },
    grafana: {
      adminSecretName: 'my-grafana-admin',
      allowFrom: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' }, podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } }],
    },
    networkPolicies: {
      kubernetesApiCidrs: ['172.20.0.1/32'],
      kubernetesApiPorts: [443],
      dns: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' }, podLabels: { 'k8s-app': 'node-local-dns' } }],
      crawlerAllowFrom: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'queue' } }],
    },
    alertmanager: { ...EVERY_RECEIVER, allowFrom: [{ podLabels: { 'app.kubernetes.io/name': 'karma' } }] },
  });
}
