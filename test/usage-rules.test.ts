import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { MetricsStack } from '../lib/metrics-stack';
import { USAGE_JOB, USAGE_METRICS } from '../core/metric-contract';
import { RULE } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { checkRules, expectRuleTestsPass, PRODUCT_GROUP_ORDER } from './support/prometheus-config';
import { promqlErrors } from './support/promql';
import { PodRef, gatewayHttpSeries, series, tcpSeries } from './support/istio-series';

// GIVEN vendor-a behind a TCP gateway (billing both directions), vendor-b behind an inspected gateway billing downloads
// only, vendor-c direct, and a usage collector scraped by the stack.
const GW_A = 'gw.vendor-a.example';
const GW_B = 'proxy.vendor-b.example';
const vendors = new VendorCatalog([
  { name: 'vendor-a', endpoints: [`${GW_A}:8000`] },
  { name: 'vendor-b', endpoints: [`${GW_B}:22225`], gateway: { inspect: 'http' }, billedBytes: 'download' },
  { name: 'vendor-c' },
]);
const USAGE_SCRAPE = { job: USAGE_JOB, namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'proxy-usage-collector' }, portName: 'metrics', path: '/metrics' };
const rulesOf = (podScrapes: typeof USAGE_SCRAPE[]) =>
  new MetricsStack(Testing.chart(), 'metrics', { vendors, crawlerNamespaces: ['crawlers'], prometheus: { evaluationInterval: '1m', podScrapes } }).renderRules();
const rulesYaml = rulesOf([USAGE_SCRAPE]);
const records = (yaml: string): string[] => YAML.parse(yaml).groups.flatMap((g: any) => g.rules).map((r: any) => r.record ?? r.alert);

const KIB = 1024;
const a1: PodRef = { pod: 'crawler-vendor-a-5f7c9-aaaaa', vendor: 'vendor-a' };
const b1: PodRef = { pod: 'crawler-vendor-b-6d8e1-ccccc', vendor: 'vendor-b' };
const perSecond = (rate: number, minutes = 90) => `0+${rate * 60}x${minutes}`;
const collector = (name: string, vendor: string, account: string) => series(name, {
  job: USAGE_JOB, instance: '10.1.9.4:9466', namespace: 'monitoring', pod: 'proxy-usage-collector-7d9f8-xk2lp', proxy_vendor: vendor, account,
});

/** Scaled to integers: promtool 2.42 compares floats exactly. */
const SCALE = 1e6;
const at = (evalTime: string, expr: string, samples: Array<[Record<string, string>, number]>) => ({
  expr: `round(${expr} * ${SCALE})`, eval_time: evalTime,
  exp_samples: samples.map(([labels, value]) => ({ labels: series('', labels), value: Math.round(value * SCALE) })),
});

// vendor-a's collector restarts at minute 70 (its counter starts again at 0) and a revision takes back 60 KiB at minute 80.
const BILLED_A_PER_MINUTE = 200 * KIB * 60;
const billedA = [...Array.from({ length: 70 }, (_, i) => i * BILLED_A_PER_MINUTE), ...Array.from({ length: 21 }, (_, i) => i * BILLED_A_PER_MINUTE)].join(' ');
const WITHDRAWN_A = 60 * KIB;
const inputSeries = [
  // vendor-a's pod: 40 KiB/s up and 160 KiB/s down through its gateway, and 500 KiB/s from a site it reaches directly
  // over TLS, which the vendor never carries.
  { series: tcpSeries('istio_tcp_received_bytes_total', a1, { gateway: GW_A }), values: perSecond(40 * KIB) },
  { series: tcpSeries('istio_tcp_sent_bytes_total', a1, { gateway: GW_A }), values: perSecond(160 * KIB) },
  { series: tcpSeries('istio_tcp_sent_bytes_total', a1, { sni: 'www.example.org' }), values: perSecond(500 * KIB) },
  // vendor-b's pod through its inspected gateway: 10 KiB/s of requests, 90 KiB/s of responses.
  { series: gatewayHttpSeries('istio_request_bytes_sum', b1, GW_B, 'shop.example'), values: perSecond(10 * KIB) },
  { series: gatewayHttpSeries('istio_response_bytes_sum', b1, GW_B, 'shop.example'), values: perSecond(90 * KIB) },
  { series: collector(USAGE_METRICS.billedBytes, 'vendor-a', 'crawler'), values: billedA },
  { series: collector(USAGE_METRICS.withdrawnBytes, 'vendor-a', 'crawler'), values: `0x80 ${WITHDRAWN_A}x10` },
  { series: collector(USAGE_METRICS.billedBytes, 'vendor-b', 'crawler'), values: perSecond(90 * KIB) },
  { series: collector(USAGE_METRICS.withdrawnBytes, 'vendor-b', 'crawler'), values: '0x90' },
  { series: collector(USAGE_METRICS.billedRequests, 'vendor-b', 'crawler'), values: perSecond(3) },
  { series: collector(USAGE_METRICS.withdrawnRequests, 'vendor-b', 'crawler'), values: '0x90' },
];
const v = (vendor: string, extra: Record<string, string> = {}) => ({ proxy_vendor: vendor, ...extra });

