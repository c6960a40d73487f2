import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { panelQueries, expandVariables } from '../harness/grafana-variables';
import { COST_RULE_INTERVAL_SECONDS, RULE } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { MetricsStack } from '../lib/metrics-stack';
import { expectRuleTestsPass } from './support/prometheus-config';
import { series } from './support/istio-series';

/**
 * "Top pods over the range" reads only the candidate pods (those in a recorded top-20 list of their vendor and
 * namespace during the range) and says whether a pod outside them could rank higher. Checked with promtool on the
 * product's 5-minute rules and the panel's own queries, over one hour of per-pod rates built so that the ground
 * truth is known:
 * - namespace `steady`: 25 pods at fixed, distinct rates. The top 20 never change; the 21st bounds the rest.
 * - namespace `rotating`: 75 pods in three waves of 25 taking turns (one wave per 5-minute window, distinct rates),
 *   and a `leader` pod at a steady 70 bytes/s: below every bursting pod, so never in a top list, yet over the hour
 *   it moved more than any of them. The list without it must say so.
 */

const NS_STEADY = 'steady';
const NS_ROTATING = 'rotating';
const VENDOR = 'vendor-a';
const STEPS = 12;
/** Evaluations at 0, 5, …, 60 minutes; the query at 62m30s covers the twelve from 5m on, closed or open ranges alike. */
const EVAL_TIME = '62m30s';
const RANGE_SECONDS = STEPS * COST_RULE_INTERVAL_SECONDS;

const stack = new MetricsStack(Testing.chart(), 'metrics', { vendors: new VendorCatalog([{ name: VENDOR }]), crawlerNamespaces: [NS_STEADY, NS_ROTATING] });
const COST_RULES = [RULE.podBytes5m, RULE.topPodBytes5m, RULE.unlistedPodBytesMax5m];
const panels = panelQueries(stack.mixin.grafanaDashboards);
const panel = (title: string) => panels.find(q => q.panel === title)!.expr;

interface Pod { namespace: string; pod: string; bytesPerSecond: (step: number) => number }
const steady: Pod[] = Array.from({ length: 25 }, (_, i) => ({ namespace: NS_STEADY, pod: `s-${String(i).padStart(2, '0')}`, bytesPerSecond: () => 10 * (i + 1) }));
const waves: Pod[] = Array.from({ length: 75 }, (_, i) => ({
  namespace: NS_ROTATING, pod: `b-${String(i).padStart(2, '0')}`, bytesPerSecond: (step: number) => (step % 3 === Math.floor(i / 25) ? 100 + i : 0),
}));
const leader: Pod = { namespace: NS_ROTATING, pod: 'leader', bytesPerSecond: () => 70 };
const PODS = [...steady, ...waves, leader];

// Ground truth from the construction, per step 1..12 (the evaluations in the range).
const total = (p: Pod) => Array.from({ length: STEPS }, (_, k) => p.bytesPerSecond(k + 1)).reduce((a, b) => a + b, 0) * COST_RULE_INTERVAL_SECONDS;
/** The 20 busiest per namespace at a step (rates are distinct where they are not 0); every other pod is below the 21st. */
function topAt(step: number, namespace: string): { top: Pod[]; next: number } {
  const ranked = PODS.filter(p => p.namespace === namespace).sort((a, b) => b.bytesPerSecond(step) - a.bytesPerSecond(step));
  return { top: ranked.slice(0, 20), next: ranked[20].bytesPerSecond(step) };
}
const candidates = (namespaces: string[]) => [...new Set(namespaces.flatMap(ns => Array.from({ length: STEPS }, (_, k) => topAt(k + 1, ns).top.map(p => p.pod)).flat()))].sort();
const bound = (namespaces: string[]) => Math.max(...namespaces.map(ns => Array.from({ length: STEPS }, (_, k) => topAt(k + 1, ns).next).reduce((a, b) => a + b, 0)))
  * COST_RULE_INTERVAL_SECONDS;
const top10 = (pods: Pod[]) => [...pods].sort((a, b) => total(b) - total(a)).slice(0, 10);
const podLabels = (p: Pod) => series('', { namespace: p.namespace, pod: p.pod, proxy_vendor: VENDOR });

function expectPromtoolPass(tests: unknown[]): void {
  // The product's cost group, reduced to the per-pod rules; the per-pod rates are its input here.
  const groups = YAML.parse(stack.renderRules()).groups
    .map((g: any) => ({ ...g, rules: g.rules.filter((r: any) => COST_RULES.includes(r.record)) }))
    .filter((g: any) => g.rules.length > 0);
  expect(groups.flatMap((g: any) => g.rules.map((r: any) => r.record))).toEqual(COST_RULES);
  expectRuleTestsPass(YAML.stringify({ groups }, { lineWidth: 0 }), { evaluation_interval: '5m', tests });
}

