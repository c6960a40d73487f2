/**
 * Markdown tables from bench/results/*.json (written by bench/cardinality.ts).
 *
 *   npx ts-node --transpile-only bench/report.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const dir = path.join(__dirname, 'results');
const scales = fs.readdirSync(dir).filter(f => /^cardinality-\d+\.json$/.test(f))
  .map(f => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))).sort((a, b) => a.pods - b.pods);
const fmt = (n: number) => n.toLocaleString('en-US');
const mib = (b: number) => `${fmt(Math.round(b / 2 ** 20))} MiB`;
const ms = (t?: { medianMs: number; error?: string; runs: number }) =>
  (t === undefined ? '–' : t.error ? (/timeout|timed out/i.test(t.error) ? 'timeout' : 'error') : `${t.medianMs}${t.runs < 5 ? `\u00b9` : ''}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio = (a: number, b: number) => (b ? `${(a / b).toFixed(2)}×` : '–');

console.log('| pods | series/pod | head series | rule series in blocks (blocks) | TSDB on disk | RSS after queries (peak) | ingest | rule eval (all rules, once) |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const s of scales) {
  console.log(`| ${fmt(s.pods)} | ${s.seriesPerPod} | ${fmt(s.headSeries)} | ${s.blocks.blocks ? `${fmt(s.blocks.series)} (${s.blocks.blocks})` : '– (not backfilled)'} | ${mib(s.tsdbBytes)} | ${fmt(s.memory.rssMiB)} MiB (${fmt(s.memory.peakRssMiB)}) | ${fmt(s.ingestion.samplesPerSecond)} samples/s | ${fmt(s.ruleEvaluationMs)} ms |`);
}

const timed = scales.filter(s => s.panels.length > 0);
console.log('\nPanel queries, median ms (query_range over 1 h at 15 s, or instant for stat/table/gauge panels):\n');
console.log(`| dashboard / panel (refId) | ${timed.map(s => `rules @${fmt(s.pods)}`).join(' | ')} | ${timed.map(s => `raw @${fmt(s.pods)}`).join(' | ')} |`);
console.log(`| --- | ${timed.map(() => '---').join(' | ')} | ${timed.map(() => '---').join(' | ')} |`);
const first = timed[0];
first.panels.forEach((p: any, i: number) => {
  const name = `${p.dashboard.replace('proxy-', '')} / ${p.panel} (${p.refId})${p.instant ? ' ⓘ' : ''}`;
  console.log(`| ${name} | ${timed.map(s => ms(s.panels[i].rules)).join(' | ')} | ${timed.map(s => ms(s.panels[i].raw)).join(' | ')} |`);
});

console.log('\nSummary per scale:\n');
console.log('| pods | rules: median of panel medians | rules: slowest panel | raw: median of panel medians | raw: slowest panel | raw timeouts |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const s of timed) {
  const r = s.panels.map((p: any) => p.rules.medianMs).filter((x: number) => Number.isFinite(x));
  const raw = s.panels.filter((p: any) => p.raw).map((p: any) => p.raw.medianMs).filter((x: number) => Number.isFinite(x));
  const timeouts = s.panels.filter((p: any) => p.raw?.error).length;
  console.log(`| ${fmt(s.pods)} | ${median(r)} | ${Math.max(...r)} | ${median(raw)} | ${Math.max(...raw)} | ${timeouts} |`);
}
if (timed.length > 1) {
  const a = timed[0];
  console.log('\nGrowth from the smallest scale:\n');
  console.log('| pods | pods × | head series × | TSDB × | RSS × | rules median × | rules slowest × | raw median × |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const med = (s: any, k: 'rules' | 'raw') => median(s.panels.filter((p: any) => p[k] && Number.isFinite(p[k].medianMs)).map((p: any) => p[k].medianMs));
  const max = (s: any) => Math.max(...s.panels.map((p: any) => p.rules.medianMs).filter((x: number) => Number.isFinite(x)));
  for (const s of timed.slice(1)) {
    console.log(`| ${fmt(s.pods)} | ${ratio(s.pods, a.pods)} | ${ratio(s.headSeries, a.headSeries)} | ${ratio(s.tsdbBytes, a.tsdbBytes)} | ${ratio(s.memory.rssMiB, a.memory.rssMiB)} | ${ratio(med(s, 'rules'), med(a, 'rules'))} | ${ratio(max(s), max(a))} | ${ratio(med(s, 'raw'), med(a, 'raw'))} |`);
  }
}

const dest = fs.readdirSync(dir).filter(f => /^destinations-\d+\.json$/.test(f)).map(f => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
for (const d of dest) {
  console.log(`\n${fmt(d.pods)} pods, ${fmt(d.distinctDestinations)} distinct destinations (${d.destinationsPerPod} per pod): raw head series ${fmt(d.rawHeadSeries)} (${d.rawSeriesPerPod} per pod, as with 20 shared destinations)\n`);
  console.log('| destination guard | destination rule: series over 1 h | one evaluation |');
  console.log('| --- | --- | --- |');
  for (const [name, g] of Object.entries<any>(d.guards)) {
    console.log(`| ${name} | ${fmt(g.destinationRequests.seriesOverHour)} | ${fmt(Math.round(g.destinationRequests.evaluationMs))} ms |`);
  }
}
