import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as path from 'path';
import * as YAML from 'yaml';
import type * as Cli from '../bin/proxy-telemetry';
import { tempDir } from './support/temp-dir';

/**
 * The library as a user installs it: `npm pack` of this repository, installed into a fresh app laid out as
 * `cdk8s init typescript-app` lays one out (its tsconfig copied from cdk8s-cli's template, strict, no skipLibCheck),
 * at the low and the high end of the peer range. The app must type-check with `tsc --noEmit`, synthesize with
 * `cdk8s synth`, and hold one copy of cdk8s: a second one makes synthesis fail on objects of the other copy.
 */

// What each command's --help prints, from the source the tarball is built from.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { CLI_USAGE, COMMAND_USAGE }: typeof Cli = require('../bin/proxy-telemetry.ts');

const ROOT = path.join(__dirname, '..');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const TEMPLATE_TSCONFIG = path.join(ROOT, 'node_modules', 'cdk8s-cli', 'templates', 'typescript-app', 'tsconfig.json');
const CDK8S_CLI = path.join(ROOT, 'node_modules', '.bin', 'cdk8s');

/** The ends of the peer range this project supports (package.json peerDependencies). */
const PEER_ENDS: Record<'low' | 'high', Record<string, string>> = {
  low: { 'cdk8s': '2.68.12', 'cdk8s-plus-27': '2.9.0', 'constructs': '10.3.0' },
  high: { 'cdk8s': '2.70.106', 'cdk8s-plus-27': '2.9.5', 'constructs': '10.8.1' },
};

