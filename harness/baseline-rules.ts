import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { RecordingRule, RuleGroup } from '../core/rules';

/** Prefix of the baseline's recorded names once renamed, so that both rule sets run side by side in one Prometheus. */
export const BASELINE_PREFIX = 'flat_';

/**
 * The recording rules as they were before layering (bench/baseline/rules-flat-<model>.yml: every rule read raw
 * sidecar series itself), renamed so they can be evaluated beside the current ones on the same data: every recorded
 * name and every reference to one gets BASELINE_PREFIX, groups get a `flat.` prefix. Alerts are left out, and so
 * are groups named in `skipGroups`.
 */
export function baselineRuleGroups(model: 'fleet' | 'bench', skipGroups: readonly string[] = []): RuleGroup[] {
  const file = path.join(__dirname, '..', 'bench', 'baseline', `rules-flat-${model}.yml`);
  const groups: Array<{ name: string; interval?: string; rules: any[] }> = YAML.parse(fs.readFileSync(file, 'utf8')).groups;
  const records = [...new Set(groups.flatMap(g => g.rules.filter(r => r.record).map(r => r.record as string)))].sort((a, b) => b.length - a.length);
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // A name is a reference where it is not part of a longer metric name.
  const reference = new RegExp(`(?<![A-Za-z0-9_:])(${records.map(escape).join('|')})(?![A-Za-z0-9_:])`, 'g');
  return groups.filter(g => !skipGroups.includes(g.name)).map(g => ({
    name: `flat.${g.name}`,
    ...(g.interval ? { interval: g.interval } : {}),
    rules: g.rules.filter(r => r.record).map((r): RecordingRule => ({
      record: `${BASELINE_PREFIX}${r.record}`,
      expr: (r.expr as string).replace(reference, `${BASELINE_PREFIX}$1`),
      ...(r.labels ? { labels: r.labels } : {}),
    })),
  })).filter(g => g.rules.length > 0);
}
