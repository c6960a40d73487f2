import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { checkRules } from './support/prometheus-config';
import { tempDir } from './support/temp-dir';

/**
 * The vendor label is named in one place (LABEL.vendor in core/metric-contract.ts): a copy of the sources with that one
 * line changed must give rules, alerts, the scrape config, Alertmanager's grouping and the dashboards under the new
 * name, with the old one nowhere.
 */

const ROOT = path.join(__dirname, '..');
const SOURCES = ['core', 'lib', 'dashboards', 'mixin', 'imports', 'crawler', 'gateway', 'collector'];

const SCRIPT = `
const { Chart, Testing } = require('cdk8s');
const { MeshTelemetry, MetricsStack, VendorCatalog } = require('./lib');
const chart = Testing.chart();
const vendors = new VendorCatalog([
  { name: 'acme', endpoints: ['gw.acme.example:22225'], pricePerGiB: 4, monthlyBudget: 900 },
  { name: 'globex', endpoints: ['proxy.globex.example:7777'], gateway: { inspect: 'http' }, pricePer1kRequests: 0.5 },
]);
new MeshTelemetry(chart, 'mesh', { vendors, namespaces: ['crawlers'] });
const stack = new MetricsStack(chart, 'metrics', { vendors, crawlerNamespaces: ['crawlers'],
  alertmanager: { receivers: [{ name: 'hook', webhooks: [{ url: 'https://hooks.example/x' }] }] } });
Testing.synth(chart);
process.stdout.write(JSON.stringify({ rules: stack.renderRules(), config: stack.renderPrometheusConfig(), alertmanager: stack.renderAlertmanagerConfig(),
  dashboards: stack.dashboards, ruleNames: require('./core/rules').RULE }));
`;

/** Synthesizes a copy of the sources, after `edit` (file under the copy, replaced text, new text). */
function render(edit?: { file: string; from: string; to: string }): { rules: string; config: string; alertmanager: string; dashboards: unknown[]; ruleNames: Record<string, string> } {
  const dir = tempDir('label-rename');
  for (const d of SOURCES) fs.cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true, filter: src => !src.includes(`${path.sep}node_modules`) });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  for (const f of ['package.json', 'tsconfig.json']) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  if (edit) {
    const file = path.join(dir, edit.file);
    const text = fs.readFileSync(file, 'utf8');
    const edited = text.replace(edit.from, edit.to);
    expect(edited).not.toBe(text);
    fs.writeFileSync(file, edited);
  }
  fs.writeFileSync(path.join(dir, 'render.js'), SCRIPT);
  const r = spawnSync(process.execPath, ['-r', path.join(ROOT, 'node_modules', 'ts-node', 'register', 'transpile-only'), 'render.js'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`render failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('renaming the vendor label is one edit: rules, alerts, scrape config, Alertmanager and dashboards follow', () => {
  // GIVEN / WHEN
  const before = render();
  const after = render({ file: 'core/metric-contract.ts', from: "  vendor: 'proxy_vendor',", to: "  vendor: 'billing_vendor'," });

  // THEN the old name is gone everywhere and the new one is where the old one was
  const text = (o: unknown) => JSON.stringify(o);
  for (const [what, output] of Object.entries(after).filter(([k]) => k !== 'ruleNames')) {
    // Rule names begin with their aggregation level (`proxy_vendor:`, `proxy_vendor_pod:`), and the pod label
    // `proxy-vendor` (VENDOR_POD_LABEL) reads as `__meta_kubernetes_pod_label_proxy_vendor`: names, not the label.
    const left = text(output).replace(/proxy_vendor[a-z_]*:|__meta_kubernetes_pod_label(?:present)?_proxy_vendor/g, '').match(/.{0,60}proxy_vendor(?![a-z_]).{0,60}/g) ?? [];
    expect({ what, left }).toEqual({ what, left: [] });
  }
  expect(text(before).split('proxy_vendor=').length).toBe(text(after).split('billing_vendor=').length);
  const relabel = YAML.parse(after.config).scrape_configs.find((j: any) => j.job_name === 'crawler-sidecars').relabel_configs;
  expect(relabel).toContainEqual(expect.objectContaining({ target_label: 'billing_vendor' }));
  expect(YAML.parse(after.alertmanager).route.group_by).toEqual(['billing_vendor', 'alertname']);
  expect(text(after.dashboards)).toContain('{{billing_vendor}}');
  // And the renamed rules are still valid Prometheus rules.
  expect(checkRules(after.rules)).toMatchObject({ status: 0 });
}, 120_000);

test('adding a recording rule is one record in core/rules.ts: it is written to its group, named in RULE, and valid', () => {
  // GIVEN one record added to the table of rules
  const record = "  activePods: rule('proxy_vendor:proxy_active_pods:count', 'totals', 'global', (): string => `count by (proxy_vendor) (${RULE.podRequests} > 0)`),\n";

  // WHEN
  const after = render({ file: 'core/rules.ts', from: '  // ---- latency:', to: `${record}  // ---- latency:` });

  // THEN
  const totals = YAML.parse(after.rules).groups.find((g: any) => g.name === 'proxy-telemetry.rules');
  expect(totals.rules.at(-1)).toEqual({ record: 'proxy_vendor:proxy_active_pods:count', expr: 'count by (proxy_vendor) (proxy_vendor_pod:proxy_requests:rate5m > 0)' });
  expect(after.ruleNames.activePods).toBe('proxy_vendor:proxy_active_pods:count');
  expect(checkRules(after.rules)).toMatchObject({ status: 0 });
}, 120_000);
