/**
 * About 10 crawler pods: the whole stack in one namespace. One Prometheus scrapes every sidecar and evaluates
 * every rule; Grafana comes with it. Nothing else to run or to connect.
 *
 * In your project, import from 'proxy-telemetry' instead of '../lib'.
 */
import { App, Chart } from 'cdk8s';
import { MeshTelemetry, MetricsStack, VendorCatalog, VendorCrawler } from '../lib';

export function build(app: App): void {
  const vendors = new VendorCatalog([
    { name: 'brightdata', endpoints: ['brd.superproxy.io:22225'], pricePerGiB: 8.4, monthlyBudget: 500 },
    { name: 'oxylabs', endpoints: ['pr.oxylabs.io:7777'], pricePer1kRequests: 0.9 },
  ]);
  const chart = new Chart(app, 'proxy-telemetry');
  const mesh = new MeshTelemetry(chart, 'mesh', { vendors, namespaces: ['crawlers'] });
  for (const vendor of vendors.names) {
    new VendorCrawler(chart, vendor, {
      vendors, vendor, replicas: 5,
      image: 'registry.example.com/my-crawler:2.3.1',
      proxyCredentials: { secretName: `${vendor}-credentials` },
    });
  }
  new MetricsStack(chart, 'metrics', {
    vendors, crawlerNamespaces: mesh.namespaces,
    prometheus: { retention: '30d', storageSize: '20Gi' },
  });
}

if (require.main === module) {
  // Not dist/: that is the default app's output.
  const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'examples-out/small' });
  build(app);
  app.synth();
}
