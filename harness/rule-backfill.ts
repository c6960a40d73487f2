import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { PrometheusProcess } from './prometheus-process';

export interface RuleGroupYaml { name: string; interval?: string; rules: Array<{ record?: string; alert?: string; expr: string }> }

export interface BackfillOptions {
  readonly startMs: number;
  readonly endMs: number;
  /** Directory for the pass rule files and blocks. */
  readonly work: string;
  /** Length of one promtool query_range; windows bound the samples a query holds at large scales. */
  readonly windowMs: number;
  /** Names the pass files apart when several rule sets are backfilled. */
  readonly tag: string;
  readonly log?: (msg: string) => void;
}

const EVAL_INTERVAL_S = 30;
const wordOf = (name: string) => new RegExp(`(?<![A-Za-z0-9_:])${name}(?![A-Za-z0-9_:])`);

/** A PromQL expression whose value is exactly `series` (value 1 each): label_replace chains over vector(1). */
function literalVector(series: Array<Record<string, string>>): string {
  if (series.length === 0) return 'vector(1) < 0';
  const quote = (v: string) => JSON.stringify(v.replace(/\$/g, '$$$$'));
  return `(${series.map(labels => Object.entries(labels).reduce((e, [k, v]) => `label_replace(${e}, ${quote(k)}, ${quote(v)}, "", "")`, 'vector(1)')).join(' or ')})`;
}

/**
 * History of rules evaluated step by step with instant queries, as Prometheus' rule manager evaluates them, written
 * as OpenMetrics and turned into blocks. Needed where promtool's backfill (range queries) differs:
 * - a rule that reads its own previous output: promtool reads a rule's inputs from the server, where its own history
 *   does not exist yet; here each step's own reference is replaced by the previous step's series. Without stale
 *   markers, a series that left the output stays visible to later readers for the 5-minute lookback.
 * - a rule that evaluates `topk` twice (a bound and its remainder): a range query assembles each subexpression's
 *   series through a map, so tied values may be ranked differently by the two (rangeEval in promql/engine.go of
 *   v2.42.0; only an instant query keeps the input order), and the remainder then misses or repeats series.
 */
async function backfillStepByStep(prom: PrometheusProcess, rules: Array<{ record: string; expr: string }>, o: BackfillOptions, out: string): Promise<void> {
  for (const rule of rules) {
    const samplesBySeries = new Map<string, string[]>();
    const self = new RegExp(wordOf(rule.record).source, 'g');
    let previous: Array<Record<string, string>> = [];
    for (let t = Math.ceil(o.startMs / (EVAL_INTERVAL_S * 1000)) * EVAL_INTERVAL_S * 1000; t <= o.endMs; t += EVAL_INTERVAL_S * 1000) {
      const result = await prom.query(rule.expr.replace(self, () => literalVector(previous)), t);
      previous = result.map(r => Object.fromEntries(Object.entries(r.metric).filter(([k]) => k !== '__name__')));
      previous.forEach((labels, i) => {
        const key = `${rule.record}{${Object.keys(labels).sort().map(k => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
        if (!samplesBySeries.has(key)) samplesBySeries.set(key, []);
        samplesBySeries.get(key)!.push(`${key} ${result[i].value} ${t / 1000}`);
      });
    }
    const file = path.join(o.work, `${o.tag}-${rule.record.replace(/[^A-Za-z0-9_]/g, '_')}.om`);
    fs.writeFileSync(file, `# TYPE ${rule.record} gauge\n${[...samplesBySeries.values()].flat().join('\n')}\n# EOF\n`);
    const r = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', file, out], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`promtool create-blocks-from openmetrics failed (${r.status}):\n${(r.stderr ?? '').slice(-2000)}`);
    fs.rmSync(file);
    o.log?.(`  ${o.tag} ${rule.record}: evaluated step by step, ${samplesBySeries.size} series`);
  }
}

/**
 * Recording-rule history with `promtool tsdb create-blocks-from rules`, one pass per dependency level (a pass reads
 * the blocks of earlier ones), each pass's blocks moved into the server's data directory; a rule that reads its own
 * output or ranks twice is evaluated step by step instead (backfillStepByStep). Returns the seconds taken.
 */
export async function backfillRules(prom: PrometheusProcess, groups: RuleGroupYaml[], o: BackfillOptions): Promise<number> {
  const started = Date.now();
  const records = groups.flatMap(g => g.rules.filter(r => r.record));
  const names = new Set(records.map(r => r.record));
  const level = new Map<string, number>();
  const levelOf = (r: any): number => {
    if (level.has(r.record)) return level.get(r.record)!;
    const deps = records.filter(d => d.record !== r.record && names.has(d.record) && wordOf(d.record!).test(r.expr));
    const l = deps.length ? 1 + Math.max(...deps.map(levelOf)) : 0;
    level.set(r.record, l);
    return l;
  };
  records.forEach(levelOf);
  const dataDir = path.join(prom.dir, 'data');
  for (let l = 0; l <= Math.max(...level.values()); l++) {
    const passGroups = groups
      .map(g => ({ ...g, rules: g.rules.filter(r => r.record && level.get(r.record) === l) }))
      .filter(g => g.rules.length > 0);
    const out = path.join(o.work, `blocks-${o.tag}-${l}`);
    const stepByStep = (r: { record?: string; expr: string }) => wordOf(r.record!).test(r.expr) || (r.expr.match(/\btopk\b/g) ?? []).length > 1;
    await backfillStepByStep(prom, passGroups.flatMap(g => g.rules).filter(stepByStep) as Array<{ record: string; expr: string }>, o, out);
    const promtoolGroups = passGroups.map(g => ({ ...g, rules: g.rules.filter(r => !stepByStep(r)) })).filter(g => g.rules.length > 0);
    const file = path.join(o.work, `rules-${o.tag}-${l}.yml`);
    fs.writeFileSync(file, YAML.stringify({ groups: promtoolGroups }, { lineWidth: 0 }));
    for (let from = o.startMs; promtoolGroups.length > 0 && from < o.endMs; from += o.windowMs) {
      const to = Math.min(o.endMs, from + o.windowMs);
      const r = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'rules', `--start=${Math.floor(from / 1000)}`, `--end=${Math.floor(to / 1000)}`,
        `--url=${prom.url}`, `--output-dir=${out}`, `--eval-interval=${EVAL_INTERVAL_S}s`, '--quiet', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`promtool create-blocks-from rules failed (${r.status}):\n${(r.stderr ?? '').slice(-2000)}`);
    }
    const blocks = fs.readdirSync(out).filter(d => fs.existsSync(path.join(out, d, 'meta.json')));
    for (const b of blocks) fs.renameSync(path.join(out, b), path.join(dataDir, b));
    // Prometheus loads new block directories on its next reload (once a minute).
    const probe = passGroups.flatMap(g => g.rules).find(r => !r.expr.startsWith('vector(')) ?? passGroups[0].rules[0];
    await prom.waitFor(async () => (await prom.query(`count(count_over_time({__name__="${probe.record}"}[${Math.ceil((o.endMs - o.startMs) / 60_000)}m]))`, o.endMs)).length > 0,
      150_000, `rule blocks of pass ${l}`, 2000);
    o.log?.(`  ${o.tag} rules pass ${l}: ${passGroups.flatMap(g => g.rules).length} rules, ${blocks.length} blocks (${Math.round((Date.now() - started) / 1000)} s)`);
  }
  return (Date.now() - started) / 1000;
}
