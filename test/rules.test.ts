import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { MetricsStack } from '../lib/metrics-stack';
import { RULE } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { checkRules, expectRuleTestsPass, PRODUCT_GROUP_ORDER, promtoolTestRules } from './support/prometheus-config';
import { promqlErrors } from './support/promql';
import { PodRef, gatewayHttpSeries, httpSeries, series, tcpSeries } from './support/istio-series';

// GIVEN a stack whose vendors exercise every rule: prices and budgets on vendor-a (TCP gateway), per-request price
// on vendor-b, vendor-c with TCP traffic only, and vendor-d through an inspected gateway.
const GIB = 1024 ** 3;
const GW_D = 'proxy.vendor-d.example';
const vendors = new VendorCatalog([
  { name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000'], pricePerGiB: 4, monthlyBudget: 100, monthlyTrafficBudgetGiB: 10 },
  { name: 'vendor-b', pricePer1kRequests: 0.5 },
  { name: 'vendor-c' },
  { name: 'vendor-d', endpoints: [`${GW_D}:22225`], gateway: { inspect: 'http' } },
]);
const stack = new MetricsStack(Testing.chart(), 'metrics', { vendors, crawlerNamespaces: ['crawlers'], prometheus: { evaluationInterval: '1m' } });
const rulesYaml = stack.renderRules();

const a1: PodRef = { pod: 'crawler-vendor-a-5f7c9-aaaaa', vendor: 'vendor-a' };
const a2: PodRef = { pod: 'crawler-vendor-a-5f7c9-bbbbb', vendor: 'vendor-a' };
const b1: PodRef = { pod: 'crawler-vendor-b-6d8e1-ccccc', vendor: 'vendor-b' };
const c1: PodRef = { pod: 'crawler-vendor-c-7a2b3-ddddd', vendor: 'vendor-c' };
const decoy: PodRef = { pod: 'batch-job-77d4f-xyz12' };

/** promtool's expanding notation: `start+step x n`, one sample a minute. */
const perSecond = (rate: number, minutes = 90) => `0+${rate * 60}x${minutes}`;
const UP = (p: PodRef, job = 'crawler-sidecars') => series('up', { job, instance: '10.1.0.7:15090', namespace: 'crawlers', pod: p.pod, ...(p.vendor ? { proxy_vendor: p.vendor } : {}) });

interface Sample { labels: string; value: number }
/**
 * promtool 2.42 compares floats exactly, and rate() arithmetic leaves 0.30000000000000004 where 0.3 is
 * meant; expectations are therefore compared as integers in units of 1e-9 (see `at`).
 */
const SCALE = 1e9;
const sample = (labels: Record<string, string>, value: number): Sample =>
  ({ labels: series('', labels), value: Math.round(value * SCALE) });

const ruleTests = (tests: unknown[]) => ({ evaluation_interval: '1m', group_eval_order: PRODUCT_GROUP_ORDER, tests });
const runPromtoolTests = (tests: unknown[]) => promtoolTestRules(rulesYaml, ruleTests(tests));
const expectPromtoolPass = (tests: unknown[]) => expectRuleTestsPass(rulesYaml, ruleTests(tests));

describe('recording rules', () => {
  test('the PromQL parser reports a broken expression, so the check below can fail', () => {
    expect(promqlErrors('sum by (proxy_vendor (rate(x[5m]))')).not.toEqual([]);
  });

  test('every rule and alert expression parses as PromQL, and promtool accepts the rule file', () => {
    const groups = YAML.parse(rulesYaml).groups;
    for (const rule of groups.flatMap((g: any) => g.rules)) {
      expect({ rule: rule.record ?? rule.alert, errors: promqlErrors(rule.expr) }).toEqual({ rule: rule.record ?? rule.alert, errors: [] });
    }
    expect(checkRules(rulesYaml)).toMatchObject({ status: 0 });
  });

  test('the rule file matches the snapshot and names every contract rule', () => {
    expect(rulesYaml).toMatchSnapshot();
    const records = YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules.map((r: any) => r.record)).filter(Boolean);
    for (const name of [RULE.requests, RULE.destinationRequests, RULE.destinationTotal, RULE.podSentBytes, RULE.podReceivedBytes]) {
      expect(records).toContain(name);
    }
  });

  test('the totals run every evaluation (and the usage group, with a collector); destinations, latency, scrape health and the vendor model every second one; cost every 5 minutes', () => {
    const intervals = (yaml: string) => Object.fromEntries(YAML.parse(yaml).groups.map((g: { name: string; interval?: string }) => [g.name, g.interval ?? 'global']));
    // This stack evaluates every minute.
    expect(intervals(rulesYaml)).toEqual({
      'proxy-telemetry.rules': 'global',
      'proxy-telemetry.destinations': '2m',
      'proxy-telemetry.latency': '2m',
      'proxy-telemetry.scrape': '2m',
      'proxy-telemetry.vendors': '2m',
      'proxy-telemetry.cost': '5m',
      'proxy-telemetry.alerts': 'global',
    });
    // The default 30 s: 1m; 15 s: 30s.
    const every30s = new MetricsStack(Testing.chart(), 'm', { vendors, crawlerNamespaces: ['crawlers'] });
    expect(intervals(every30s.renderRules())).toMatchObject({ 'proxy-telemetry.rules': 'global', 'proxy-telemetry.destinations': '1m', 'proxy-telemetry.scrape': '1m' });
    const every15s = new MetricsStack(Testing.chart(), 'm', { vendors, crawlerNamespaces: ['crawlers'], prometheus: { evaluationInterval: '15s' } });
    expect(intervals(every15s.renderRules())).toMatchObject({ 'proxy-telemetry.destinations': '30s', 'proxy-telemetry.vendors': '30s', 'proxy-telemetry.cost': '5m' });
  });

  /**
   * The series of HTTP traffic: istio_requests_total by host (destinations), the request-size histogram's count by
   * response code (requests) and sum (upload), the response-size sum (download). `values` gives each its own ramp.
   */
  const http = (p: PodRef, host: string, rps: number, up: number, down: number, code = 200, values = perSecond) => [
    { series: httpSeries('istio_requests_total', p, host, code), values: values(rps) },
    { series: httpSeries('istio_request_bytes_count', p, host, code), values: values(rps) },
    { series: httpSeries('istio_request_bytes_sum', p, host, code), values: values(up) },
    { series: httpSeries('istio_response_bytes_sum', p, host, code), values: values(down) },
  ];
  /** The series of TCP traffic: connections opened (totals) and closed (by SNI), bytes both ways. */
  const tcp = (p: PodRef, dest: { sni?: string; gateway?: string }, cps: number, up: number, down: number) => [
    { series: tcpSeries('istio_tcp_connections_opened_total', p, { gateway: dest.gateway }), values: perSecond(cps) },
    { series: tcpSeries('istio_tcp_connections_closed_total', p, dest), values: perSecond(cps) },
    { series: tcpSeries('istio_tcp_received_bytes_total', p, { gateway: dest.gateway }), values: perSecond(up) },
    { series: tcpSeries('istio_tcp_sent_bytes_total', p, { gateway: dest.gateway }), values: perSecond(down) },
  ];
  /** Counters of a sidecar that restarts at minute 6: they start again from 0. */
  const restartsAt6 = (rate: number) => `0+${rate * 60}x5 ${rate * 60}+${rate * 60}x85`;

  // Traffic of the scenario, per second: see each expectation below for the arithmetic.
  const inputSeries = [
    // vendor-a, pod a1: HTTP/1.1 to example.com, 2 req/s, 200 B/s up, 10000 B/s down.
    ...http(a1, 'example.com', 2, 200, 10000),
    // pod a1 also tunnels (CONNECT) through vendor-a's TCP gateway: 0.1 conn/s, 20 B/s up, 1000 B/s down.
    ...tcp(a1, { gateway: 'gw.vendor-a.example' }, 0.1, 20, 1000),
    // Inbound traffic to pod a1 (reporter="destination") is not the crawler's proxy usage.
    { series: httpSeries('istio_request_bytes_count', a1, 'example.com', 200, { reporter: 'destination' }), values: perSecond(100) },
    // pod a2: HTTP/2 to www.wikipedia.org, 1 req/s 200 + 0.5 req/s 404; 100 B/s up, 5000 B/s down.
    ...http(a2, 'www.wikipedia.org', 1, 100, 5000),
    ...http(a2, 'www.wikipedia.org', 0.5, 0, 0, 404),
    { series: httpSeries('istio_request_duration_milliseconds_bucket', a2, 'www.wikipedia.org', 200, { le: '100' }), values: perSecond(1) },
    // vendor-b, pod b1: 1 req/s to httpbin.org; its sidecar restarts at minute 6 (counters start again).
    ...http(b1, 'httpbin.org', 1, 50, 500, 200, restartsAt6),
    // vendor-c, pod c1: HTTPS only (TCP to the sidecar). With SNI: 0.2 conn/s, 100 B/s up, 5000 B/s down, and TLS
    // without SNI: 0.1 conn/s, 10 B/s up, 100 B/s down. The totals carry no SNI: the sidecar sums both in one series each.
    ...tcp(c1, {}, 0.3, 110, 5100).filter(s => !s.series.startsWith('istio_tcp_connections_closed_total')),
    { series: tcpSeries('istio_tcp_connections_closed_total', c1, { sni: 'www.example.org' }), values: perSecond(0.2) },
    { series: tcpSeries('istio_tcp_connections_closed_total', c1, {}), values: perSecond(0.1) },
    // A decoy pod without the proxy-vendor label: 1 req/s, 10 B/s up, 100 + 10 B/s down.
    ...http(decoy, 'example.com', 1, 10, 100),
    { series: tcpSeries('istio_tcp_sent_bytes_total', decoy, { sni: 'example.com' }), values: perSecond(10) },
    ...[a1, a2, b1, c1, decoy].flatMap(p => [{ series: UP(p), values: '1x90' }, { series: UP(p, 'crawler-destinations'), values: '1x90' }]),
  ];

  const at = (evalTime: string, expr: string, expSamples: Sample[]) => ({ expr: `round(${expr} * ${SCALE})`, eval_time: evalTime, exp_samples: expSamples });
  const v = (vendor: string, extra: Record<string, string> = {}) => ({ proxy_vendor: vendor, ...extra });

  test('contract rules match the traffic: HTTP/1.1 + HTTP/2, TCP-only vendor, tunnels, resets, decoys, byte directions', () => {
    // WHEN / THEN
    expectPromtoolPass([{
      interval: '1m',
      input_series: inputSeries,
      promql_expr_test: [
        // HTTP requests (both HTTP versions) and TCP connections, told apart by request_protocol.
        at('10m', RULE.requests, [
          sample(v('vendor-a', { request_protocol: 'http' }), 3.5),
          sample(v('vendor-a', { request_protocol: 'tcp' }), 0.1),
          sample(v('vendor-b', { request_protocol: 'http' }), 1),
          sample(v('vendor-c', { request_protocol: 'tcp' }), 0.3),
        ]),
        // Destination: Host header for HTTP, SNI for TLS, the gateway for tunnels, "unknown" without SNI.
        at('10m', RULE.destinationRequests, [
          sample(v('vendor-a', { destination: 'example.com', request_protocol: 'http' }), 2),
          sample(v('vendor-a', { destination: 'gw.vendor-a.example', request_protocol: 'tcp' }), 0.1),
          sample(v('vendor-a', { destination: 'www.wikipedia.org', request_protocol: 'http' }), 1.5),
          sample(v('vendor-b', { destination: 'httpbin.org', request_protocol: 'http' }), 1),
          sample(v('vendor-c', { destination: 'unknown', request_protocol: 'tcp' }), 0.1),
          sample(v('vendor-c', { destination: 'www.example.org', request_protocol: 'tcp' }), 0.2),
        ]),
        // The destinations summed per vendor: the vendor's requests and connections again.
        at('10m', RULE.destinationTotal, [
          sample(v('vendor-a', { request_protocol: 'http' }), 3.5),
          sample(v('vendor-a', { request_protocol: 'tcp' }), 0.1),
          sample(v('vendor-b', { request_protocol: 'http' }), 1),
          sample(v('vendor-c', { request_protocol: 'tcp' }), 0.3),
        ]),
        // Upload = request bytes + bytes the sidecar received from the app.
        at('10m', RULE.podSentBytes, [
          sample(v('vendor-a', { namespace: 'crawlers', pod: a1.pod }), 220),
          sample(v('vendor-a', { namespace: 'crawlers', pod: a2.pod }), 100),
          sample(v('vendor-b', { namespace: 'crawlers', pod: b1.pod }), 50),
          sample(v('vendor-c', { namespace: 'crawlers', pod: c1.pod }), 110),
        ]),
        // Download = response bytes + bytes the sidecar sent to the app.
        at('10m', RULE.podReceivedBytes, [
          sample(v('vendor-a', { namespace: 'crawlers', pod: a1.pod }), 11000),
          sample(v('vendor-a', { namespace: 'crawlers', pod: a2.pod }), 5000),
          sample(v('vendor-b', { namespace: 'crawlers', pod: b1.pod }), 500),
          sample(v('vendor-c', { namespace: 'crawlers', pod: c1.pod }), 5100),
        ]),
        at('10m', RULE.vendorSentBytes, [
          sample(v('vendor-a'), 320), sample(v('vendor-b'), 50), sample(v('vendor-c'), 110),
        ]),
        at('10m', RULE.vendorReceivedBytes, [
          sample(v('vendor-a'), 16000), sample(v('vendor-b'), 500), sample(v('vendor-c'), 5100),
        ]),
        at('10m', RULE.responseCodes, [
          sample(v('vendor-a', { response_code: '200' }), 3),
          sample(v('vendor-a', { response_code: '404' }), 0.5),
          sample(v('vendor-b', { response_code: '200' }), 1),
        ]),
        // vendor-b has no errors: 0, not a missing series. vendor-c has no HTTP at all: no ratio.
        at('10m', RULE.errorRatio, [
          sample(v('vendor-a'), 0.5 / 3.5),
          sample(v('vendor-b'), 0),
        ]),
        at('10m', RULE.durationBuckets, [sample(v('vendor-a', { le: '100' }), 1)]),
        at('10m', RULE.crawlerPods, [
          sample(v('vendor-a'), 2), sample(v('vendor-b'), 1), sample(v('vendor-c'), 1),
        ]),
        // Connections to vendor-a's gateway, by the gateway host.
        at('10m', RULE.gatewayRequests, [sample(v('vendor-a', { gateway: 'gw.vendor-a.example', request_protocol: 'tcp' }), 0.1)]),
        // The decoy's bytes are visible, but under no vendor.
        at('10m', RULE.unattributedBytes, [sample({ namespace: 'crawlers' }, 120)]),
        // 1h windows once an hour of data exists.
        at('70m', RULE.bytes1h, [
          sample(v('vendor-a'), 16320), sample(v('vendor-b'), 550), sample(v('vendor-c'), 5210),
        ]),
        at('70m', RULE.requests1h, [
          sample(v('vendor-a'), 3.6), sample(v('vendor-b'), 1), sample(v('vendor-c'), 0.3),
        ]),
        // vendor-a pays per GiB, vendor-b per 1,000 requests, vendor-c has no price.
        at('70m', RULE.spend1h, [
          sample(v('vendor-a'), 16320 * 4 / GIB),
          sample(v('vendor-b'), 1 * 0.5 / 1000),
        ]),
        at('0m', RULE.monthlyTrafficBudgetBytes, [sample(v('vendor-a'), 10 * GIB)]),
      ],
    }]);
  });

  test('through an inspected gateway: target hosts as destinations (a CONNECT\'s :443 dropped), the gateway in the gateway rule', () => {
    const d1: PodRef = { pod: 'crawler-vendor-d-8b3c4-eeeee', vendor: 'vendor-d' };
    expectPromtoolPass([{
      interval: '1m',
      input_series: [
        // Tunnels: one request each, recorded with the CONNECT's authority; absolute-form requests with the URL's host.
        { series: gatewayHttpSeries('istio_requests_total', d1, GW_D, 'www.example.net:443'), values: perSecond(0.6) },
        { series: gatewayHttpSeries('istio_requests_total', d1, GW_D, 'example.com'), values: perSecond(2) },
        // The totals: requests by the gateway's answer (a refused CONNECT is a 407), bytes.
        { series: gatewayHttpSeries('istio_request_bytes_count', d1, GW_D, 'www.example.net:443'), values: perSecond(2.5) },
        { series: gatewayHttpSeries('istio_request_bytes_count', d1, GW_D, 'www.example.net:443', 407), values: perSecond(0.1) },
        { series: gatewayHttpSeries('istio_request_bytes_sum', d1, GW_D, 'www.example.net:443'), values: perSecond(300) },
        { series: gatewayHttpSeries('istio_response_bytes_sum', d1, GW_D, 'www.example.net:443'), values: perSecond(48000) },
        // A closed TCP connection whose host expression failed ("unknown") and that has an SNI: the SNI names it.
        { series: tcpSeries('istio_tcp_connections_closed_total', d1, { sni: 'api.example.org' }, { destination_host: 'unknown' }), values: perSecond(0.2) },
        // A vendor-a pod through vendor-a's TCP gateway.
        { series: tcpSeries('istio_tcp_connections_opened_total', a1, { gateway: 'gw.vendor-a.example' }), values: perSecond(0.1) },
        ...[d1, a1].map(p => ({ series: UP(p, 'crawler-destinations'), values: '1x30' })),
      ],
      promql_expr_test: [
        at('10m', `${RULE.destinationRequests}{proxy_vendor="vendor-d"}`, [
          sample(v('vendor-d', { destination: 'api.example.org', request_protocol: 'tcp' }), 0.2),
          sample(v('vendor-d', { destination: 'example.com', request_protocol: 'http' }), 2),
          sample(v('vendor-d', { destination: 'www.example.net', request_protocol: 'http' }), 0.6),
        ]),
        at('10m', RULE.responseCodes, [sample(v('vendor-d', { response_code: '200' }), 2.5), sample(v('vendor-d', { response_code: '407' }), 0.1)]),
        at('10m', RULE.gatewayRequests, [
          sample(v('vendor-a', { gateway: 'gw.vendor-a.example', request_protocol: 'tcp' }), 0.1),
          sample(v('vendor-d', { gateway: GW_D, request_protocol: 'http' }), 2.6),
        ]),
      ],
    }]);
  });

  test('a wrong expectation fails promtool, so the tests above can fail', () => {
    const { status, output } = runPromtoolTests([{
      interval: '1m',
      input_series: inputSeries,
      // Swapped byte directions: the classic bug.
      promql_expr_test: [at('10m', RULE.podSentBytes + `{pod="${c1.pod}"}`, [sample(v('vendor-c', { namespace: 'crawlers', pod: c1.pod }), 5100)])],
    }]);
    expect(status).not.toBe(0);
    expect(output).toContain('FAILED');
  });
});
