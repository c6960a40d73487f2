import { App, Chart } from 'cdk8s';
import { MeshTelemetry, MetricsStack, VendorCatalog, VendorCrawler } from './lib';
import { ExtraFiles, synthesizeInto } from './lib/synthesize';

/** The demo setup: three vendors, 9 crawler pods averaging 100 requests/s each, 30 days of metrics. */
export const DEFAULT_VENDORS = [
  { name: 'vendor-a', weight: 40 },
  { name: 'vendor-b', weight: 35 },
  { name: 'vendor-c', weight: 25 },
];
const PODS_PER_VENDOR = 3;
const REQUESTS_PER_SECOND_PER_POD = 100;
const CONCURRENCY_PER_POD = 100;

/** Builds the default app; returns the dashboards as import-ready JSON files to write beside the manifests. */
export function buildDefaultApp(app: App): ExtraFiles {
  const vendors = new VendorCatalog(DEFAULT_VENDORS);
  const meshChart = new Chart(app, 'mesh');
  const mesh = new MeshTelemetry(meshChart, 'mesh', { vendors, namespaces: ['crawlers'] });

  const crawlerChart = new Chart(app, 'crawlers');
  crawlerChart.addDependency(meshChart);
  // Weights split the fleet's total rate (900 requests/s) 40/35/25 between vendors.
  const totalRate = REQUESTS_PER_SECOND_PER_POD * PODS_PER_VENDOR * vendors.vendors.length;
  for (const vendor of vendors.vendors) {
    new VendorCrawler(crawlerChart, vendor.name, {
      vendors,
      vendor: vendor.name,
      namespace: mesh.namespaces[0],
      replicas: PODS_PER_VENDOR,
      requestsPerSecond: Math.round(totalRate * vendors.share(vendor.name) / PODS_PER_VENDOR),
      concurrency: CONCURRENCY_PER_POD,
    });
  }

  const monitoringChart = new Chart(app, 'monitoring');
  monitoringChart.addDependency(meshChart);
  const metrics = new MetricsStack(monitoringChart, 'metrics', {
    vendors,
    crawlerNamespaces: mesh.namespaces,
    namespace: 'monitoring',
    prometheus: { retention: '30d' },
  });
  return metrics.dashboardFiles();
}

if (require.main === module) {
  const outdir = process.env.CDK8S_OUTDIR ?? 'dist';
  try {
    const files = synthesizeInto(outdir, buildDefaultApp);
    console.log(`Synthesized ${files.length} files into ${outdir}/`);
  } catch (err) {
    console.error(`Synthesis failed, ${outdir}/ left unchanged: ${(err as Error).message}`);
    process.exit(1);
  }
}
