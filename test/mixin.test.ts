import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import type * as Cli from '../bin/proxy-telemetry';
import { DEMO_VENDORS } from '../main';
import { Testing } from 'cdk8s';
import { MetricsStack } from '../lib/metrics-stack';
import { MetricsStackMode, MetricsStackProps } from '../lib/metrics/metrics-stack-props';
import { resolveMixinSettings } from '../lib/metrics/mixin-settings';
import { proxyMixin } from '../mixin';
import { VendorCatalog } from '../core/vendor';
import { promtool } from './support/prometheus-config';
import { findObject, synthChart } from './support/synth';
import { tempDir } from './support/temp-dir';

/**
 * `proxy-telemetry mixin --out DIR --vendors FILE`: the rules, alerts and dashboards as files, as the operator mode
 * deploys them.
 */

// The TypeScript source, not the bin/ shim of the same name that jest would resolve first.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { main: cli }: typeof Cli = require('../bin/proxy-telemetry.ts');

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

test('writes rules.yaml, alerts.yaml and the dashboards: promtool accepts them, and together they are the PrometheusRule the operator mode deploys', async () => {
  // GIVEN a vendor file
  const dir = tempDir('mixin');
  const vendors = [
    { name: 'acme', endpoints: ['gw.acme.example:22225'], pricePerGiB: 4, monthlyBudget: 900 },
    { name: 'globex', endpoints: ['proxy.globex.example:7777'], gateway: { inspect: 'http' }, pricePer1kRequests: 0.5 },
  ];
  fs.writeFileSync(path.join(dir, 'vendors.yaml'), YAML.stringify(vendors));
  const { io: stdio, err } = io();

  // WHEN
  const code = await cli(['mixin', '--out', path.join(dir, 'out'), '--vendors', path.join(dir, 'vendors.yaml'), '--namespace', 'observability'], stdio);

  // THEN
  expect({ code, err: err.join('') }).toEqual({ code: 0, err: '' });
  const out = path.join(dir, 'out');
  expect(fs.readdirSync(path.join(out, 'dashboards')).sort()).toEqual(['bandwidth', 'cost', 'destinations', 'health', 'overview'].map(d => `proxy-${d}.json`));
  const r = promtool(['check', 'rules', '--lint=all', '--lint-fatal', path.join(out, 'rules.yaml'), path.join(out, 'alerts.yaml')]);
  expect({ status: r.status, output: r.status === 0 ? '' : r.stdout + r.stderr }).toEqual({ status: 0, output: '' });
  const rules = YAML.parse(fs.readFileSync(path.join(out, 'rules.yaml'), 'utf8')).groups;
  const alerts = YAML.parse(fs.readFileSync(path.join(out, 'alerts.yaml'), 'utf8')).groups;
  expect(rules.every((g: any) => g.rules.every((x: any) => x.record))).toBe(true);
  expect(alerts.every((g: any) => g.rules.every((x: any) => x.alert))).toBe(true);

  const objects = synthChart(chart => new MetricsStack(chart, 'metrics', {
    vendors: new VendorCatalog(vendors as any), crawlerNamespaces: ['crawlers'], mode: 'prometheus-operator', namespace: 'observability',
  }));
  const deployed = findObject(objects, 'PrometheusRule', 'proxy-telemetry').spec.groups;
  expect([...rules, ...alerts].sort((a: any, b: any) => a.name.localeCompare(b.name))).toEqual([...deployed].sort((a: any, b: any) => a.name.localeCompare(b.name)));
  expect(JSON.stringify(rules)).toContain('job=\\"observability/crawler-sidecars\\"');
});

