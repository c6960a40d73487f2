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

/**
 * Recording-rule history with `promtool tsdb create-blocks-from rules`, one pass per dependency level (a pass reads
 * the blocks of earlier ones), each pass's blocks moved into the server's data directory. Returns the seconds taken.
 */
export async function backfillRules(prom: PrometheusProcess, groups: RuleGroupYaml[], o: BackfillOptions): Promise<number> {
  const started = Date.now();
  const records = groups.flatMap(g => g.rules.filter(r => r.record));
  const names = new Set(records.map(r => r.record));
  const level = new Map<string, number>();
  const levelOf = (r: any): number => {
    if (level.has(r.record)) return level.get(r.record)!;
    const deps = records.filter(d => d.record !== r.record && names.has(d.record) && new RegExp(`(?<![A-Za-z0-9_:])${d.record}(?![A-Za-z0-9_:])`).test(r.expr));
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
    const file = path.join(o.work, `rules-${o.tag}-${l}.yml`);
    fs.writeFileSync(file, YAML.stringify({ groups: passGroups }, { lineWidth: 0 }));
    const out = path.join(o.work, `blocks-${o.tag}-${l}`);
    for (let from = o.startMs; from < o.endMs; from += o.windowMs) {
      const to = Math.min(o.endMs, from + o.windowMs);
      const r = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'rules', `--start=${Math.floor(from / 1000)}`, `--end=${Math.floor(to / 1000)}`,
        `--url=${prom.url}`, `--output-dir=${out}`, '--eval-interval=30s', '--quiet', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
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
