/**
 * The monitoring mixin, as kubernetes-mixin hands it out: the recording rules, the alerts and the dashboards as
 * plain files, for users who deploy rules and dashboards by other means (jsonnet, Helm, Terraform, a GitOps repo).
 * They are exactly what MetricsStack deploys for the same vendors and mode: the settings are resolved by the same
 * function (resolveMixinSettings), and the data is the same proxyMixin.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import * as YAML from 'yaml';
import { RuleGroup } from '../core/rules';
import { VendorCatalog, VendorProps } from '../core/vendor';
import { resolveMixinSettings } from '../lib/metrics/mixin-settings';
import type { MetricsStackMode } from '../lib/metrics/metrics-stack-props';
import { GLOBAL_TIER_ENGINES, GlobalTierEngine } from '../lib/prometheus/global-tier';
import { proxyMixin } from '../mixin';
import { globalTierMixin } from '../mixin/global-tier';
import { Io, UsageError, reportError, wantsHelp } from './command';

export const MIXIN_USAGE = `Usage: proxy-telemetry mixin --out DIR --vendors FILE [--mode prometheus-operator] [--namespace monitoring]
                             [--crawler-namespaces crawlers] [--global-tier victoriametrics|mimir|thanos] [--usage]

Writes the recording rules (DIR/rules.yaml), the alerts (DIR/alerts.yaml) and the dashboards
(DIR/dashboards/<uid>.json, with a datasource input for Grafana's import) exactly as MetricsStack deploys them,
for deploying them by other means (jsonnet, Helm, Terraform), like \`mixtool generate all\`.

Options:
  --out DIR                  directory to write into (required; created if missing)
  --vendors FILE             your vendors: a JSON or YAML list of vendor settings as VendorCatalog takes them,
                             e.g. [{ name: acme, endpoints: ["gw.acme.example:22225"], pricePerGiB: 4 }] (required)
  --mode MODE                whose scrape jobs the rules select: prometheus-operator (job="<namespace>/crawler-sidecars",
                             the PodMonitors') or standalone (job="crawler-sidecars") (default: prometheus-operator)
  --namespace NS             namespace of the PodMonitors, or of the standalone stack (default: monitoring)
  --crawler-namespaces LIST  comma-separated crawler namespaces (default: crawlers)
  --global-tier ENGINE       also write the rules split for shards under an external global tier:
                             DIR/global-tier/shard-rules.yaml (each Prometheus shard) and
                             DIR/global-tier/global-rules.yaml (the engine's evaluator: vmalert, Mimir ruler, Thanos Ruler)
  --usage                    a usage collector (VendorUsage, job proxy-usage) reports what the vendors billed: also the
                             rules, alerts and Cost & Budget panels that compare the bills with the sidecars
  -h, --help                 show this help

Exit codes:
  0  files written
  1  invalid vendor settings or options (each reported with its property and value), or a file not written
  2  usage error`;

export interface MixinOptions {
  /** The vendor model. */
  readonly vendors: VendorCatalog;
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
  /** Also the rules split between shards and an external global tier's evaluator. @default - not written */
  readonly globalTier?: GlobalTierEngine;
  /** A usage collector reports what the vendors billed: the reconciliation rules, alerts and panels too. @default false */
  readonly usage?: boolean;
}

