import { Testing } from 'cdk8s';
import { validateLikeApp } from './support/synth';
import { getDomain } from 'tldts';
import * as YAML from 'yaml';
import { countryCodeSecondLevelSuffixes } from '../lib/internal/public-suffixes';
import { NOT_MEASURED_DESTINATION, OTHER_DESTINATION } from '../core/metric-contract';
import { RULE } from '../core/rules';
import { registrableDomainRegex } from '../core/destinations';
import { MetricsStack } from '../lib/metrics-stack';
import { MetricsStackProps } from '../lib/metrics/metrics-stack-props';
import { VendorCatalog } from '../core/vendor';
import { PodRef, httpSeries, series, tcpSeries } from './support/istio-series';
import { PRODUCT_GROUP_ORDER, promtoolTestRules } from './support/prometheus-config';
import { promqlErrors } from './support/promql';

/**
 * The destination guard: folding hosts to their registrable domain and keeping the top N destinations per
 * vendor, the rest summed into "(other)", evaluated by promtool on Istio's exact label sets. Vendor gateways and
 * "(not measured)" are never folded nor ranked away, and no request is lost: the bounded rule sums to the vendor
 * totals, including the requests of a pod whose destination scrape fails.
 */

const GATEWAY = 'gw.vendor-a.example';
const vendors = new VendorCatalog([{ name: 'vendor-a', endpoints: [`${GATEWAY}:8000`] }, { name: 'vendor-b' }]);
const stack = (destinations: MetricsStackProps['destinations']) =>
  new MetricsStack(Testing.chart(), 'metrics', { vendors, crawlerNamespaces: ['crawlers'], destinations, prometheus: { evaluationInterval: '1m' } });

const a1: PodRef = { pod: 'crawler-vendor-a-5f7c9-aaaaa', vendor: 'vendor-a' };
const b1: PodRef = { pod: 'crawler-vendor-b-6d8e1-bbbbb', vendor: 'vendor-b' };
/** A pod of vendor-b that reaches too many hosts: its destination scrape fails, its totals are scraped. */
const b2: PodRef = { pod: 'crawler-vendor-b-6d8e1-broad', vendor: 'vendor-b' };
const perSecond = (rate: number) => `0+${rate * 60}x30`;
const SCALE = 1e9;

/** vendor-a: HTTP requests/s per host, TLS connections/s per SNI, a tunnel to its gateway; vendor-b: one host. */
const HTTP_A: Record<string, number> = {
  'www.bbc.co.uk': 3, 'news.bbc.co.uk': 1, 'a.b.example.com': 2, 'example.com': 1,
  'shop.example.com.au': 0.5, '10.1.2.3': 0.25, 'Example.org:8080': 0.125,
};
const up = (p: PodRef, job: string, value: 0 | 1) =>
  ({ series: series('up', { job, instance: '10.1.0.7:15090', namespace: 'crawlers', pod: p.pod, proxy_vendor: p.vendor! }), values: `${value}x30` });
/** Totals (request counts and bytes, connections opened) carry no destination; destinations are on the destination job's counters. */
const inputSeries = [
  ...Object.entries(HTTP_A).flatMap(([host, rps]) => [
    { series: httpSeries('istio_requests_total', a1, host), values: perSecond(rps) },
    { series: httpSeries('istio_request_bytes_count', a1, host), values: perSecond(rps) },
    { series: httpSeries('istio_request_bytes_sum', a1, host), values: perSecond(rps * 100) },
    { series: httpSeries('istio_response_bytes_sum', a1, host), values: perSecond(rps * 1000) },
  ]),
  { series: tcpSeries('istio_tcp_connections_closed_total', a1, { sni: 'img.cdn.example.com' }), values: perSecond(0.5) },
  { series: tcpSeries('istio_tcp_connections_closed_total', a1, {}), values: perSecond(0.25) },
  { series: tcpSeries('istio_tcp_connections_closed_total', a1, { gateway: GATEWAY }), values: perSecond(0.125) },
  { series: tcpSeries('istio_tcp_connections_opened_total', a1, {}), values: perSecond(0.75) },
  { series: tcpSeries('istio_tcp_connections_opened_total', a1, { gateway: GATEWAY }), values: perSecond(0.125) },
  { series: tcpSeries('istio_tcp_sent_bytes_total', a1, { gateway: GATEWAY }), values: perSecond(10) },
  { series: httpSeries('istio_requests_total', b1, 'www.wikipedia.org'), values: perSecond(1) },
  { series: httpSeries('istio_request_bytes_count', b1, 'www.wikipedia.org'), values: perSecond(1) },
  { series: httpSeries('istio_request_bytes_sum', b1, 'www.wikipedia.org'), values: perSecond(100) },
  { series: httpSeries('istio_response_bytes_sum', b1, 'www.wikipedia.org'), values: perSecond(1000) },
  // The broad pod: 2 requests/s and 0.5 TLS connections/s counted in its totals, nothing from its destination job.
  { series: httpSeries('istio_request_bytes_count', b2, 'example.net'), values: perSecond(2) },
  { series: tcpSeries('istio_tcp_connections_opened_total', b2, {}), values: perSecond(0.5) },
  ...[a1, b1, b2].map(p => up(p, 'crawler-sidecars', 1)),
  ...[a1, b1].map(p => up(p, 'crawler-destinations', 1)),
  up(b2, 'crawler-destinations', 0),
];

