/**
 * About 10,000 crawler pods: one Prometheus would need about 4.5 GiB and a quarter of each rule interval, with no
 * headroom and every pod's history on one server. Four shards (about 2,500 pods each) split the pods by
 * hashmod of their address; each evaluates the rules that are complete per shard and sends their outputs to the
 * global Prometheus, which sums them into the vendor totals and evaluates ratios, cost and alerts. Every server
 * sends to Mimir: the shards their raw series (for ad-hoc queries and long retention), the global one its
 * totals. Grafana queries Mimir, which sees everything.
 *
 * In your project, import from 'proxy-telemetry' instead of '../lib'.
 */
import { App, Chart, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { MeshTelemetry, MetricsStack, VendorCatalog, VendorCrawler } from '../lib';

export function build(app: App): void {
  const vendors = new VendorCatalog([
    { name: 'brightdata', endpoints: ['brd.superproxy.io:22225'], pricePerGiB: 8.4, monthlyBudget: 150_000 },
    { name: 'oxylabs', endpoints: ['pr.oxylabs.io:7777'], pricePer1kRequests: 0.9 },
    { name: 'smartproxy', endpoints: ['gate.smartproxy.com:7000'], pricePerGiB: 7 },
    { name: 'iproyal', endpoints: ['geo.iproyal.com:12321'], pricePerGiB: 5.6 },
    { name: 'netnut', endpoints: ['gw.netnut.net:5959'], pricePerGiB: 6 },
  ]);
  const meshChart = new Chart(app, 'mesh');
  const mesh = new MeshTelemetry(meshChart, 'mesh', { vendors, namespaces: ['crawlers-eu', 'crawlers-us'] });

  const crawlers = new Chart(app, 'crawlers');
  crawlers.addDependency(meshChart);
  for (const namespace of mesh.namespaces) {
    for (const vendor of vendors.names) {
      new VendorCrawler(crawlers, `${namespace}-${vendor}`, {
        vendors, vendor, namespace, replicas: 1000,
        image: 'registry.example.com/my-crawler:2.3.1',
        proxyCredentials: { secretName: `${vendor}-credentials` },
      });
    }
  }

  const monitoring = new Chart(app, 'monitoring');
  monitoring.addDependency(meshChart);
  new MetricsStack(monitoring, 'metrics', {
    vendors, crawlerNamespaces: mesh.namespaces,
    prometheus: {
      shards: 4,
      scrapeInterval: '30s',
      evaluationInterval: '1m',
      // Mimir keeps the history: the Prometheus servers only need a few days.
      retention: '3d',
      storageSize: '200Gi',
      storageClassName: 'fast-ssd',
      resources: {
        cpu: { request: kplus.Cpu.units(2), limit: kplus.Cpu.units(4) },
        memory: { request: Size.gibibytes(4), limit: Size.gibibytes(6) },
      },
      remoteWrite: [{
        url: 'http://mimir-distributor.mimir.svc:8080/api/v1/push',
        name: 'mimir',
        headers: { 'X-Scope-OrgID': 'crawlers' },
        basicAuth: { secretName: 'mimir-credentials', username: 'proxy-telemetry' },
        queueConfig: { maxSamplesPerSend: 5000, capacity: 20_000 },
      }],
    },
    grafana: { datasourceUrl: 'http://mimir-query-frontend.mimir.svc:8080/prometheus' },
  });
}

if (require.main === module) {
  // Not dist/: that is the default app's output.
  const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'examples-out/sharded' });
  build(app);
  app.synth();
}
