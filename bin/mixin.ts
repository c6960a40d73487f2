/**
 * The monitoring mixin, as kubernetes-mixin hands it out: the recording rules, the alerts and the dashboards as
 * plain files, for users who deploy rules and dashboards by other means (jsonnet, Helm, Terraform, a GitOps repo).
 * They are exactly what MetricsStack deploys for the same vendors and mode.
 */
import { App, Chart } from 'cdk8s';
import * as YAML from 'yaml';
import { DEMO_VENDORS } from '../main';
import { MetricsStack, MetricsStackMode } from '../lib/metrics-stack';
import { VendorCatalog, VendorProps } from '../core/vendor';

export interface MixinOptions {
  /** The vendor model. @default the demo app's vendors */
  readonly vendors?: VendorProps[];
  /** Crawler namespaces. @default ['crawlers'] */
  readonly crawlerNamespaces?: string[];
  /**
   * Whose scrape jobs the rules select: prometheus-operator's PodMonitors (`job="<namespace>/crawler-sidecars"`) or
   * the standalone stack's scrape config (`job="crawler-sidecars"`).
   * @default 'prometheus-operator'
   */
  readonly mode?: MetricsStackMode;
  /** Namespace of the PodMonitors (prometheus-operator) or of the stack. @default 'monitoring' */
  readonly namespace?: string;
}

/** Files of the mixin by path: `rules.yaml`, `alerts.yaml`, `dashboards/<uid>.json`. */
export function renderMixin(opts: MixinOptions = {}): Record<string, string> {
  const app = new App();
  const stack = new MetricsStack(new Chart(app, 'mixin'), 'metrics', {
    vendors: new VendorCatalog(opts.vendors ?? DEMO_VENDORS),
    crawlerNamespaces: opts.crawlerNamespaces ?? ['crawlers'],
    mode: opts.mode ?? 'prometheus-operator',
    namespace: opts.namespace ?? 'monitoring',
  });
  // Invalid options are reported as the constructs report them, all at once.
  const errors = app.node.findAll().flatMap(c => c.node.validate().map(e => `[${c.node.path}] ${e}`));
  if (errors.length > 0) throw new Error(`Validation failed with the following errors:\n  ${errors.join('\n  ')}`);

  const groups: Array<{ rules: Array<{ record?: string; alert?: string }> }> = YAML.parse(stack.renderRules()).groups;
  const only = (kind: 'record' | 'alert') => groups
    .map(g => ({ ...g, rules: g.rules.filter(r => r[kind] !== undefined) }))
    .filter(g => g.rules.length > 0);
  const files: Record<string, string> = {
    'rules.yaml': YAML.stringify({ groups: only('record') }, { lineWidth: 0 }),
    'alerts.yaml': YAML.stringify({ groups: only('alert') }, { lineWidth: 0 }),
  };
  for (const [file, json] of Object.entries(stack.dashboardFiles())) files[file] = json;
  return files;
}
