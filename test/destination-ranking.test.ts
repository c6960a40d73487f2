import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { OTHER_DESTINATION } from '../core/metric-contract';
import { RULE } from '../core/rules';
import { DestinationOptions } from '../lib/prometheus/destinations';
import { MetricsStack } from '../lib/metrics-stack';
import { VendorCatalog } from '../core/vendor';
import { PodRef, series, tcpSeries } from './support/istio-series';
import { promtoolTestRules } from './support/prometheus-config';
import { promqlErrors } from './support/promql';

/**
 * How the destination bound picks its top list over time, evaluated by promtool on the product's rules. A broad
 * crawler's long tail of sites, each opened about 30 times an hour, has 5-minute rates that differ by noise alone:
 * ranked afresh at every evaluation, the top list takes new names every minute and the bounded rule holds most of the
 * tail within an hour, though each evaluation holds at most `maxPerVendor`. Ranked by the hourly average, with the
 * listed destinations kept until another ranks 50% above them, it keeps nearly the same names.
 */

const GATEWAY = 'gw.vendor-a.example';
const vendors = new VendorCatalog([{ name: 'vendor-a', endpoints: [`${GATEWAY}:8000`] }]);
const pod: PodRef = { pod: 'crawler-vendor-a-broad-5f7c9-aaaaa', vendor: 'vendor-a' };
const MAX = 10;
const STEADY = 5;
const TAIL = 40;
const MINUTES = 180;
/** A site that appears at minute 150 and leads from its first rate on. */
const NEWCOMER = { host: 'new.example', from: 150, perMinute: 120 };

/** Deterministic Poisson counts (Knuth), so the test sees the same noise on every run. */
function poissonCounts(mean: number, n: number, seed: number): number[] {
  let state = seed;
  const uniform = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: n }, () => {
    let k = 0;
    for (let p = uniform(); p > Math.exp(-mean); p *= uniform()) k++;
    return k;
  });
}
const cumulative = (increments: number[]) => increments.reduce<number[]>((acc, x) => [...acc, (acc.at(-1) ?? 0) + x], []).join(' ');

const closed = (sni: string | undefined, gateway?: string) => tcpSeries('istio_tcp_connections_closed_total', pod, gateway ? { gateway } : { sni });
const inputSeries = [
  // Steady sites, far above the tail: listed at every evaluation.
  ...Array.from({ length: STEADY }, (_, i) => ({ series: closed(`steady${i}.example`), values: `0+${60 * (i + 2)}x${MINUTES}` })),
  // The tail: 0.5 connections a minute each, Poisson.
  ...Array.from({ length: TAIL }, (_, i) => ({ series: closed(`www.site${i}.example`), values: cumulative([0, ...poissonCounts(0.5, MINUTES, 7 + i)]) })),
  { series: closed(NEWCOMER.host), values: `_x${NEWCOMER.from - 1} 0+${NEWCOMER.perMinute}x${MINUTES - NEWCOMER.from + 1}` },
  // The vendor gateway, pinned: never ranked away however small.
  { series: closed(undefined, GATEWAY), values: `0+1x${MINUTES}` },
  ...['crawler-sidecars', 'crawler-destinations'].map(job =>
    ({ series: series('up', { job, instance: '10.1.0.7:15090', namespace: 'crawlers', pod: pod.pod, proxy_vendor: pod.vendor! }), values: `1x${MINUTES}` })),
];

function rulesFor(destinations: DestinationOptions): string {
  const stack = new MetricsStack(Testing.chart(), 'metrics', { vendors, crawlerNamespaces: ['crawlers'], prometheus: { evaluationInterval: '1m' }, destinations });
  return stack.renderRules();
}

/** Runs promtool; returns the failures it prints ("got: ...") so that a test can read what was measured. */
const promtoolTest = (rulesYaml: string, tests: unknown[]) => promtoolTestRules(rulesYaml, {
  evaluation_interval: '1m', tests: [{ interval: '1m', input_series: inputSeries, promql_expr_test: tests }],
});

