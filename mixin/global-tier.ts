/**
 * The mixin for an external global tier (VictoriaMetrics with vmalert, the Mimir ruler, Thanos Ruler): the rules each
 * Prometheus shard evaluates, and the global rules and alerts for the engine's evaluator, placed as MetricsStack
 * places them with `prometheus.globalTier` (each rule's `placement`, core/rules.ts).
 */
import { resolveAlertOptions, scaleOutAlertGroup } from '../core/alerts';
import { RuleGroup, placeRules } from '../core/rules';
import * as YAML from 'yaml';
import { Mixin } from './index';

/**
 * The engine above the shards whose own rule evaluator runs the global rules: vmalert (VictoriaMetrics), the Mimir
 * ruler, Thanos Ruler.
 */
export type GlobalTierEngine = 'victoriametrics' | 'mimir' | 'thanos';

export const GLOBAL_TIER_ENGINES: readonly GlobalTierEngine[] = ['victoriametrics', 'mimir', 'thanos'];

/**
 * The global rule groups in the evaluator's rule-file format.
 *
 * vmalert, the Mimir ruler and Thanos Ruler all read Prometheus' rule-group shape (`groups[].name/interval/rules`,
 * `record`/`alert`/`expr`/`for`/`labels`/`annotations`); what differs is the query language the expressions are parsed
 * by (MetricsQL for vmalert; `vmalert -dryRun` checks it) and where the file goes: vmalert `-rule=<file>`, Thanos Ruler
 * `--rule-file=<file>`, Mimir `mimirtool rules load <file>`. No vmalert-only group field is used, so the file that
 * vmalert loads loads in Prometheus too (`promtool check rules`).
 */
export function renderGlobalRuleFile(_engine: GlobalTierEngine, groups: readonly RuleGroup[]): string {
  return YAML.stringify({ groups: groups.map(g => ({ name: g.name, ...(g.interval ? { interval: g.interval } : {}), rules: g.rules })) }, { lineWidth: 0 });
}

export interface GlobalTierMixin {
  /** Rule groups every shard evaluates (pod-level rules, partial sums), in Prometheus' rule-file format. */
  readonly shardRules: RuleGroup[];
  /** Rule groups and alerts the engine's evaluator runs over what the shards send. */
  readonly globalRules: RuleGroup[];
  /** `globalRules` as the evaluator's rule file. */
  readonly globalRuleFile: string;
}

/** The mixin's rules split between the shards and the global tier's evaluator. */
export function globalTierMixin(mixin: Mixin, engine: GlobalTierEngine, ruleIntervalSeconds = 30, runbookUrl?: string): GlobalTierMixin {
  const placed = placeRules(mixin.records, ruleIntervalSeconds);
  const scaleOut = scaleOutAlertGroup({ sharded: true, remoteWrite: true, runbookUrl: runbookUrl ?? resolveAlertOptions(undefined).runbookUrl });
  const globalRules = [...placed.global, ...mixin.prometheusAlerts].filter(g => g.rules.length > 0);
  // A shard alerts on its own remote-write failures: what it cannot send does not reach the evaluator.
  const shardRules = [...placed.shard, ...(scaleOut ? [{ ...scaleOut, rules: scaleOut.rules.filter(r => 'alert' in r && r.alert === 'PrometheusRemoteWriteFailing') }] : [])]
    .filter(g => g.rules.length > 0);
  return { shardRules, globalRules, globalRuleFile: renderGlobalRuleFile(engine, globalRules) };
}
