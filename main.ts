import { App, Chart } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import {
  AlertOptions, CrawlTarget, DEFAULT_DNS_PEERS, DEMO_GATEWAY_APP, DNS_PORTS, DemoGateway, MeshTelemetry, MetricsStack, USAGE_COLLECTOR_APP,
  UsageSourceProps, VendorCatalog, VendorCrawler, VendorProps, VendorUsage, podsIn, toPolicyPeer, toPolicyPorts,
} from './lib';
import { ExtraFiles, asHelmTemplates, copyOutput, outputTarget, synthesizeInto } from './lib/internal/synthesize';

/**
 * The demo: three vendors, each with an in-cluster demo gateway that serves every site itself, 9 crawler pods at
 * 100 requests/s each. Nothing leaves the cluster: the sites are made-up `.example` hosts (RFC 2606) that only the
 * gateways answer, plus two in-cluster sites one vendor's crawlers reach directly. Prices and budgets are examples,
 * above what the demo spends (pages of ~25 KB: vendor-a ≈ $13k a month, vendor-b ≈ $12k, vendor-c ≈ 14,000 GiB), so
 * the Cost & Budget dashboard has data and the budget alerts stay quiet.
 */
export const DEMO_VENDORS: VendorProps[] = [
  // Through a TCP gateway: connections and bytes per pod and to the gateway.
  { name: 'vendor-a', weight: 40, endpoints: [DemoGateway.endpoint('vendor-a-gateway', 8080)], pricePerGiB: 0.6, monthlyBudget: 20_000 },
  // Through an inspected gateway: every request, its target host and the gateway's 407s and 429s.
  {
    name: 'vendor-b', weight: 35, endpoints: [DemoGateway.endpoint('vendor-b-gateway', 8081)], gateway: { inspect: 'http' },
    pricePerGiB: 0.4, pricePer1kRequests: 0.005, monthlyBudget: 20_000,
  },
  // Through a TCP gateway, and directly to two in-cluster sites.
  { name: 'vendor-c', weight: 25, endpoints: [DemoGateway.endpoint('vendor-c-gateway', 8082)], pricePerGiB: 0.3, monthlyTrafficBudgetGiB: 30_000 },
];
const PODS_PER_VENDOR = 3;
const REQUESTS_PER_SECOND_PER_POD = 100;
const CONCURRENCY_PER_POD = 100;
/** Share of the gateways' answers that are 429 Too Many Requests. */
const RATE_LIMIT_SHARE = 0.02;
/** Sites vendor-c's crawlers reach without their gateway (NO_PROXY covers `.svc.cluster.local`). */
const DIRECT_SITES = ['catalog', 'forum'];
const MONITORING_NAMESPACE = 'monitoring';
/**
 * A namespace outside the mesh where a crawler uses vendor-a's credentials: the "leak" that vendor-a's bill shows and
 * no sidecar measures, which the usage-outside-the-fleet alert finds.
 */
export const LEAK_NAMESPACE = 'proxy-demo-outside';
const LEAK_REQUESTS_PER_SECOND = 60;

/**
 * How the usage collector reads a demo gateway's usage API: hourly buckets per account, whose counts start again
 * when the gateway restarts (it keeps them in memory), as a vendor's counter reset.
 */
export function demoUsageSource(gateway: DemoGateway): UsageSourceProps {
  const api = gateway.usageApi!;
  return {
    vendor: gateway.vendor,
    api: { url: api.url, auth: { type: 'bearer', token: { name: api.tokenSecret.name, key: api.tokenSecret.key } } },
    mapping: { records: 'usage', account: 'account', start: 'hour', bytes: 'bytes', requests: 'requests' },
    onDecrease: 'reset',
    intervalSeconds: 30,
  };
}

/** What a test or a demo of your own may change. */
export interface DefaultAppOptions {
  /**
   * Alert thresholds of the demo's MetricsStack.
   * @default - MetricsStack's
   */
  readonly alerts?: AlertOptions;
}

/**
 * A vendor's made-up sites: plain HTTP and HTTPS, some under several subdomains, weighted so that a few hosts
 * dominate, as in a real crawl. `.example` never resolves: only the vendor's demo gateway answers these.
 */
export function demoSites(vendor: string): CrawlTarget[] {
  const tag = vendor.replace(/^vendor-/, '');
  const domains = ['shop', 'news', 'travel', 'recipes', 'jobs', 'wiki', 'forum', 'maps'].map(d => `${d}-${tag}.example`);
  return domains.flatMap((domain, i) => [
    { url: `http://www.${domain}/`, weight: 8 - i },
    { url: `https://www.${domain}/`, weight: 2 * (8 - i) },
    ...(i % 2 === 0 ? [{ url: `https://m.${domain}/`, weight: 8 - i }] : []),
    ...(i % 4 === 0 ? [{ url: `http://static.${domain}/`, weight: 2 }] : []),
  ]);
}

