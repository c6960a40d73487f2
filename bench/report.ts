/**
 * Markdown tables from bench/results/*.json (written by bench/cardinality.ts).
 *
 *   npx ts-node --transpile-only bench/report.ts [results directory]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Results directory: the first argument, else bench/results. */
const dir = process.argv[2] ?? path.join(__dirname, 'results');
const scales = fs.readdirSync(dir).filter(f => /^cardinality-\d+\.json$/.test(f))
  .map(f => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))).sort((a, b) => a.pods - b.pods);
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mib = (b: number) => `${fmt(Math.round(b / 2 ** 20))} MiB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio = (a: number, b: number) => (b ? `${(a / b).toFixed(1)}×` : '–');
const perCycle = (g: any) => g.medianMs * 30 / g.intervalSeconds;

console.log('| pods (broad) | series/pod | head series | TSDB on disk | RSS (peak) | ingest | rule cycle, flat | rule cycle, layered | flat ÷ layered | layered per pod |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const s of scales) {
  console.log(`| ${fmt(s.pods)} (${s.broadPods}) | ${s.seriesPerPod} | ${fmt(s.headSeries)} | ${mib(s.tsdbBytes)} | ${fmt(s.memory.rssMiB)} MiB (${fmt(s.memory.peakRssMiB)}) | `
    + `${fmt(s.ingestion.samplesPerSecond)} samples/s | ${fmt(s.ruleCycleMs.flat)} ms | ${fmt(s.ruleCycleMs.layered)} ms | ${ratio(s.ruleCycleMs.flat, s.ruleCycleMs.layered)} | `
    + `${(s.ruleCycleMs.layered / s.pods).toFixed(2)} ms |`);
}

console.log('\nRule evaluation per 30 s cycle by group, median ms; a group evaluated less often counts its share of one 30 s cycle (flat: cost every 1 min; layered: destinations, latency, scrape health and vendors every 1 min, cost every 5 min):\n');
console.log(`| group | ${scales.map(s => `flat @${fmt(s.pods)}`).join(' | ')} | ${scales.map(s => `layered @${fmt(s.pods)}`).join(' | ')} |`);
console.log(`| --- | ${scales.map(() => '---').join(' | ')} | ${scales.map(() => '---').join(' | ')} |`);
const groupNames = [...new Set(scales.flatMap(s => s.ruleGroups.map((g: any) => g.name.replace(/^flat\./, ''))))];
for (const name of groupNames) {
  const cell = (s: any, set: string) => {
    const g = s.ruleGroups.find((x: any) => x.set === set && x.name.replace(/^flat\./, '') === name);
    return g ? fmt(perCycle(g), 1) : '–';
  };
  console.log(`| ${name} | ${scales.map(s => cell(s, 'flat')).join(' | ')} | ${scales.map(s => cell(s, 'layered')).join(' | ')} |`);
}

const largest = scales[scales.length - 1];
if (largest) {
  console.log(`\nPer rule at ${fmt(largest.pods)} pods, median ms of one evaluation (the ten costliest of each set):\n`);
  for (const set of ['flat', 'layered']) {
    const rules = largest.ruleGroups.filter((g: any) => g.set === set)
      .flatMap((g: any) => Object.entries<number>(g.perRule).map(([rule, ms]) => ({ rule, ms, group: g.name })))
      .sort((a: any, b: any) => b.ms - a.ms).slice(0, 10);
    console.log(`| ${set} rule | group | ms |`);
    console.log('| --- | --- | --- |');
    for (const r of rules) console.log(`| ${r.rule} | ${r.group} | ${fmt(r.ms, 1)} |`);
    console.log('');
  }
}

const timed = scales.filter(s => s.panels.length > 0);
if (timed.length) {
  console.log(`Panel queries over the dashboards' default range (${timed[0].rangeHours} h; step: the panel's own, ⓘ instant), median ms (slowest of the runs):\n`);
  console.log(`| dashboard / panel (refId) | step | ${timed.map(s => `@${fmt(s.pods)}`).join(' | ')} | largest ÷ smallest | server time, largest ÷ smallest | samples read, largest ÷ smallest |`);
  console.log(`| --- | --- | ${timed.map(() => '---').join(' | ')} | --- | --- | --- |`);
  // Panels matched by dashboard, title and query across scales; a panel missing at a scale shows '–'.
  const keyOf = (p: any) => `${p.dashboard}/${p.panel}/${p.refId}`;
  const at = (s: any, p: any) => s.panels.find((q: any) => keyOf(q) === keyOf(p))?.rules;
  const last = timed[timed.length - 1];
  for (const p of last.panels) {
    const name = `${p.dashboard.replace('proxy-', '')} / ${p.panel} (${p.refId})${p.instant ? ' ⓘ' : ''}`;
    const cells = timed.map(s => {
      const t = at(s, p);
      return !t ? '–' : t.error ? 'error' : `${fmt(t.medianMs, 1)} (${fmt(t.slowestMs, 1)})`;
    });
    // Prometheus' own time and the samples read: older results have neither.
    const server = ratio(at(last, p)?.serverMs, at(timed[0], p)?.serverMs);
    const samples = at(last, p)?.samples !== undefined ? `${ratio(at(last, p).samples, at(timed[0], p)?.samples)} (${fmt(at(last, p).samples)})` : '–';
    console.log(`| ${name} | ${p.instant ? 'ⓘ' : `${p.stepSeconds} s`} | ${cells.join(' | ')} | ${ratio(at(last, p)?.medianMs, at(timed[0], p)?.medianMs)} | ${server} | ${samples} |`);
  }
  // Rows that are not a dashboard's panel: the variable lookups, the top pods panel's worst case, the floor.
  const isPanel = (p: any) => p.dashboard !== '-' && !p.panel.startsWith('variable ') && !p.panel.endsWith('every pod a candidate');
  console.log('\nPanels only (the variable lookups, the worst case and the floor aside):\n');
  console.log('| pods | median of panel medians | slowest panel median | panels over 200 ms | most grown panel, this scale ÷ the smallest | destination rule series over the range |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const s of timed) {
    const panels = s.panels.filter(isPanel);
    const meds = panels.map((p: any) => p.rules.medianMs).filter((x: number) => Number.isFinite(x));
    const grown = panels.map((p: any) => ({ p, growth: p.rules.medianMs / (at(timed[0], p)?.medianMs ?? NaN) }))
      .filter((x: any) => Number.isFinite(x.growth)).sort((a: any, b: any) => b.growth - a.growth)[0];
    const destinationSeries = s.destinationSeries ? fmt(s.destinationSeries.total) : '–';
    console.log(`| ${fmt(s.pods)} | ${fmt(median(meds), 1)} | ${fmt(Math.max(...meds), 1)} | ${meds.filter((x: number) => x > 200).length} | ${grown.growth.toFixed(1)}× (${grown.p.panel}) | ${destinationSeries} |`);
  }
}

const dest = fs.readdirSync(dir).filter(f => /^destinations-\d+\.json$/.test(f)).map(f => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
for (const d of dest) {
  console.log(`\n${fmt(d.pods)} pods, ${fmt(d.distinctDestinations)} distinct destinations (${d.destinationsPerPod} per pod): raw head series ${fmt(d.rawHeadSeries)} (${d.rawSeriesPerPod} per pod)\n`);
  console.log('| destination guard | destination rule: series over 1 h | per-host sums, one evaluation | top list, one evaluation | bound, one evaluation |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, g] of Object.entries<any>(d.guards)) {
    const list = g.listEvaluationMs === undefined ? '-' : `${fmt(g.listEvaluationMs, 1)} ms`;
    console.log(`| ${name} | ${fmt(g.destinationRequests.seriesOverHour)} | ${fmt(g.perHostEvaluationMs, 1)} ms | ${list} | ${fmt(g.destinationRequests.evaluationMs, 1)} ms |`);
  }
}