/** The per-pod rates, sent and received split 60/40 (the rule adds them), one value per 5-minute step. */
const inputSeries = PODS.flatMap(p => [
  { series: series(RULE.podSentBytes, { namespace: p.namespace, pod: p.pod, proxy_vendor: VENDOR }), values: Array.from({ length: STEPS + 1 }, (_, k) => 0.6 * p.bytesPerSecond(k)).join(' ') },
  { series: series(RULE.podReceivedBytes, { namespace: p.namespace, pod: p.pod, proxy_vendor: VENDOR }), values: Array.from({ length: STEPS + 1 }, (_, k) => 0.4 * p.bytesPerSecond(k)).join(' ') },
]);

/** The panel's query as Grafana sends it, with the hidden variable holding the given pods. */
const query = (title: string, namespaces: string[], topPods: string[]) =>
  expandVariables(panel(title), { namespace: namespaces, topPods, rangeSeconds: RANGE_SECONDS });
const check = (expr: string, samples: Array<{ labels: string; value: number }>) => ({ expr, eval_time: EVAL_TIME, exp_samples: samples });
const listed = (pods: Pod[]) => pods.map(p => ({ labels: podLabels(p), value: total(p) }));
const scalar = (value: number) => [{ labels: '{}', value }];

describe('top pods over the range', () => {
  test('the construction: the leader is never a candidate but moved the most of its namespace; the steady top 10 beat every bound', () => {
    expect(candidates([NS_ROTATING])).not.toContain('leader');
    expect(candidates([NS_ROTATING])).toHaveLength(60);
    expect(top10(PODS.filter(p => p.namespace === NS_ROTATING))[0]).toBe(leader);
    expect(total(top10(steady)[9])).toBeGreaterThan(bound([NS_STEADY, NS_ROTATING]));
    expect(total(top10(PODS.filter(p => candidates([NS_ROTATING]).includes(p.pod)))[9])).toBeLessThan(bound([NS_ROTATING]));
  });

  test('the rules record every top-20 pod of each window and the next one down; the panel reads only those and flags what it may miss', () => {
    const rotatingCandidates = PODS.filter(p => candidates([NS_ROTATING]).includes(p.pod));
    const allCandidates = PODS.filter(p => candidates([NS_STEADY, NS_ROTATING]).includes(p.pod));
    expectPromtoolPass([{
      interval: '5m',
      input_series: inputSeries,
      promql_expr_test: [
        // The hidden variable's values over the range: 20 steady pods and 60 of the waves, never the leader.
        check(`count by (namespace) (count by (namespace, pod) (count_over_time(${RULE.topPodBytes5m}[${RANGE_SECONDS}s])))`, [
          { labels: series('', { namespace: NS_STEADY }), value: 20 }, { labels: series('', { namespace: NS_ROTATING }), value: 60 },
        ]),
        check(`count_over_time(${RULE.topPodBytes5m}{pod="leader"}[${RANGE_SECONDS}s])`, []),
        // Steady: the list is the true top 10, complete, and no pod outside moved more than 12 × 50 bytes/s × 300 s.
        check(query('Top pods over the range', [NS_STEADY], candidates([NS_STEADY])), listed(top10(steady))),
        check(query('Top list complete', [NS_STEADY], candidates([NS_STEADY])), scalar(1)),
        check(query('Most a pod outside the top lists moved', [NS_STEADY], candidates([NS_STEADY])), scalar(bound([NS_STEADY]))),
        // Rotating: the best ten of the waves are listed with their exact totals, but the leader, which moved more, is
        // not a candidate: the list says it may miss pods, and its bound is above the leader's total.
        check(query('Top pods over the range', [NS_ROTATING], candidates([NS_ROTATING])), listed(top10(rotatingCandidates))),
        check(query('Top list complete', [NS_ROTATING], candidates([NS_ROTATING])), scalar(0)),
        check(query('Most a pod outside the top lists moved', [NS_ROTATING], candidates([NS_ROTATING])), scalar(bound([NS_ROTATING]))),
        check(`(${query('Most a pod outside the top lists moved', [NS_ROTATING], candidates([NS_ROTATING]))}) >= bool ${total(leader)}`, scalar(1)),
        // Both namespaces: the steady pods lead and beat the larger bound, so the list is complete and true.
        check(query('Top pods over the range', [NS_STEADY, NS_ROTATING], candidates([NS_STEADY, NS_ROTATING])), listed(top10(allCandidates))),
        check(query('Top pods over the range', [NS_STEADY, NS_ROTATING], PODS.map(p => p.pod)), listed(top10(PODS))),
        check(query('Top list complete', [NS_STEADY, NS_ROTATING], candidates([NS_STEADY, NS_ROTATING])), scalar(1)),
        // Picked pods: their own totals, nothing outside to bound.
        check(expandVariables(panel('Top pods over the range'), { pod: ['leader'], topPods: [], rangeSeconds: RANGE_SECONDS }), listed([leader])),
        check(expandVariables(panel('Top list complete'), { pod: ['leader'], topPods: [], rangeSeconds: RANGE_SECONDS }), scalar(1)),
        check(expandVariables(panel('Most a pod outside the top lists moved'), { pod: ['leader'], topPods: [], rangeSeconds: RANGE_SECONDS }), scalar(0)),
      ],
    }]);
  });
});