/** Builds the default app; returns the dashboards as import-ready JSON files to write beside the manifests. */
export function buildDefaultApp(app: App, options: DefaultAppOptions = {}): ExtraFiles {
  const vendors = new VendorCatalog(DEMO_VENDORS);
  const meshChart = new Chart(app, 'mesh');
  const mesh = new MeshTelemetry(meshChart, 'mesh', { vendors, namespaces: ['crawlers'] });

  const demoChart = new Chart(app, 'demo');
  const leakNamespace = new k8s.KubeNamespace(demoChart, 'LeakNamespace', {
    metadata: {
      name: LEAK_NAMESPACE,
      labels: {
        'app.kubernetes.io/part-of': 'proxy-telemetry', 'istio-injection': 'disabled',
        'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted',
      },
    },
  });
  const gateways = new Map(vendors.names.map(vendor => [vendor, new DemoGateway(demoChart, `${vendor}-gateway`, {
    vendors, vendor, rateLimitShare: RATE_LIMIT_SHARE,
    crawlerNamespaces: vendor === 'vendor-a' ? [...mesh.namespaces, LEAK_NAMESPACE] : mesh.namespaces,
    sites: vendor === 'vendor-c' ? DIRECT_SITES : undefined,
    usageClients: { namespace: MONITORING_NAMESPACE, podLabels: { 'app.kubernetes.io/name': USAGE_COLLECTOR_APP } },
  })]));
  const leakGateway = gateways.get('vendor-a')!;
  // Nothing in; out only to DNS and vendor-a's gateway.
  new k8s.KubeNetworkPolicy(demoChart, 'LeakNetworkPolicy', {
    metadata: { name: 'crawler-outside-the-mesh', namespace: LEAK_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'proxy-telemetry' } },
    spec: {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [
        { to: DEFAULT_DNS_PEERS.map(toPolicyPeer), ports: toPolicyPorts(DNS_PORTS) },
        { to: [toPolicyPeer(podsIn(leakGateway.namespace, { 'app.kubernetes.io/name': DEMO_GATEWAY_APP, 'app.kubernetes.io/instance': leakGateway.name }))], ports: toPolicyPorts([{ port: leakGateway.port }]) },
      ],
    },
  }).addDependency(leakNamespace);

  const crawlerChart = new Chart(app, 'crawlers');
  crawlerChart.addDependency(meshChart);
  crawlerChart.addDependency(demoChart);
  // Weights split the fleet's total rate (900 requests/s) 40/35/25 between vendors.
  const totalRate = REQUESTS_PER_SECOND_PER_POD * PODS_PER_VENDOR * vendors.vendors.length;
  for (const vendor of vendors.vendors) {
    const gateway = gateways.get(vendor.name)!;
    const direct: CrawlTarget[] = gateway.siteHosts.flatMap(host => [{ url: `http://${host}/`, weight: 4 }, { url: `https://${host}/`, weight: 4 }]);
    new VendorCrawler(crawlerChart, vendor.name, {
      vendors,
      vendor: vendor.name,
      namespace: mesh.namespaces[0],
      replicas: PODS_PER_VENDOR,
      requestsPerSecond: Math.round(totalRate * vendors.share(vendor.name) / PODS_PER_VENDOR),
      concurrency: CONCURRENCY_PER_POD,
      targets: [...demoSites(vendor.name), ...direct],
      proxyCredentials: gateway.proxyCredentials,
      caCertificate: gateway.caCertificate,
    });
  }
  // A crawler left with an old password: what a stale Secret looks like on the dashboards (407s of vendor-b).
  const vendorB = gateways.get('vendor-b')!;
  new VendorCrawler(crawlerChart, 'vendor-b-stale', {
    vendors,
    vendor: 'vendor-b',
    name: 'crawler-vendor-b-stale-credentials',
    namespace: mesh.namespaces[0],
    requestsPerSecond: 1,
    concurrency: 1,
    targets: demoSites('vendor-b').slice(0, 4),
    proxyCredentials: vendorB.staleCredentials(),
    caCertificate: vendorB.caCertificate,
  });

  // vendor-a's credentials used by a crawler outside the mesh: billed by vendor-a, measured by no sidecar.
  new VendorCrawler(crawlerChart, 'vendor-a-leak', {
    vendors,
    vendor: 'vendor-a',
    name: 'crawler-outside-the-mesh',
    namespace: LEAK_NAMESPACE,
    requestsPerSecond: LEAK_REQUESTS_PER_SECOND,
    concurrency: CONCURRENCY_PER_POD,
    targets: demoSites('vendor-a'),
    proxyCredentials: leakGateway.proxyCredentials,
    caCertificate: leakGateway.caCertificate,
  });

  const monitoringChart = new Chart(app, 'monitoring');
  monitoringChart.addDependency(meshChart);
  monitoringChart.addDependency(demoChart);
  // What each demo gateway bills, read from its usage API as from a vendor's.
  const usage = new VendorUsage(monitoringChart, 'usage', {
    vendors,
    namespace: MONITORING_NAMESPACE,
    sources: [...gateways.values()].map(demoUsageSource),
  });
  const metrics = new MetricsStack(monitoringChart, 'metrics', {
    vendors,
    crawlerNamespaces: mesh.namespaces,
    namespace: MONITORING_NAMESPACE,
    prometheus: { retention: '30d', podScrapes: [...[...gateways.values()].map(g => g.scrape), usage.scrape] },
    alerts: options.alerts,
  });
  // The collector's objects after the stack's, which creates the namespace.
  usage.node.addDependency(metrics);
  return metrics.dashboardFiles();
}

if (require.main === module) {
  const target = outputTarget();
  try {
    // A Helm chart gets the manifests only: the dashboards for import are provisioned by the chart's ConfigMaps.
    const files = synthesizeInto(target.dir, app => (target.helm ? void buildDefaultApp(app) : buildDefaultApp(app)));
    if (target.helm) asHelmTemplates(target.dir);
    if (target.copyTo !== undefined) copyOutput(target.dir, target.copyTo);
    console.log(`Synthesized ${files.length} files into ${target.dir}/`);
  } catch (err) {
    console.error(`Synthesis failed, ${target.dir}/ left unchanged: ${(err as Error).message}`);
    process.exit(1);
  }
}
