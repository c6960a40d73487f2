import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import * as YAML from 'yaml';
import { buildDefaultApp } from '../main';
import { Chart } from 'cdk8s';
import { MeshTelemetry, MetricsStack, VendorCrawler } from '../lib';
import { VendorCatalog } from '../core/vendor';
import { CDK8S_SCRATCH_OUTPUT, outputTarget, synthesizeInto } from '../lib/internal/synthesize';
import { injectedPodTargets, plainPodTargets } from './support/pod-discovery';
import { discoveredTargets, materializeConfig, promtool } from './support/prometheus-config';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';
import { tempDir } from './support/temp-dir';

const DIST = path.join(__dirname, '..', 'dist');

function synthToTemp(): { dir: string; files: string[] } {
  const dir = path.join(tempDir('synth'), 'dist');
  return { dir, files: synthesizeInto(dir, buildDefaultApp) };
}

function readObjects(dir: string): KubeObject[] {
  return fs.readdirSync(dir).filter(f => f.endsWith('.yaml')).sort()
    .flatMap(f => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map(d => d.toJSON() as KubeObject));
}

describe('default app', () => {
  const { dir, files } = synthToTemp();
  const objects = readObjects(dir);

  test('dist/ equals a fresh synth (run `npm run synth` after changing the code)', () => {
    expect(fs.readdirSync(DIST, { recursive: true, withFileTypes: true }).filter(e => e.isFile())
      .map(e => path.relative(DIST, path.join(e.parentPath, e.name))).sort()).toEqual(files);
    for (const file of files) {
      expect({ file, content: fs.readFileSync(path.join(DIST, file), 'utf8') }).toEqual({ file, content: fs.readFileSync(path.join(dir, file), 'utf8') });
    }
  });

  test('snapshot (the crawler bundle by hash) and schema validation of every object', () => {
    const hash = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
    const summarized = objects.map(o => (o.data?.['crawler.js'] ? { ...o, data: { 'crawler.js': hash(o.data['crawler.js']) } }
      : o.data?.['gateway.js'] ? { ...o, data: { 'gateway.js': hash(o.data['gateway.js']) } } : o));
    expect(summarized).toMatchSnapshot();
    expectValidObjects(objects);
  });

  const env = (d: KubeObject, name: string): string | undefined => d.spec.template.spec.containers[0].env.find((e: any) => e.name === name)?.value;
  const allCrawlers = objects.filter(o => o.kind === 'Deployment' && o.metadata.namespace === 'crawlers');

  test('the demo setup: 3 vendors, 9 crawler pods averaging 100 requests/s, split 40/35/25, 30 days retention', () => {
    const crawlers = allCrawlers.filter(d => d.metadata.name !== 'crawler-vendor-b-stale-credentials');
    expect(crawlers.map(d => d.spec.template.metadata.labels['proxy-vendor'])).toEqual(['vendor-a', 'vendor-b', 'vendor-c']);
    expect(crawlers.reduce((n, d) => n + d.spec.replicas, 0)).toBe(9);
    const rate = (d: KubeObject) => Number(d.spec.template.spec.containers[0].env.find((e: any) => e.name === 'REQUESTS_PER_SECOND').value);
    const total = crawlers.reduce((sum, d) => sum + rate(d) * d.spec.replicas, 0);
    expect(total).toBe(900);
    expect(crawlers.map(d => rate(d) * d.spec.replicas / total)).toEqual([0.4, 0.35, 0.25]);
    for (const d of crawlers) {
      expect(d.spec.template.spec.containers[0].env.find((e: any) => e.name === 'CONCURRENCY').value).toBe('100');
    }
    const prom = objects.find(o => o.kind === 'Deployment' && o.metadata.name === 'prometheus')!;
    expect(prom.metadata.namespace).toBe('monitoring');
    expect(prom.spec.template.spec.containers[0].args).toContain('--storage.tsdb.retention.time=30d');
  });

  test('the demo stays inside the cluster: every crawler target is a made-up .example host or an in-cluster Service, reached through its vendor\'s demo gateway or directly in the cluster', () => {
    const hosts = new Set<string>();
    for (const d of allCrawlers) {
      const vendor = d.spec.template.metadata.labels['proxy-vendor'];
      for (const entry of env(d, 'TARGETS')!.split(',')) {
        const url = new URL(entry.replace(/=\d+$/, ''));
        hosts.add(url.hostname);
        expect({ target: url.href, inCluster: /\.example$/.test(url.hostname) || /^[a-z-]+\.proxy-demo\.svc\.cluster\.local$/.test(url.hostname) })
          .toEqual({ target: url.href, inCluster: true });
      }
      // Through the vendor's own gateway Service, trusting the demo CA.
      const proxy = new URL(env(d, 'HTTPS_PROXY')!);
      expect([proxy.hostname, env(d, 'HTTP_PROXY')]).toEqual([`${vendor}-gateway.proxy-demo.svc.cluster.local`, env(d, 'HTTPS_PROXY')]);
      expect(env(d, 'CA_FILE')).toBe('/etc/proxy-telemetry/ca/ca.crt');
      expect(env(d, 'NO_PROXY')).toContain('.cluster.local');
    }
    // Many hosts for the Destinations dashboard, plain HTTP and HTTPS.
    expect(hosts.size).toBeGreaterThanOrEqual(40);
    const schemes = new Set(allCrawlers.flatMap(d => env(d, 'TARGETS')!.split(',').map(t => new URL(t).protocol)));
    expect([...schemes].sort()).toEqual(['http:', 'https:']);
    // No public host anywhere in dist/.
    const text = fs.readdirSync(dir).filter(f => f.endsWith('.yaml')).map(f => fs.readFileSync(path.join(dir, f), 'utf8').replace(/crawler\.js: .*|gateway\.js: .*/g, '')).join('\n');
    for (const publicHost of ['example.com', 'neverssl.com', 'wikipedia.org', 'httpbin.org']) expect(text).not.toContain(publicHost);
  });

  test('one demo gateway per vendor outside the mesh: TCP for vendor-a and vendor-c, inspected (http-proxy) for vendor-b, 2% of answers 429; vendor-c also serves two sites directly', () => {
    const gateways = objects.filter(o => o.kind === 'Deployment' && o.metadata.namespace === 'proxy-demo');
    expect(gateways.map(g => [g.metadata.name, env(g, 'VENDOR'), env(g, 'RATE_LIMIT_SHARE'), env(g, 'SITE_PORT')])).toEqual([
      ['vendor-a-gateway', 'vendor-a', '0.02', undefined],
      ['vendor-b-gateway', 'vendor-b', '0.02', undefined],
      ['vendor-c-gateway', 'vendor-c', '0.02', '8443'],
    ]);
    const ns = objects.find(o => o.kind === 'Namespace' && o.metadata.name === 'proxy-demo')!;
    expect(ns.metadata.labels).toMatchObject({ 'istio-injection': 'disabled', 'pod-security.kubernetes.io/enforce': 'restricted' });
    const services = objects.filter(o => o.kind === 'Service' && o.metadata.namespace === 'proxy-demo');
    expect(services.map(s => `${s.metadata.name} ${s.spec.ports.map((p: any) => `${p.name}:${p.port}`).join(',')}`)).toEqual([
      'vendor-a-gateway tcp-proxy:8080,tcp-banner:2525,http-usage:9092', 'vendor-b-gateway http-proxy:8081,tcp-banner:2525,http-usage:9092', 'vendor-c-gateway tcp-proxy:8082,tcp-banner:2525,http-usage:9092', 'catalog http:80,https:443', 'forum http:80,https:443',
    ]);
    // In-cluster gateways: no ServiceEntry competes with Istio's registry; the crawlers' Sidecar imports the Services.
    expect(objects.filter(o => o.kind === 'ServiceEntry').map(o => o.metadata.name)).toEqual(['proxy-telemetry-http-80', 'proxy-telemetry-tls-443']);
    const sidecar = objects.find(o => o.kind === 'Sidecar')!;
    expect(sidecar.spec.egress[0].hosts).toEqual(expect.arrayContaining(['proxy-demo/vendor-a-gateway.proxy-demo.svc.cluster.local']));
    // Nothing secret in dist/: the CA and the passwords are made at deploy time, as the annotations list them.
    expect(objects.filter(o => o.kind === 'Secret')).toEqual([]);
    expect(gateways.every(g => g.metadata.annotations?.['proxy-telemetry.io/demo-secrets'])).toBe(true);
    // The stale-credentials crawler is small and sends to the inspected gateway, whose 407s the sidecars see.
    const stale = allCrawlers.find(d => d.metadata.name === 'crawler-vendor-b-stale-credentials')!;
    expect([stale.spec.replicas, env(stale, 'REQUESTS_PER_SECOND')]).toEqual([1, '1']);
    expect(stale.spec.template.spec.containers[0].env.find((e: any) => e.name === 'PROXY_PASSWORD').valueFrom.secretKeyRef.name).toBe('proxy-telemetry-demo-vendor-b-credentials-stale');
  });

  test('files apply in order: namespaces before what lives in them; dashboards for import in a subdirectory `kubectl apply -f dist` skips', () => {
    expect(files).toEqual(['0000-mesh.k8s.yaml', '0001-demo.k8s.yaml', '0002-crawlers.k8s.yaml', '0003-monitoring.k8s.yaml',
      ...['bandwidth', 'cost', 'destinations', 'health', 'overview'].map(d => `dashboards/proxy-${d}.json`)]);
    const seen = new Set<string>();
    for (const o of objects) {
      if (o.kind === 'Namespace') seen.add(o.metadata.name);
      else if (o.metadata.namespace) expect({ object: `${o.kind}/${o.metadata.name}`, namespaceFirst: seen.has(o.metadata.namespace) }).toEqual({ object: `${o.kind}/${o.metadata.name}`, namespaceFirst: true });
    }
  });

  test('promtool accepts the synthesized Prometheus config, and discovery labels every crawler pod with its vendor', () => {
    const config = objects.find(o => o.kind === 'ConfigMap' && o.metadata.name === 'prometheus-config')!;
    const crawlers = objects.filter(o => o.kind === 'Deployment' && o.metadata.namespace === 'crawlers');
    const targets = crawlers.flatMap((d, i) => Array.from({ length: d.spec.replicas }, (_, j) =>
      injectedPodTargets(d, { name: `${d.metadata.name}-6b8f9-p${j}`, ip: `10.1.${i}.${j + 1}` })).flat());
    const gateways = objects.filter(o => o.kind === 'Deployment' && o.metadata.namespace === 'proxy-demo');
    const gatewayTargets = gateways.flatMap((d, i) => plainPodTargets(d, { name: `${d.metadata.name}-5d4c8-q0`, ip: `10.2.${i}.1` }));
    const { configFile } = materializeConfig(config.data['prometheus.yml'], config.data['rules.yml'], [...targets, ...gatewayTargets]);
    expect(promtool(['check', 'config', configFile]).status).toBe(0);
    // The demo gateways' own metrics: their metrics port only, none of the crawlers' targets.
    const gatewayLabels = discoveredTargets(configFile, 'demo-gateways').filter(r => Object.keys(r.labels ?? {}).length > 0)
      .map(r => `${r.labels!.namespace}/${r.labels!.pod} ${r.discoveredLabels.__address__}`).sort();
    expect(gatewayLabels).toEqual(gateways.map((d, i) => `proxy-demo/${d.metadata.name}-5d4c8-q0 10.2.${i}.1:9102`));
    const labels = discoveredTargets(configFile, 'crawler-sidecars').map(r => r.labels ?? {}).filter(l => Object.keys(l).length > 0);
    expect(labels).toHaveLength(10);
    expect(labels.map(l => `${l.proxy_vendor}/${l.pod}`).sort()).toEqual(crawlers.flatMap(d =>
      Array.from({ length: d.spec.replicas }, (_, j) => `${d.spec.template.metadata.labels['proxy-vendor']}/${d.metadata.name}-6b8f9-p${j}`)).sort());
  });

  test('cdk8s.yaml sends `cdk8s synth`, which empties its output first, to a scratch directory: the app writes dist/ itself and copies it there', () => {
    const config = YAML.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk8s.yaml'), 'utf8'));
    expect(config.output).toBe(CDK8S_SCRATCH_OUTPUT);
    expect(outputTarget({ CDK8S_OUTDIR: CDK8S_SCRATCH_OUTPUT })).toEqual({ dir: 'dist', helm: false, copyTo: CDK8S_SCRATCH_OUTPUT });
    expect(outputTarget({})).toEqual({ dir: 'dist', helm: false });
    expect(outputTarget({ CDK8S_OUTDIR: '/tmp/elsewhere' })).toEqual({ dir: '/tmp/elsewhere', helm: false });
  });

  test('invalid props fail before anything is written: an existing output directory is left as it was', () => {
    // GIVEN an output directory from an earlier synth
    const { dir: outdir } = synthToTemp();
    const before = files.map(f => fs.readFileSync(path.join(outdir, f), 'utf8'));

    // WHEN the app is invalid
    expect(() => synthesizeInto(outdir, app => {
      buildDefaultApp(app);
      new VendorCatalog([{ name: 'vendor-a', weight: 0 }]);
    })).toThrow('\'vendors[0].weight\' (0) must be > 0');

    // THEN
    expect(files.map(f => fs.readFileSync(path.join(outdir, f), 'utf8'))).toEqual(before);
    expect(fs.readdirSync(path.dirname(outdir)).filter(f => f.startsWith('.cdk8s-tmp-'))).toEqual([]);
  });

  test('every invalid prop of every construct is reported at once, each with its construct path, before anything is written', () => {
    // GIVEN an output directory from an earlier synth
    const { dir: outdir } = synthToTemp();
    const before = fs.readdirSync(outdir);

    // WHEN an app has mistakes in three constructs
    let message = '';
    try {
      synthesizeInto(outdir, app => {
        const chart = new Chart(app, 'mine');
        const vendors = new VendorCatalog([{ name: 'acme', endpoints: ['gw.acme.example:8000'] }]);
        new MeshTelemetry(chart, 'mesh', { vendors, namespaces: ['Crawlers'], metricTags: 'all' as never });
        new VendorCrawler(chart, 'crawler', { vendors, vendor: 'acme', replicas: -1, image: 'my/crawler:1', requestsPerSecond: 5 });
        new MetricsStack(chart, 'metrics', { vendors, crawlerNamespaces: ['crawlers'], prometheus: { retention: 'forever', shards: 0 } });
      });
    } catch (err) {
      message = (err as Error).message;
    }

    // THEN one block lists them all, and nothing was written
    expect(message.split('\n')).toEqual([
      'Validation failed with the following errors:',
      '  [mine/mesh] \'namespaces[0]\' ("Crawlers") must be a DNS label: at most 63 lower-case letters, digits or \'-\', starting and ending with a letter or digit',
      '  [mine/mesh] \'metricTags\' ("all") must be \'minimal\' or \'standard\'',
      '  [mine/crawler] \'replicas\' (-1) must be >= 0',
      '  [mine/crawler] \'requestsPerSecond\' (5) applies to the synthetic crawler only; it is set together with \'image\'',
      '  [mine/metrics] \'prometheus.shards\' (0) must be >= 1',
      '  [mine/metrics] \'prometheus.retention\' ("forever") must be a Prometheus duration such as \'30d\', \'12h\' or \'15s\'',
    ]);
    expect(fs.readdirSync(outdir)).toEqual(before);
  });

  test('a validation registered with addValidation also stops synthesis before writing', () => {
    const { dir: outdir } = synthToTemp();
    const before = fs.readdirSync(outdir);
    expect(() => synthesizeInto(outdir, app => {
      buildDefaultApp(app);
      app.node.children[0].node.addValidation({ validate: () => ['\'example\' (1) must be 2'] });
    })).toThrow('\'example\' (1) must be 2');
    expect(fs.readdirSync(outdir)).toEqual(before);
  });
});