const tcp = (matchers = '') => `${RULE.destinationRequests}{request_protocol="tcp"${matchers ? `, ${matchers}` : ''}}`;
/** Distinct TCP destinations the bounded rule held in the last hour. */
const seriesOverHour = { expr: `count(count_over_time(${tcp()}[59m]))`, eval_time: `${MINUTES}m` };

/** The count promtool measured, read from its failure report against an impossible expectation. */
function measuredSeriesOverHour(rulesYaml: string): number {
  const { status, output } = promtoolTest(rulesYaml, [{ ...seriesOverHour, exp_samples: [{ labels: '{}', value: -1 }] }]);
  const got = /got:\s*\{\}\s*([0-9.eE+]+)/.exec(output);
  if (status === 0 || !got) throw new Error(`expected promtool to report the measured count:\n${output}`);
  return Number(got[1]);
}

describe('destination bound over time', () => {
  // One evaluation holds the steady sites, MAX - STEADY tail sites, "(other)" and the gateway.
  const perEvaluation = MAX + 2;

  test('ranked by the hourly average with hysteresis (the default), a noisy tail keeps nearly the same names', () => {
    // GIVEN
    const steadied = rulesFor({ maxPerVendor: MAX });
    const afresh = rulesFor({ maxPerVendor: MAX, rankWindow: '5m', hysteresis: 0 });
    for (const rule of YAML.parse(steadied).groups.flatMap((g: any) => g.rules)) expect(promqlErrors(rule.expr)).toEqual([]);

    // WHEN
    const held = { steadied: measuredSeriesOverHour(steadied), afresh: measuredSeriesOverHour(afresh) };

    // THEN: ranked afresh, the list takes in most of the tail (the data is noisy enough for this test to fail);
    // steadied, the rule holds at most half as many names again as one evaluation does.
    expect(held.afresh).toBeGreaterThan(perEvaluation + (TAIL - (MAX - STEADY)) / 2);
    expect(held.steadied).toBeLessThanOrEqual(perEvaluation * 1.5);
  });

  test('nothing is lost: at every minute the bounded rule sums to every connection, and each evaluation holds the limit, the gateway and "(other)"', () => {
    // GIVEN
    const rules = rulesFor({ maxPerVendor: MAX });
    const minutes = Array.from({ length: (MINUTES - 10) / 10 }, (_, i) => 10 + i * 10);

    // WHEN
    const { status, output } = promtoolTest(rules, minutes.flatMap(m => [
      { expr: `round(1e9 * (sum(${tcp()}) - sum(rate(istio_tcp_connections_closed_total[5m]))))`, eval_time: `${m}m`, exp_samples: [{ labels: '{}', value: 0 }] },
      { expr: `count(${tcp()})`, eval_time: `${m}m`, exp_samples: [{ labels: '{}', value: perEvaluation }] },
      { expr: `count(${tcp(`destination="${GATEWAY}"`)})`, eval_time: `${m}m`, exp_samples: [{ labels: '{}', value: 1 }] },
      { expr: `count(${tcp(`destination="${OTHER_DESTINATION}"`)})`, eval_time: `${m}m`, exp_samples: [{ labels: '{}', value: 1 }] },
    ]));

    // THEN
    if (status !== 0) throw new Error(`promtool test rules failed:\n${output}`);
  });

  test('a new destination that leads is listed at its first rate, at its current value', () => {
    // GIVEN
    const rules = rulesFor({ maxPerVendor: MAX });
    const firstRate = NEWCOMER.from + 1;

    // WHEN: its 5-minute rate over its first two samples, extrapolated as rate() does, is its per-second rate.
    const { status, output } = promtoolTest(rules, [
      { expr: `count(${tcp(`destination="${NEWCOMER.host}"`)})`, eval_time: `${firstRate}m`, exp_samples: [{ labels: '{}', value: 1 }] },
      { expr: `round(${tcp(`destination="${NEWCOMER.host}"`)} * 60)`, eval_time: `${NEWCOMER.from + 10}m`,
        exp_samples: [{ labels: series('', { proxy_vendor: 'vendor-a', request_protocol: 'tcp', destination: NEWCOMER.host }), value: NEWCOMER.perMinute }] },
    ]);

    // THEN
    if (status !== 0) throw new Error(`promtool test rules failed:\n${output}`);
  });
});