test('--usage: also the reconciliation rules, alerts and panels, as a stack that scrapes a usage collector deploys them', async () => {
  // GIVEN
  const dir = tempDir('mixin-usage');
  const vendors = [{ name: 'acme', endpoints: ['gw.acme.example:22225'], pricePerGiB: 4, billedBytes: 'download' }];
  fs.writeFileSync(path.join(dir, 'vendors.json'), JSON.stringify(vendors));

  // WHEN
  const run = async (extra: string[]) => {
    const { io: stdio, err } = io();
    const out = path.join(dir, extra.length ? 'with' : 'without');
    expect({ code: await cli(['mixin', '--out', out, '--vendors', path.join(dir, 'vendors.json'), '--mode', 'standalone', ...extra], stdio), err: err.join('') }).toEqual({ code: 0, err: '' });
    return {
      groups: [...YAML.parse(fs.readFileSync(path.join(out, 'rules.yaml'), 'utf8')).groups, ...YAML.parse(fs.readFileSync(path.join(out, 'alerts.yaml'), 'utf8')).groups],
      cost: fs.readFileSync(path.join(out, 'dashboards', 'proxy-cost.json'), 'utf8'),
    };
  };
  const withUsage = await run(['--usage']);
  const without = await run([]);

  // THEN the files equal what a standalone stack with a usage collector deploys, and only with --usage
  const usage = { job: 'proxy-usage', namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'proxy-usage-collector' }, portName: 'metrics', path: '/metrics' };
  const stack = new MetricsStack(Testing.chart(), 'm', { vendors: new VendorCatalog(vendors as any), crawlerNamespaces: ['crawlers'], prometheus: { podScrapes: [usage] } });
  expect(withUsage.groups).toEqual(YAML.parse(stack.renderRules()).groups.filter((g: any) => g.rules.length > 0));
  const names = (groups: any[]) => groups.flatMap(g => g.rules.map((r: any) => r.record ?? r.alert));
  expect(names(withUsage.groups)).toEqual(expect.arrayContaining(['proxy_vendor:proxy_billed_bytes:rate5m', 'ProxyVendorUsageOutsideFleet', 'ProxyUsageSourceStale']));
  expect(names(without.groups)).not.toContain('proxy_vendor:proxy_billed_bytes:rate5m');
  expect(withUsage.cost).toContain('Billed and measured');
  expect(without.cost).not.toContain('Billed and measured');
  // The vendor bills downloads only: what its bill is compared with.
  expect(JSON.stringify(withUsage.groups)).toContain('proxy_vendor_direction:proxy_gateway_bytes:rate5m{direction=\\"received\\", proxy_vendor=~\\"acme\\"}');
});

test('--vendors is required: no made-up vendors; --mode standalone selects the standalone jobs', async () => {
  // WITHOUT --vendors: a usage error that says what the file holds
  const dir = tempDir('mixin');
  const { io: stdio, err } = io();
  expect(await cli(['mixin', '--out', dir, '--mode', 'standalone'], stdio)).toBe(2);
  expect(err.join('')).toContain('--vendors FILE is required: a JSON or YAML list of your vendors\' settings as VendorCatalog takes them');
  expect(fs.readdirSync(dir)).toEqual([]);

  // WITH a vendor file
  fs.writeFileSync(path.join(dir, 'vendors.json'), JSON.stringify(DEMO_VENDORS));
  expect(await cli(['mixin', '--out', path.join(dir, 'out'), '--vendors', path.join(dir, 'vendors.json'), '--mode', 'standalone'], io().io)).toBe(0);
  const rules = fs.readFileSync(path.join(dir, 'out', 'rules.yaml'), 'utf8');
  expect(rules).toContain('job="crawler-sidecars"');
  for (const v of DEMO_VENDORS) expect(rules).toContain(`proxy_vendor: ${v.name}`);
});

test.each<[MetricsStackMode, string]>([['standalone', 'monitoring'], ['prometheus-operator', 'observability']])(
  'resolveMixinSettings gives the settings a %s MetricsStack in %s builds its mixin from', (mode, namespace) => {
    // GIVEN
    const vendors = new VendorCatalog(DEMO_VENDORS);
    const props = { vendors, crawlerNamespaces: ['crawlers'], mode, namespace } as MetricsStackProps;
    const stack = new MetricsStack(Testing.chart(), 'metrics', props);

    // WHEN
    const settings = resolveMixinSettings(props);

    // THEN the jobs the rules select are the ones the stack scrapes, and the mixin is the stack's
    expect(settings.jobs).toEqual({ totals: stack.scrapeJob, destinations: stack.destinationScrapeJob });
    const mixin = proxyMixin(settings);
    expect(mixin.prometheusRules).toEqual(stack.mixin.prometheusRules);
    expect(mixin.prometheusAlerts).toEqual(stack.mixin.prometheusAlerts);
    // The dashboards differ in the datasource only: an input for Grafana's import instead of the stack's own.
    expect(Object.fromEntries(mixin.grafanaDashboards.map(d => [`dashboards/${d.uid}.json`, `${JSON.stringify(d, null, 2)}\n`]))).toEqual(stack.dashboardFiles());
  });