const APP = `import { App, Chart } from 'cdk8s';
import { DemoGateway, MeshTelemetry, MetricsStack, Mixin, PUBLIC_TEST_TARGETS, RuleGroup, VendorCatalog, VendorCrawler, proxyMixin } from 'proxy-telemetry';

const app = new App();
const chart = new Chart(app, 'proxy-telemetry');
const vendors = new VendorCatalog([
  { name: 'acme', endpoints: ['gw.acme.example:22225'], pricePerGiB: 4, monthlyBudget: 500 },
  { name: 'demo', endpoints: [DemoGateway.endpoint('demo-gateway', 8080)] },
]);
const mesh = new MeshTelemetry(chart, 'mesh', { vendors, namespaces: ['crawlers'] });
new VendorCrawler(chart, 'acme', { vendors, vendor: 'acme', replicas: 2, image: 'registry.example.com/crawler:1.0', proxyCredentials: { secretName: 'acme' } });
const gateway = new DemoGateway(chart, 'demo-gateway', { vendors, vendor: 'demo' });
new VendorCrawler(chart, 'demo', {
  vendors, vendor: 'demo', targets: [...PUBLIC_TEST_TARGETS].slice(0, 1), proxyCredentials: gateway.proxyCredentials, caCertificate: gateway.caCertificate,
});
const metrics = new MetricsStack(chart, 'metrics', { vendors, crawlerNamespaces: mesh.namespaces, prometheus: { podScrapes: [gateway.scrape] } });
// The dashboards' public type, without the SDK that builds them.
const uids: string[] = metrics.dashboards.map(d => d.uid);
chart.node.addMetadata('dashboards', uids.join(','));
// The mixin as data, for other deployment tools.
const mixin: Mixin = proxyMixin({ vendors, jobs: { totals: metrics.scrapeJob, destinations: metrics.destinationScrapeJob }, sampleLimits: { totals: 20000, destinations: 20000 } });
const groups: RuleGroup[] = [...mixin.prometheusRules, ...mixin.prometheusAlerts];
chart.node.addMetadata('rule-groups', groups.map(g => g.name).join(','));
app.synth();
`;

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd} (${r.status}):\n${(r.stdout + r.stderr).slice(-4000)}`);
  return r.stdout;
}

let tarball: string;

beforeAll(() => {
  const out = tempDir('pack');
  // `npm pack` runs `prepare` (the build) first.
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', out], ROOT));
  tarball = path.join(out, packed[0].filename);
}, 300_000);

test('the tarball ships the library, its CLI and the built crawler, gateway and collector bundles, and nothing else', () => {
  const files: string[] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT))[0].files.map((f: { path: string }) => f.path);
  const top = [...new Set(files.map(f => f.split('/').slice(0, f.startsWith('build/') ? 2 : 1).join('/')))].sort();
  expect(top).toEqual(['README.md', 'bin', 'build/bin', 'build/collector', 'build/core', 'build/crawler', 'build/dashboards', 'build/gateway', 'build/imports', 'build/lib', 'build/main.d.ts', 'build/main.js', 'build/mixin', 'collector', 'crawler', 'gateway', 'imports', 'package.json']);
  expect(files.filter(f => /(^|\/)(test|bench|dist)\//.test(f) && !/^(crawler|gateway|collector)\/dist\/(crawler|gateway|collector)\.js$/.test(f) || f.endsWith('.test.ts'))).toEqual([]);
  expect(files).toEqual(expect.arrayContaining(['build/lib/index.d.ts', 'crawler/dist/crawler.js', 'gateway/dist/gateway.js', 'collector/dist/collector.js', 'bin/proxy-telemetry.js']));
  // The programs ship as their bundles: no sources, nothing that would need esbuild or their dependencies.
  expect(files.filter(f => /^(crawler|gateway|collector)\/src\//.test(f) || /^(crawler|gateway|collector)\/(build|package)\./.test(f))).toEqual([]);
  // No @internal member in the public types.
  const index = files.filter(f => f.endsWith('.d.ts')).map(f => fs.readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
  expect(index).not.toMatch(/readonly _prometheus|@internal/);
});

test('the library depends on exactly the packages its compiled code requires', () => {
  const files: string[] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT))[0].files.map((f: { path: string }) => f.path);
  const required = new Set<string>();
  for (const file of files.filter(f => f.startsWith('build/') && f.endsWith('.js'))) {
    for (const m of fs.readFileSync(path.join(ROOT, file), 'utf8').matchAll(/require\("([^".][^"]*)"\)/g)) {
      const name = m[1].split('/').slice(0, m[1].startsWith('@') ? 2 : 1).join('/');
      if (!m[1].startsWith('node:') && !builtinModules.includes(name)) required.add(name);
    }
  }
  expect([...required].sort()).toEqual([...Object.keys(PACKAGE.dependencies), ...Object.keys(PACKAGE.peerDependencies)].sort());
});

test('the peer range is what this test installs', () => {
  expect(PACKAGE.peerDependencies).toEqual({ 'cdk8s': '^2.68.12', 'cdk8s-plus-27': '^2.9.0', 'constructs': '^10.3.0' });
  for (const dep of Object.keys(PACKAGE.peerDependencies)) expect({ dep, inDependencies: dep in PACKAGE.dependencies }).toEqual({ dep, inDependencies: false });
});

describe.each(Object.entries(PEER_ENDS))('a cdk8s app at the %s end of the peer range', (_end, peers) => {
  let dir: string;

  beforeAll(() => {
    dir = tempDir('consumer');
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
      name: 'consumer', version: '1.0.0', private: true,
      dependencies: { ...peers, 'proxy-telemetry': `file:${tarball}` },
      devDependencies: { 'typescript': '5.9.x', '@types/node': '^20', 'ts-node': '^10' },
    }, null, 2));
    fs.copyFileSync(TEMPLATE_TSCONFIG, path.join(dir, 'tsconfig.json'));
    fs.writeFileSync(path.join(dir, 'cdk8s.yaml'), 'language: typescript\napp: npx ts-node main.ts\noutput: dist\n');
    fs.writeFileSync(path.join(dir, 'main.ts'), APP);
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], dir);
  }, 600_000);

  test('one copy of cdk8s, cdk8s-plus-27 and constructs: the app\'s', () => {
    for (const [dep, version] of Object.entries(peers)) {
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', dep, 'package.json'), 'utf8')).version).toBe(version);
      expect(fs.existsSync(path.join(dir, 'node_modules', 'proxy-telemetry', 'node_modules', dep))).toBe(false);
    }
  });

  test('tsc --noEmit passes with the tsconfig of `cdk8s init typescript-app` (strict, no skipLibCheck)', () => {
    const tsconfig = JSON.parse(fs.readFileSync(path.join(dir, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.compilerOptions).toMatchObject({ strict: true, module: 'CommonJS' });
    expect(tsconfig.compilerOptions.skipLibCheck).toBeUndefined();
    run(path.join(dir, 'node_modules', '.bin', 'tsc'), ['--noEmit'], dir);
  }, 180_000);

  test('`proxy-telemetry crawl` runs the packaged crawler bundle', () => {
    // Without PROXY_VENDOR the bundle itself refuses to start: exit 2, naming the variable.
    const { PROXY_VENDOR: _unset, ...env } = process.env;
    const r = spawnSync(path.join(dir, 'node_modules', '.bin', 'proxy-telemetry'), ['crawl'], { cwd: dir, env: { ...env, TARGETS: 'http://127.0.0.1:9/' }, encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 2, stderr: expect.stringContaining('crawler: invalid configuration: PROXY_VENDOR=') });
  });

  test('`npx proxy-telemetry <command> --help` prints each command\'s own usage from the installed package', () => {
    const help = (args: string[]) => {
      const r = spawnSync('npx', ['--no-install', 'proxy-telemetry', ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      return { args, status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    expect(help(['--help'])).toEqual({ args: ['--help'], status: 0, stdout: `${CLI_USAGE}\n`, stderr: '' });
    for (const [command, usage] of Object.entries(COMMAND_USAGE)) {
      expect(help([command, '--help'])).toEqual({ args: [command, '--help'], status: 0, stdout: `${usage}\n`, stderr: '' });
    }
    expect(help(['deploy', '-h']).stdout).toMatch(/^Usage: proxy-telemetry deploy /);
  }, 180_000);

  test('`proxy-telemetry mixin` writes the rules, alerts and dashboards for a vendor file', () => {
    fs.writeFileSync(path.join(dir, 'vendors.yaml'), YAML.stringify([{ name: 'acme', endpoints: ['gw.acme.example:22225'], pricePerGiB: 4 }]));
    const r = spawnSync(path.join(dir, 'node_modules', '.bin', 'proxy-telemetry'), ['mixin', '--out', 'mixin', '--vendors', 'vendors.yaml'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(fs.readFileSync(path.join(dir, 'mixin', 'rules.yaml'), 'utf8')).toContain('job=\"monitoring/crawler-sidecars\"');
    expect(fs.readdirSync(path.join(dir, 'mixin')).sort()).toEqual(['alerts.yaml', 'dashboards', 'rules.yaml']);
  });

  test('`proxy-telemetry deploy` synthesizes the project\'s cdk8s.yaml app and stops at a cluster it cannot reach', () => {
    // GIVEN a kubectl that reaches no cluster
    const kubectl = path.join(dir, 'no-cluster-kubectl');
    fs.writeFileSync(kubectl, '#!/bin/sh\necho "error: no cluster here" >&2\nexit 1\n', { mode: 0o755 });

    // WHEN
    const r = spawnSync(path.join(dir, 'node_modules', '.bin', 'proxy-telemetry'), ['deploy', '--outdir', 'deployed'], {
      cwd: dir, encoding: 'utf8', timeout: 180_000, env: { ...process.env, KUBECTL: kubectl },
    });

    // THEN the app ran (not this repository's demo), and nothing was applied
    expect({ status: r.status, output: r.stdout + r.stderr }).toEqual({ status: 1, output: expect.stringContaining('kubectl cannot reach the cluster: error: no cluster here') });
    expect(r.stdout).toContain(`manifests into deployed/ with the app of ${path.join(dir, 'cdk8s.yaml')}`);
    expect(fs.readdirSync(path.join(dir, 'deployed'))).toEqual(['proxy-telemetry.k8s.yaml']);
  }, 240_000);

  test('cdk8s synth writes the manifests', () => {
    expect(run(CDK8S_CLI, ['synth'], dir)).toContain('dist/proxy-telemetry.k8s.yaml');
    const objects = fs.readdirSync(path.join(dir, 'dist')).flatMap(f => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, 'dist', f), 'utf8')).map(d => d.toJSON()));
    const kinds = new Set(objects.map((o: any) => o.kind));
    for (const kind of ['Namespace', 'Telemetry', 'Sidecar', 'ServiceEntry', 'Deployment', 'ConfigMap', 'NetworkPolicy', 'Role']) expect(kinds).toContain(kind);
    expect(objects.filter((o: any) => o.kind === 'Deployment').map((o: any) => o.metadata.name).sort())
      .toEqual(['crawler-acme', 'crawler-demo', 'demo-gateway', 'grafana', 'prometheus']);
    const dashboards = objects.filter((o: any) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('grafana-dashboard-')).map((o: any) => o.metadata.name).sort();
    expect(dashboards).toEqual(['bandwidth', 'cost', 'destinations', 'health', 'overview'].map(d => `grafana-dashboard-proxy-${d}`));
  }, 180_000);
});