describe('reconciliation rules', () => {
  test('exist only with a usage collector, parse as PromQL and pass promtool check rules', () => {
    const usageRules = [RULE.billedBytes, RULE.measuredBillableBytes, RULE.unmeasuredBilledBytes, RULE.billedBytes1h, RULE.billedToMeasured1d];
    expect(records(rulesYaml)).toEqual(expect.arrayContaining([...usageRules, 'ProxyVendorUsageOutsideFleet', 'ProxyUsageSourceStale']));
    // Their group runs every evaluation, and exists only with a collector.
    const usageGroup = (yaml: string) => YAML.parse(yaml).groups.find((g: any) => g.name === 'proxy-telemetry.usage');
    expect(usageGroup(rulesYaml)).toMatchObject({ rules: expect.arrayContaining([expect.objectContaining({ record: RULE.billedBytes })]) });
    expect(usageGroup(rulesYaml).interval).toBeUndefined();
    expect(usageGroup(rulesOf([]))).toBeUndefined();
    const without = records(rulesOf([]));
    for (const name of [...usageRules, RULE.gatewayBytes, 'ProxyVendorUsageOutsideFleet', 'ProxyUsageSourceStale']) expect(without).not.toContain(name);
    for (const rule of YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules)) expect({ rule: rule.record ?? rule.alert, errors: promqlErrors(rule.expr) }).toEqual({ rule: rule.record ?? rule.alert, errors: [] });
    expect(checkRules(rulesYaml, ['--lint=all', '--lint-fatal'])).toMatchObject({ status: 0 });
  });

  test('measured: bytes to each vendor\'s gateways as it bills them; billed: net of revisions, across a collector restart', () => {
    expectRuleTestsPass(rulesYaml, {
      evaluation_interval: '1m', group_eval_order: PRODUCT_GROUP_ORDER,
      tests: [{
        interval: '1m',
        input_series: inputSeries,
        promql_expr_test: [
          // Direct TLS is not the vendor's; vendor-b bills its responses only.
          at('20m', RULE.gatewayBytes, [
            [v('vendor-a', { direction: 'received' }), 160 * KIB], [v('vendor-a', { direction: 'sent' }), 40 * KIB],
            [v('vendor-b', { direction: 'received' }), 90 * KIB], [v('vendor-b', { direction: 'sent' }), 10 * KIB],
          ]),
          at('20m', RULE.measuredBillableBytes, [[v('vendor-a'), 200 * KIB], [v('vendor-b'), 90 * KIB]]),
          at('20m', RULE.billedBytes, [[v('vendor-a'), 200 * KIB], [v('vendor-b'), 90 * KIB]]),
          at('20m', RULE.billedAccountBytes, [[v('vendor-a', { account: 'crawler' }), 200 * KIB], [v('vendor-b', { account: 'crawler' }), 90 * KIB]]),
          at('20m', RULE.billedRequests, [[v('vendor-b'), 3]]),
          at('20m', RULE.unmeasuredBilledBytes, [[v('vendor-a'), 0], [v('vendor-b'), 0]]),
          // The hour to minute 90: the restart at minute 70 loses its own minute (the counter starts again at 0), the
          // revision's 60 KiB come off; measured is the hour's average of 200 KiB/s.
          at('90m', RULE.billedBytes1h, [[v('vendor-a'), 59 * BILLED_A_PER_MINUTE - WITHDRAWN_A], [v('vendor-b'), 3600 * 90 * KIB]]),
          at('90m', RULE.measuredBillableBytes1h, [[v('vendor-a'), 3600 * 200 * KIB], [v('vendor-b'), 3600 * 90 * KIB]]),
          at('90m', RULE.billedToMeasured1h, [[v('vendor-a'), (59 * BILLED_A_PER_MINUTE - WITHDRAWN_A) / (3600 * 200 * KIB)], [v('vendor-b'), 1]]),
          at('90m', RULE.billedRequests1h, [[v('vendor-b'), 3600 * 3]]),
        ],
      }],
    });
  });
});