test('resolveMixinSettings reports every invalid prop with its value, as synthesis of the stack would', () => {
  const vendors = new VendorCatalog(DEMO_VENDORS);
  expect(() => resolveMixinSettings({ vendors, crawlerNamespaces: ['Crawlers'], mode: 'prometheus-operator', namespace: 'Ops' }))
    .toThrow(/'namespace' \("Ops"\) must be a DNS label[\s\S]*'crawlerNamespaces\[0\]' \("Crawlers"\) must be a DNS label/);
});

test.each<[string[], number, string]>([
  [['mixin'], 2, '--out DIR is required'],
  [['mixin', '--out', '/tmp/x', '--mode', 'helm'], 2, '--mode \'helm\' must be prometheus-operator or standalone'],
  [['mixin', '--out', '/tmp/x', '--vendors', '/nonexistent.yaml'], 2, '--vendors \'/nonexistent.yaml\' cannot be read'],
  [['mixin', '--out', '/tmp/x', '--vendors', __filename], 2, `--vendors '${__filename}' is not JSON or YAML`],
  [['mixin', '--out', '/tmp/x', '--vendors', path.join(__dirname, '..', 'package.json')], 2, 'must hold a list of vendors'],
])('%j exits %i', async (args, status, message) => {
  const { io: stdio, err } = io();
  expect(await cli(args, stdio)).toBe(status);
  expect(err.join('')).toContain(message);
});

test('bad vendor settings and options are reported as the constructs report them: property and value', async () => {
  const dir = tempDir('mixin');
  fs.writeFileSync(path.join(dir, 'vendors.json'), JSON.stringify([{ name: 'acme', weight: 0 }]));
  const { io: stdio, err } = io();
  expect(await cli(['mixin', '--out', dir, '--vendors', path.join(dir, 'vendors.json')], stdio)).toBe(1);
  expect(err.join('')).toContain(`--vendors '${path.join(dir, 'vendors.json')}': 'vendors[0].weight' (0) must be > 0`);

  fs.writeFileSync(path.join(dir, 'vendors.json'), JSON.stringify([{ name: 'acme' }]));
  const bad = io();
  expect(await cli(['mixin', '--out', dir, '--vendors', path.join(dir, 'vendors.json'), '--namespace', 'Ops'], bad.io)).toBe(1);
  expect(bad.err.join('')).toContain('\'namespace\' ("Ops") must be a DNS label');
  expect(fs.readdirSync(dir)).toEqual(['vendors.json']);
});

test('proxyMixin: what MetricsStack deploys, as data, from resolved settings alone', () => {
  // GIVEN
  const vendors = new VendorCatalog(DEMO_VENDORS);
  const stack = new MetricsStack(Testing.chart(), 'metrics', { vendors, crawlerNamespaces: ['crawlers'] });

  // WHEN
  const mixin = proxyMixin({
    vendors, jobs: { totals: 'crawler-sidecars', destinations: 'crawler-destinations' }, sampleLimits: { totals: 20000, destinations: 20000 },
    destinations: stack.destinations, dashboards: { datasourceUid: 'prometheus' },
  });

  // THEN the rule file holds the mixin's rules and alerts, and the same settings give the same data
  expect(YAML.parse(stack.renderRules()).groups).toEqual([...stack.mixin.prometheusRules, ...stack.mixin.prometheusAlerts]);
  expect(mixin.prometheusRules).toEqual(stack.mixin.prometheusRules);
  expect(mixin.prometheusAlerts).toEqual(stack.mixin.prometheusAlerts);
  expect(JSON.stringify(mixin.grafanaDashboards)).toEqual(JSON.stringify(stack.dashboards));
  // The records are the grouped rules, each once.
  expect(mixin.records.map(r => r.record).sort()).toEqual(mixin.prometheusRules.flatMap(g => g.rules.map(r => (r as { record: string }).record)).sort());
});