const promtoolTest = (rulesYaml: string, tests: unknown[]) => promtoolTestRules(rulesYaml, {
  evaluation_interval: '1m', group_eval_order: PRODUCT_GROUP_ORDER,
  tests: [{ interval: '1m', input_series: inputSeries, promql_expr_test: tests }],
});

const at = (expr: string, samples: Array<[Record<string, string>, number]>) => ({
  expr: `round(${expr} * ${SCALE})`, eval_time: '10m',
  exp_samples: samples.map(([labels, value]) => ({ labels: series('', labels), value: Math.round(value * SCALE) })),
});
const a = (extra: Record<string, string>) => ({ proxy_vendor: 'vendor-a', ...extra });
const b = (extra: Record<string, string>) => ({ proxy_vendor: 'vendor-b', ...extra });

describe('destination guard', () => {
  test('registrable-domain fold and top 2 per vendor: subdomains summed, the rest in "(other)", the gateway pinned, nothing lost', () => {
    // GIVEN
    const metrics = stack({ fold: 'registrable-domain', maxPerVendor: 2 });
    const rules = metrics.renderRules();
    expect(metrics.destinations).toMatchObject({ fold: 'registrable-domain', maxPerVendor: 2, pinned: [NOT_MEASURED_DESTINATION, GATEWAY] });
    for (const rule of YAML.parse(rules).groups.flatMap((g: any) => g.rules)) expect(promqlErrors(rule.expr)).toEqual([]);

    // WHEN / THEN
    const { status, output } = promtoolTest(rules, [
      // HTTP: bbc.co.uk 3+1, example.com 2+1 lead; example.com.au 0.5, the IP 0.25 and the host with a port
      // 0.125 (neither folded) are summed into "(other)". TCP: the gateway is kept though it is the smallest.
      at(RULE.destinationRequests, [
        [a({ destination: 'bbc.co.uk', request_protocol: 'http' }), 4],
        [a({ destination: 'example.com', request_protocol: 'http' }), 3],
        [a({ destination: OTHER_DESTINATION, request_protocol: 'http' }), 0.875],
        [a({ destination: 'example.com', request_protocol: 'tcp' }), 0.5],
        [a({ destination: 'unknown', request_protocol: 'tcp' }), 0.25],
        [a({ destination: GATEWAY, request_protocol: 'tcp' }), 0.125],
        [b({ destination: 'wikipedia.org', request_protocol: 'http' }), 1],
        // The broad pod's totals, where its destinations are not known.
        [b({ destination: NOT_MEASURED_DESTINATION, request_protocol: 'http' }), 2],
        [b({ destination: NOT_MEASURED_DESTINATION, request_protocol: 'tcp' }), 0.5],
      ]),
      // Nothing lost: the bounded rule adds up to the per-vendor totals.
      at(`sum by (proxy_vendor) (${RULE.destinationRequests})`, [[{ proxy_vendor: 'vendor-a' }, 8.75], [{ proxy_vendor: 'vendor-b' }, 3.5]]),
      at(`sum by (proxy_vendor) (${RULE.requests})`, [[{ proxy_vendor: 'vendor-a' }, 8.75], [{ proxy_vendor: 'vendor-b' }, 3.5]]),
    ]);
    if (status !== 0) throw new Error(`promtool test rules failed:\n${output}`);
  });

  test('no fold, top 200 (the default): every host by name, no "(other)" below the limit', () => {
    const metrics = stack(undefined);
    expect(metrics.destinations).toEqual({ fold: 'none', maxPerVendor: 200, pinned: [NOT_MEASURED_DESTINATION, GATEWAY], publicSuffixes: [], rankWindow: '1h', hysteresis: 0.5 });
    const { status, output } = promtoolTest(metrics.renderRules(), [
      at(`count by (proxy_vendor, request_protocol) (${RULE.destinationRequests})`, [
        [a({ request_protocol: 'http' }), 7], [a({ request_protocol: 'tcp' }), 3], [b({ request_protocol: 'http' }), 2], [b({ request_protocol: 'tcp' }), 1],
      ]),
      at(`${RULE.destinationRequests}{destination="www.bbc.co.uk"}`, [[a({ destination: 'www.bbc.co.uk', request_protocol: 'http' }), 3]]),
    ]);
    if (status !== 0) throw new Error(`promtool test rules failed:\n${output}`);
  });

  test('a wrong expectation fails promtool, so the tests above can fail', () => {
    const { status } = promtoolTest(stack({ fold: 'registrable-domain' }).renderRules(), [
      at(RULE.destinationRequests + '{destination="bbc.co.uk"}', [[a({ destination: 'bbc.co.uk', request_protocol: 'http' }), 3]]),
    ]);
    expect(status).not.toBe(0);
  });

  test('the fold regex gives the Public Suffix List\'s registrable domain for every listed suffix, and says where it does not', () => {
    // GIVEN the regex as Prometheus reads it (label_replace anchors it; JS and RE2 agree on lazy/alternation order)
    const suffixes = countryCodeSecondLevelSuffixes();
    expect(suffixes.length).toBeGreaterThan(1000);
    expect(suffixes).toEqual(expect.arrayContaining(['co.uk', 'com.au', 'co.jp', 'com.br', 'gov.in']));
    const source = registrableDomainRegex(suffixes).replace(/\\\\/g, '\\').replace('(?i)', '');
    const re = new RegExp(`^(?:${source})$`, 'i');
    const fold = (host: string) => host.replace(re, '$1');

    // THEN
    for (const suffix of suffixes) {
      const host = `www.shop.${suffix}`;
      expect({ host, folded: fold(host) }).toEqual({ host, folded: getDomain(host) });
    }
    for (const host of ['example.com', 'www.example.com', 'a.b.c.example.org', 'www.wikipedia.org', 'news.bbc.co.uk', 'www.amazon.co.jp', 'x.y.example.com.br']) {
      expect({ host, folded: fold(host) }).toEqual({ host, folded: getDomain(host) });
    }
    for (const host of ['unknown', '10.1.2.3', 'example.com:8080', OTHER_DESTINATION, NOT_MEASURED_DESTINATION, 'localhost']) expect(fold(host)).toBe(host);
    // The documented approximation: suffixes outside the list fold to their last two labels.
    expect({ folded: fold('x.city.kawasaki.jp'), psl: getDomain('x.city.kawasaki.jp') }).toEqual({ folded: 'kawasaki.jp', psl: 'city.kawasaki.jp' });
  });

  test.each([
    [{ fold: 'tld' as any }, '\'destinations.fold\' ("tld") must be \'none\' or \'registrable-domain\''],
    [{ maxPerVendor: -1 }, '\'destinations.maxPerVendor\' (-1) must be >= 0'],
    [{ maxPerVendor: 2.5 }, '\'destinations.maxPerVendor\' (2.5) must be a whole number'],
    [{ rankWindow: '1m' }, '\'destinations.rankWindow\' ("1m") must be between \'5m\' (the rate window) and \'24h\''],
    [{ rankWindow: '2d' }, '\'destinations.rankWindow\' ("2d") must be between \'5m\' (the rate window) and \'24h\''],
    [{ rankWindow: 'hourly' }, '\'destinations.rankWindow\' ("hourly") must be a Prometheus duration'],
    [{ hysteresis: -0.1 }, '\'destinations.hysteresis\' (-0.1) must be >= 0'],
    [{ hysteresis: 5 }, '\'destinations.hysteresis\' (5) must be <= 4'],
    [{ extraPublicSuffixes: ['uk'] }, '\'destinations.extraPublicSuffixes[0]\' ("uk") must have at least two labels'],
    [{ extraPublicSuffixes: ['Co.UK'] }, '\'destinations.extraPublicSuffixes[0]\' ("Co.UK") must be a DNS name'],
  ])('rejects %j', (destinations, message) => {
    expect(() => validateLikeApp(stack(destinations))).toThrow(message);
  });

  test('hysteresis needs the top list evaluated within Prometheus\' 5-minute lookback, where it reads its previous list', () => {
    const withInterval = (evaluationInterval: string, destinations?: MetricsStackProps['destinations']) => () => validateLikeApp(
      new MetricsStack(Testing.chart(), 'metrics', { vendors, crawlerNamespaces: ['crawlers'], destinations, prometheus: { evaluationInterval } }));
    expect(withInterval('2m30s')).toThrow('\'destinations.hysteresis\' (0.5) needs the destination rules evaluated more often than every 5 minutes (every 300 s with \'prometheus.evaluationInterval\' 2m30s)');
    expect(withInterval('2m')).not.toThrow();
    expect(withInterval('2m30s', { hysteresis: 0 })).not.toThrow();
  });
});
