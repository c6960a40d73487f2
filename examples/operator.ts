/**
 * About 1,000 crawler pods in a cluster that already runs kube-prometheus-stack (Helm release
 * 'kube-prometheus-stack' in namespace 'monitoring'): no Prometheus or Grafana of our own. Its Prometheus
 * scrapes the sidecars through our PodMonitor and evaluates our PrometheusRule; its Grafana sidecar loads the
 * dashboard ConfigMaps. Size that Prometheus for the crawler series (see the README) and keep its own remote
 * write for long-term storage.
 *
 * In your project, import from 'proxy-telemetry' instead of '../lib'.
 */
import { App, Chart } from 'cdk8s';
import { MeshTelemetry, MetricsStack, VendorCatalog, VendorCrawler } from '../lib';

const RELEASE = 'kube-prometheus-stack';

export function build(app: App): void {
  const vendors = new VendorCatalog([
    { name: 'brightdata', endpoints: ['brd.superproxy.io:22225'], pricePerGiB: 8.4, monthlyBudget: 20_000 },
    { name: 'oxylabs', endpoints: ['pr.oxylabs.io:7777'], pricePer1kRequests: 0.9 },
    { name: 'smartproxy', endpoints: ['gate.smartproxy.com:7000'], pricePerGiB: 7 },
    { name: 'iproyal', endpoints: ['geo.iproyal.com:12321'], pricePerGiB: 5.6 },
  ]);
  const meshChart = new Chart(app, 'mesh');
  const mesh = new MeshTelemetry(meshChart, 'mesh', { vendors, namespaces: ['crawlers'] });

  const crawlers = new Chart(app, 'crawlers');
  crawlers.addDependency(meshChart);
  for (const vendor of vendors.names) {
    new VendorCrawler(crawlers, vendor, {
      vendors, vendor, replicas: 250,
      image: 'registry.example.com/my-crawler:2.3.1',
      proxyCredentials: { secretName: `${vendor}-credentials` },
    });
  }

  const monitoring = new Chart(app, 'monitoring');
  new MetricsStack(monitoring, 'metrics', {
    vendors, crawlerNamespaces: mesh.namespaces,
    mode: 'prometheus-operator',
    namespace: 'monitoring',
    // kube-prometheus-stack selects PodMonitors and PrometheusRules labelled with its release name.
    operator: { podMonitorLabels: { release: RELEASE }, ruleLabels: { release: RELEASE } },
    // A 30s interval halves the samples per second against the default 15s.
    prometheus: { scrapeInterval: '30s' },
  });
}

if (require.main === module) {
  // Not dist/: that is the default app's output.
  const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'examples-out/operator' });
  build(app);
  app.synth();
}