/** Files of the mixin by path: `rules.yaml`, `alerts.yaml`, `dashboards/<uid>.json`. */
export function renderMixin(opts: MixinOptions): Record<string, string> {
  const mode = opts.mode ?? 'prometheus-operator';
  const settings = {
    ...resolveMixinSettings({ vendors: opts.vendors, crawlerNamespaces: opts.crawlerNamespaces ?? ['crawlers'], mode, namespace: opts.namespace ?? 'monitoring' }),
    usage: opts.usage ?? false,
  };
  const mixin = proxyMixin(settings);
  // prometheus-operator's rule groups each name their interval (OperatorBackend.addContract): the one the dashboards
  // weigh rule samples by, whatever the user's Prometheus evaluates at.
  const placed = (groups: RuleGroup[]) => groups
    .map(g => (mode === 'prometheus-operator' ? { ...g, interval: g.interval ?? `${settings.ruleIntervalSeconds}s` } : g))
    .filter(g => g.rules.length > 0);
  const files: Record<string, string> = {
    'rules.yaml': YAML.stringify({ groups: placed(mixin.prometheusRules) }, { lineWidth: 0 }),
    'alerts.yaml': YAML.stringify({ groups: placed(mixin.prometheusAlerts) }, { lineWidth: 0 }),
  };
  for (const d of mixin.grafanaDashboards) files[`dashboards/${d.uid}.json`] = `${JSON.stringify(d, null, 2)}\n`;
  if (opts.globalTier) {
    const split = globalTierMixin(mixin, opts.globalTier, settings.ruleIntervalSeconds);
    files['global-tier/shard-rules.yaml'] = YAML.stringify({ groups: split.shardRules }, { lineWidth: 0 });
    files['global-tier/global-rules.yaml'] = split.globalRuleFile;
  }
  return files;
}

/** The vendors of `--vendors FILE`, checked as VendorCatalog checks them. */
function readVendors(file: string): VendorCatalog {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--vendors '${file}' cannot be read: ${(err as Error).message}`);
  }
  let list: VendorProps[];
  try {
    list = YAML.parse(text);
  } catch (err) {
    throw new UsageError(`--vendors '${file}' is not JSON or YAML: ${(err as Error).message}`);
  }
  if (!Array.isArray(list)) throw new UsageError(`--vendors '${file}' must hold a list of vendors ({ name, endpoints?, pricePerGiB?, ... })`);
  try {
    return new VendorCatalog(list);
  } catch (err) {
    // The property and value, as the constructs report them, and the file they come from.
    throw new Error(`--vendors '${file}': ${(err as Error).message}`);
  }
}

/** `mixin --out DIR --vendors FILE ...`: rules, alerts and dashboards as files. */
export function mixinCommand(argv: string[], io: Io): number {
  if (wantsHelp(argv)) {
    io.out(`${MIXIN_USAGE}\n`);
    return 0;
  }
  try {
    const { values } = parseArgs({
      args: argv, strict: true,
      options: {
        'out': { type: 'string' },
        'vendors': { type: 'string' },
        'mode': { type: 'string', default: 'prometheus-operator' },
        'namespace': { type: 'string', default: 'monitoring' },
        'crawler-namespaces': { type: 'string', default: 'crawlers' },
        'global-tier': { type: 'string' },
        'usage': { type: 'boolean', default: false },
        'help': { type: 'boolean', short: 'h', default: false },
      },
    });
    if (!values.out) throw new UsageError('--out DIR is required');
    if (values.mode !== 'prometheus-operator' && values.mode !== 'standalone') throw new UsageError(`--mode '${values.mode}' must be prometheus-operator or standalone`);
    // No made-up default: the rules and dashboards are per vendor, so they must be your vendors'.
    if (!values.vendors) {
      throw new UsageError('--vendors FILE is required: a JSON or YAML list of your vendors\' settings as VendorCatalog takes them, '
        + 'e.g. [{ name: acme, endpoints: ["gw.acme.example:22225"], pricePerGiB: 4 }]');
    }
    const engine = values['global-tier'];
    if (engine !== undefined && !GLOBAL_TIER_ENGINES.includes(engine as GlobalTierEngine)) {
      throw new UsageError(`--global-tier '${engine}' must be one of ${GLOBAL_TIER_ENGINES.join(', ')}`);
    }
    const files = renderMixin({
      globalTier: engine as GlobalTierEngine | undefined,
      vendors: readVendors(values.vendors),
      mode: values.mode,
      namespace: values.namespace,
      crawlerNamespaces: values['crawler-namespaces']!.split(',').map(n => n.trim()).filter(Boolean),
      usage: values.usage,
    });
    for (const [file, content] of Object.entries(files)) {
      const dest = path.join(values.out, file);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, content);
    }
    io.out(`wrote ${Object.keys(files).sort().join(', ')} into ${values.out}/\n`);
    return 0;
  } catch (err) {
    return reportError(io, err, 'mixin', MIXIN_USAGE);
  }
}
