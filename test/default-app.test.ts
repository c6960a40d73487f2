import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import * as YAML from 'yaml';
import { buildDefaultApp } from '../main';
import { VendorCatalog } from '../lib/vendor';
import { synthesizeInto } from '../lib/synthesize';
import { injectedPodTargets } from './support/pod-discovery';
import { discoveredTargets, materializeConfig, promtool } from './support/prometheus-config';
import { KubeObject, expectValidObjects } from './support/schemas';

const DIST = path.join(__dirname, '..', 'dist');

function synthToTemp(): { dir: string; files: string[] } {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'synth-')), 'dist');
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
    const summarized = objects.map(o => o.data?.['crawler.js']
      ? { ...o, data: { 'crawler.js': `sha256:${createHash('sha256').update(o.data['crawler.js']).digest('hex')}` } }
      : o);
    expect(summarized).toMatchSnapshot();
    expectValidObjects(objects);
  });

  test('the demo setup: 3 vendors, 9 crawler pods averaging 100 requests/s, split 40/35/25, 30 days retention', () => {
    const crawlers = objects.filter(o => o.kind === 'Deployment' && o.metadata.namespace === 'crawlers');
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

  test('files apply in order: namespaces before what lives in them; dashboards for import in a subdirectory `kubectl apply -f dist` skips', () => {
    expect(files).toEqual(['0000-mesh.k8s.yaml', '0001-crawlers.k8s.yaml', '0002-monitoring.k8s.yaml',
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
    const { configFile } = materializeConfig(config.data['prometheus.yml'], config.data['rules.yml'], targets);
    expect(promtool(['check', 'config', configFile]).status).toBe(0);
    const labels = discoveredTargets(configFile, 'crawler-sidecars').map(r => r.labels ?? {}).filter(l => Object.keys(l).length > 0);
    expect(labels).toHaveLength(9);
    expect(labels.map(l => `${l.proxy_vendor}/${l.pod}`).sort()).toEqual(crawlers.flatMap(d =>
      Array.from({ length: 3 }, (_, j) => `${d.spec.template.metadata.labels['proxy-vendor']}/${d.metadata.name}-6b8f9-p${j}`)).sort());
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
