import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { MetricsStack } from '../lib/metrics-stack';
import { DEFAULT_RUNBOOK_URL, alertGroups, resolveAlertOptions } from '../core/alerts';
import { VendorCatalog } from '../core/vendor';
import { checkRules, PRODUCT_GROUP_ORDER, promtoolTestRules } from './support/prometheus-config';
import { PodRef, gatewayHttpSeries, httpSeries, series, tcpSeries } from './support/istio-series';
import { USAGE_JOB, USAGE_METRICS } from '../core/metric-contract';

// GIVEN the default thresholds and a vendor model with a TCP gateway (a), an inspected gateway (b) and direct traffic (c).
const GW_A = 'gw.vendor-a.example';
const GW_B = 'proxy.vendor-b.example';
const vendors = new VendorCatalog([
  { name: 'vendor-a', endpoints: [`${GW_A}:8000`], pricePerGiB: 4, monthlyBudget: 100, monthlyTrafficBudgetGiB: 10 },
  { name: 'vendor-b', endpoints: [`${GW_B}:22225`, `${GW_B}:22226`], gateway: { inspect: 'http' } },
  { name: 'vendor-c' },
]);
// A usage collector scraped, so that the reconciliation alerts are generated too.
const USAGE_SCRAPE = { job: USAGE_JOB, namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'proxy-usage-collector' }, portName: 'metrics', path: '/metrics' };
const rulesYaml = new MetricsStack(Testing.chart(), 'metrics', { vendors, crawlerNamespaces: ['crawlers'], prometheus: { evaluationInterval: '1m', podScrapes: [USAGE_SCRAPE] } }).renderRules();

const a1: PodRef = { pod: 'crawler-vendor-a-5f7c9-aaaaa', vendor: 'vendor-a' };
const b1: PodRef = { pod: 'crawler-vendor-b-6d8e1-ccccc', vendor: 'vendor-b' };
const c1: PodRef = { pod: 'crawler-vendor-c-7a2b3-ddddd', vendor: 'vendor-c' };
const perSecond = (rate: number, minutes = 90) => `0+${rate * 60}x${minutes}`;
/** `rate` per second for `minutes`, then `then` per second for the rest of 90 minutes. */
const stepUp = (rate: number, minutes: number, then: number) => `0+${rate * 60}x${minutes} ${rate * 60 * minutes + then * 60}+${then * 60}x${89 - minutes}`;
/** A series of the usage collector for a vendor (and account). */
const usage = (name: string, vendor: string, account?: string) => series(name, {
  job: USAGE_JOB, instance: '10.1.9.4:9466', namespace: 'monitoring', pod: 'proxy-usage-collector-7d9f8-xk2lp', proxy_vendor: vendor, ...(account ? { account } : {}),
});
const KIB = 1024;
/** Explicit values of a counter over `steps` samples `stepSeconds` apart, rising at `rate(i)` per second in step i. */
function counterValues(steps: number, stepSeconds: number, rate: (i: number) => number): string {
  const values = [0];
  for (let i = 0; i < steps; i++) values.push(values[i] + rate(i) * stepSeconds);
  return values.join(' ');
}
const runbook = (alert: string) => `${DEFAULT_RUNBOOK_URL}#${alert.toLowerCase()}`;

interface Case {
  alert: string;
  /** Minutes between evaluations (and input samples), and the stack's evaluation interval. @default 1 */
  step?: number;
  /** Evaluation times at which the alert must not be firing, besides one step before `firesAt`. */
  quietAt?: string[];
  /** Evaluation time at which the alert must fire; one minute (one evaluation) earlier it must not. */
  firesAt: string;
  inputSeries: Array<{ series: string; values: string }>;
  expected: Array<{ labels: Record<string, string>; summary: string; description: string }>;
}

function minutesBefore(time: string, step = 1): string {
  return `${Number(time.replace('m', '')) - step}m`;
}

/** Rule files by evaluation interval in minutes: the hourly averages weigh samples by it. */
const rulesEvery = (minutes: number) => (minutes === 1 ? rulesYaml
  : new MetricsStack(Testing.chart(), 'metrics', { vendors, crawlerNamespaces: ['crawlers'], prometheus: { evaluationInterval: `${minutes}m`, podScrapes: [USAGE_SCRAPE] } }).renderRules());

/** Runs promtool test rules: the alert fires at `firesAt` with the expected labels and annotations, and not one step earlier. */
function check(c: Case): { status: number; output: string } {
  const step = c.step ?? 1;
  const rules = rulesEvery(step);
  const severity = YAML.parse(rules).groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === c.alert).labels.severity;
  return promtoolTestRules(rules, {
    evaluation_interval: `${step}m`,
    group_eval_order: PRODUCT_GROUP_ORDER,
    tests: [{
      interval: `${step}m`,
      input_series: c.inputSeries,
      alert_rule_test: [
        ...(c.quietAt ?? []).map(t => ({ eval_time: t, alertname: c.alert, exp_alerts: [] })),
        { eval_time: minutesBefore(c.firesAt, step), alertname: c.alert, exp_alerts: [] },
        {
          eval_time: c.firesAt,
          alertname: c.alert,
          exp_alerts: c.expected.map(e => ({
            exp_labels: { severity, ...e.labels },
            exp_annotations: { summary: e.summary, description: e.description, runbook_url: runbook(c.alert) },
          })),
        },
      ],
    }],
  });
}

const scrapeSamples = (p: PodRef, job: string) =>
  series('scrape_samples_post_metric_relabeling', { job, instance: '10.1.0.7:15090', namespace: 'crawlers', pod: p.pod, proxy_vendor: p.vendor! });

const up = (namespace: string, i: number, value: 0 | 1) => ({
  series: series('up', { job: 'crawler-sidecars', instance: `10.1.0.${i}:15090`, namespace, pod: `crawler-${i}`, proxy_vendor: 'vendor-a' }),
  values: `${value}x30`,
});

const cases: Case[] = [
  {
    alert: 'CrawlerSidecarTargetsDown',
    firesAt: '10m',
    // crawlers: 2 of 10 targets down (20% > 10%); crawl-eu: 1 of 10 (10%, not above) never fires.
    inputSeries: [
      ...Array.from({ length: 10 }, (_, i) => up('crawlers', i, i < 2 ? 0 : 1)),
      ...Array.from({ length: 10 }, (_, i) => up('crawl-eu', 100 + i, i < 1 ? 0 : 1)),
    ],
    expected: [{
      labels: { job: 'crawler-sidecars', namespace: 'crawlers' },
      summary: 'Crawler sidecars cannot be scraped.',
      description: '20% of the crawler sidecar targets in namespace crawlers are down; their traffic is not measured.',
    }],
  },
  {
    alert: 'ProxyVendorTrafficStopped',
    firesAt: '15m',
    // vendor-b carries requests; vendor-c only the bytes of a tunnel opened before the window (no new
    // connection: a connection counter that stays flat); vendor-a carries nothing.
    inputSeries: [
      { series: gatewayHttpSeries('istio_request_bytes_count', b1, GW_B, 'example.com'), values: perSecond(1) },
      { series: tcpSeries('istio_tcp_connections_opened_total', c1, { sni: 'example.com' }), values: '1x90' },
      { series: tcpSeries('istio_tcp_sent_bytes_total', c1, { sni: 'example.com' }), values: perSecond(5000) },
    ],
    expected: [{
      labels: { proxy_vendor: 'vendor-a' },
      summary: 'Vendor vendor-a carries no traffic.',
      description: 'No request, connection or byte through vendor vendor-a has been seen for 15m, although the vendor is configured.',
    }],
  },
  {
    alert: 'ProxyVendorHighErrorRatio',
    firesAt: '11m',
    // vendor-c (direct): 1 of 10 requests/s answered 503 (10% > 5%) from minute 1; vendor-b (inspected): 2% never
    // fires; vendor-a sends through a TCP gateway, so its parsed HTTP is traffic that bypasses the vendor: not its errors.
    inputSeries: [
      { series: httpSeries('istio_request_bytes_count', c1, 'example.com'), values: perSecond(9) },
      { series: httpSeries('istio_request_bytes_count', c1, 'example.com', 503), values: perSecond(1) },
      { series: gatewayHttpSeries('istio_request_bytes_count', b1, GW_B, 'example.com'), values: perSecond(49) },
      { series: gatewayHttpSeries('istio_request_bytes_count', b1, GW_B, 'example.com', 500), values: perSecond(1) },
      { series: httpSeries('istio_request_bytes_count', a1, 'example.com', 503), values: perSecond(1) },
    ],
    expected: [{
      labels: { proxy_vendor: 'vendor-c' },
      summary: 'Vendor vendor-c answers many requests with errors.',
      description: '10% of the HTTP requests through vendor-c got a 4xx/5xx or no response (threshold 5%).',
    }],
  },
  {
    alert: 'ProxyVendorAuthenticationFailures',
    firesAt: '6m',
    // Only the inspected gateway's answers count: vendor-b's refused CONNECTs; vendor-c's 407s come from a site.
    inputSeries: [
      { series: gatewayHttpSeries('istio_request_bytes_count', b1, GW_B, 'example.com'), values: perSecond(9.5) },
      { series: gatewayHttpSeries('istio_request_bytes_count', b1, GW_B, 'example.com:443', 407), values: perSecond(0.5) },
      { series: httpSeries('istio_request_bytes_count', c1, 'example.com', 407), values: perSecond(1) },
    ],
    expected: [{
      labels: { proxy_vendor: 'vendor-b' },
      summary: 'Vendor vendor-b rejects the proxy credentials.',
      description: '5% of the requests through the gateway of vendor-b got 407 Proxy Authentication Required (threshold 1%).',
    }],
  },
  {
    alert: 'ProxyVendorRateLimited',
    firesAt: '11m',
    inputSeries: [
      { series: gatewayHttpSeries('istio_request_bytes_count', b1, GW_B, 'example.com'), values: perSecond(9) },
      { series: gatewayHttpSeries('istio_request_bytes_count', b1, GW_B, 'example.com', 429), values: perSecond(1) },
      // 1 in 100 is not above 5%.
      { series: httpSeries('istio_request_bytes_count', c1, 'example.com'), values: perSecond(99) },
      { series: httpSeries('istio_request_bytes_count', c1, 'example.com', 429), values: perSecond(1) },
      // A TCP-gateway vendor's parsed HTTP bypasses its gateway.
      { series: httpSeries('istio_request_bytes_count', a1, 'example.com', 429), values: perSecond(1) },
    ],
    expected: [{
      labels: { proxy_vendor: 'vendor-b' },
      summary: 'Requests through vendor vendor-b are rate limited.',
      description: '10% of the HTTP requests through vendor-b got 429 Too Many Requests (threshold 5%).',
    }],
  },
  {
    alert: 'ProxyVendorSpendOverBudget',
    // The hourly averages grow as the hour fills: above the budget from 3m, so 30 minutes later.
    firesAt: '33m',
    // 1 MB/s down at 4/GiB projects far above the 100 budget from the cost group's first run with data.
    inputSeries: [{ series: httpSeries('istio_response_bytes_sum', a1, 'example.com'), values: perSecond(1e6) }],
    expected: [{
      labels: { proxy_vendor: 'vendor-a' },
      summary: 'Vendor vendor-a is projected to exceed its monthly budget.',
      description: 'At the last hour\'s rate, vendor-a would cost 4.989k this month, above its configured budget.',
    }],
  },
  {
    alert: 'ProxyVendorTrafficOverBudget',
    firesAt: '32m',
    inputSeries: [{ series: tcpSeries('istio_tcp_sent_bytes_total', a1, { gateway: GW_A }), values: perSecond(1e6) }],
    expected: [{
      labels: { proxy_vendor: 'vendor-a' },
      summary: 'Vendor vendor-a is projected to exceed its monthly traffic budget.',
      description: 'At the last hour\'s rate, vendor-a would carry 1.179TiB this month, above its configured traffic budget.',
    }],
  },
  {
    alert: 'ProxyCrawlerMisrouted',
    firesAt: '6m',
    // A vendor-b pod connects to vendor-a's TCP gateway, a vendor-c pod sends requests through vendor-b's inspected
    // gateway; vendor-a's own pod doing so is fine. One alert rule covers every gateway.
    inputSeries: [
      { series: tcpSeries('istio_tcp_connections_opened_total', b1, { gateway: GW_A }), values: perSecond(0.1) },
      { series: tcpSeries('istio_tcp_connections_opened_total', a1, { gateway: GW_A }), values: perSecond(1) },
      { series: gatewayHttpSeries('istio_requests_total', c1, GW_B, 'example.com'), values: perSecond(2) },
    ],
    expected: [{
      labels: { proxy_vendor: 'vendor-b', gateway: GW_A, gateway_vendor: 'vendor-a' },
      summary: 'Crawlers of vendor-b send to the gateway of vendor-a.',
      description: `Pods labelled proxy-vendor=vendor-b send 100m requests or connections per second to ${GW_A}, a gateway of vendor vendor-a: that traffic is billed by vendor-a but reported under vendor-b.`,
    }, {
      labels: { proxy_vendor: 'vendor-c', gateway: GW_B, gateway_vendor: 'vendor-b' },
      summary: 'Crawlers of vendor-c send to the gateway of vendor-b.',
      description: `Pods labelled proxy-vendor=vendor-c send 2 requests or connections per second to ${GW_B}, a gateway of vendor vendor-b: that traffic is billed by vendor-b but reported under vendor-c.`,
    }],
  },
  {
    alert: 'CrawlerSidecarNearSampleLimit',
    firesAt: '15m',
    // Above 80% of each job's limit (20000 both): a1's totals and b1's destinations; b1's totals are below.
    inputSeries: [
      { series: scrapeSamples(a1, 'crawler-sidecars'), values: '17000x30' },
      { series: scrapeSamples(b1, 'crawler-sidecars'), values: '15000x30' },
      { series: scrapeSamples(b1, 'crawler-destinations'), values: '19000x30' },
    ],
    expected: [a1, b1].map((p, i) => {
      const job = i === 0 ? 'crawler-sidecars' : 'crawler-destinations';
      return {
        labels: { job, instance: '10.1.0.7:15090', namespace: 'crawlers', pod: p.pod, proxy_vendor: p.vendor! },
        summary: 'A crawler sidecar exposes nearly as many series as its scrape allows.',
        description: `Pod crawlers/${p.pod} exposes ${i === 0 ? 17000 : 19000} samples per scrape in job ${job}, above 80% of its limit (20000 for crawler-sidecars, 20000 for crawler-destinations); beyond it that scrape fails.`,
      };
    }),
  },
  {
    alert: 'CrawlerSidecarSampleLimitExceeded',
    firesAt: '1m',
    // Prometheus rejects the whole scrape above the limit, yet reports how many samples it had.
    inputSeries: [
      { series: scrapeSamples(a1, 'crawler-sidecars'), values: '20001x30' },
      { series: scrapeSamples(b1, 'crawler-destinations'), values: '25000x30' },
    ],
    expected: [{
      labels: { job: 'crawler-sidecars', instance: '10.1.0.7:15090', namespace: 'crawlers', pod: a1.pod, proxy_vendor: 'vendor-a' },
      summary: 'A crawler sidecar\'s totals are not measured: its scrape exceeds the sample limit.',
      description: `Pod crawlers/${a1.pod} exposes 20001 samples of totals, above the limit 20000 of job crawler-sidecars: Prometheus rejects its scrapes, so its requests and bytes are not measured.`,
    }],
  },
  {
    alert: 'CrawlerDestinationsNotMeasured',
    firesAt: '5m',
    inputSeries: [
      { series: scrapeSamples(b1, 'crawler-destinations'), values: '25000x30' },
      { series: scrapeSamples(c1, 'crawler-destinations'), values: '20000x30' },
    ],
    expected: [{
      labels: { job: 'crawler-destinations', instance: '10.1.0.7:15090', namespace: 'crawlers', pod: b1.pod, proxy_vendor: 'vendor-b' },
      summary: 'A crawler pod reaches more destinations than its destination scrape allows.',
      description: `Pod crawlers/${b1.pod} exposes 25000 per-destination samples, above the limit 20000 of job crawler-destinations: its destinations are not measured (its requests count under destination "(not measured)"); its requests, connections and bytes still are.`,
    }],
  },
  {
    alert: 'ProxyVendorUsageOutsideFleet',
    firesAt: '26m',
    // vendor-a's pod sends 40 KiB/s and receives 160 KiB/s through its TCP gateway; the vendor bills the same 200 KiB/s
    // until minute 20, then 300 KiB/s: someone else uses account "crawler". The 5m rates see the excess (20 KiB/s >
    // 5% of 200 and > 10 KiB/s) from minute 21; it holds 5 minutes. Account "spare" bills nothing new. The pod moved no
    // more than before.
    inputSeries: [
      { series: tcpSeries('istio_tcp_received_bytes_total', a1, { gateway: GW_A }), values: perSecond(40 * KIB) },
      { series: tcpSeries('istio_tcp_sent_bytes_total', a1, { gateway: GW_A }), values: perSecond(160 * KIB) },
      { series: usage(USAGE_METRICS.billedBytes, 'vendor-a', 'crawler'), values: stepUp(200 * KIB, 20, 300 * KIB) },
      { series: usage(USAGE_METRICS.withdrawnBytes, 'vendor-a', 'crawler'), values: '0x90' },
      { series: usage(USAGE_METRICS.billedBytes, 'vendor-a', 'spare'), values: '5000x90' },
      { series: usage(USAGE_METRICS.withdrawnBytes, 'vendor-a', 'spare'), values: '0x90' },
    ],
    expected: [{
      labels: { proxy_vendor: 'vendor-a', account: 'crawler' },
      summary: 'vendor-a bills traffic that no crawler pod sent: its credentials are used outside the fleet.',
      description: 'vendor-a reports 100kiB/s more than the fleet\'s sidecars sent through its gateways (above 5%); account crawler grew most in 30 minutes. '
        + 'Pods whose traffic grew in 30 minutes: none: no pod of the fleet moved more, so the difference is traffic from outside it.',
    }],
  },
  {
    alert: 'ProxyUsageSourceStale',
    firesAt: '27m',
    // vendor-a's source answers every minute until minute 10, then fails (HTTP errors): stale after 15 minutes (above 900 s from minute 26), held 1 minute.
    // vendor-b's keeps answering.
    inputSeries: [
      { series: usage(USAGE_METRICS.lastSuccess, 'vendor-a'), values: '0+60x10 600x80' },
      { series: usage(`${USAGE_METRICS.errors}`, 'vendor-a').replace('}', ', kind="http"}'), values: '0x10 1+1x80' },
      { series: usage(`${USAGE_METRICS.errors}`, 'vendor-a').replace('}', ', kind="malformed"}'), values: '0x90' },
      { series: usage(USAGE_METRICS.lastSuccess, 'vendor-b'), values: '0+60x90' },
    ],
    expected: [{
      labels: { proxy_vendor: 'vendor-a' },
      summary: 'The usage source of vendor-a has not answered for 15m.',
      description: 'The usage collector last read vendor-a\'s usage 17m 0s ago: billed figures are not current and no bill is compared. '
        + 'Failed polls in the last hour: http 17.',
    }],
  },
  {
    alert: 'ProxyVendorRetryStorm',
    firesAt: '15m',
    // vendor-b's pod gets 10 pages/s; from minute 10 it also retries 50 requests/s that the gateway answers 429: 6
    // requests per success once the 5m rates see it (above 3 from minute 13), held 2 minutes.
    inputSeries: [
      { series: gatewayHttpSeries('istio_request_bytes_count', b1, GW_B, 'shop.example'), values: perSecond(10) },
      { series: gatewayHttpSeries('istio_request_bytes_count', b1, GW_B, 'shop.example', 429), values: stepUp(0, 10, 50) },
    ],
    expected: [{
      labels: { proxy_vendor: 'vendor-b' },
      summary: 'Crawlers of vendor-b retry failing requests.',
      description: 'Crawlers of vendor-b send 6 HTTP requests per successful response (threshold 3): spend without pages. '
        + 'Pods sending most: crawlers/crawler-vendor-b-6d8e1-ccccc (60/s). Destinations: none recorded.',
    }],
  },
  {
    alert: 'ProxyVendorPodShareJump',
    firesAt: '75m',
    // Four vendor-a pods move 100 KiB/s each; from minute 70 one moves 500 KiB/s: its share passes twice its hour's
    // average (0.25) at minute 73 and holds 2 minutes.
    inputSeries: [0, 1, 2, 3].map(i => ({
      series: tcpSeries('istio_tcp_sent_bytes_total', { pod: `crawler-vendor-a-5f7c9-p${i}`, vendor: 'vendor-a' }, { gateway: GW_A }),
      values: i === 0 ? stepUp(100 * KIB, 70, 500 * KIB) : perSecond(100 * KIB),
    })),
    expected: [{
      labels: { proxy_vendor: 'vendor-a', namespace: 'crawlers', pod: 'crawler-vendor-a-5f7c9-p0' },
      summary: 'One pod\'s share of vendor-a\'s traffic jumped.',
      description: 'Pod crawlers/crawler-vendor-a-5f7c9-p0 now moves 62.5% of the bytes through vendor-a, more than 2 times its share of the hour before. '
        + 'Destinations of vendor-a: none recorded.',
    }],
  },
  {
    alert: 'ProxyVendorSpendAnomaly',
    step: 5,
    // Eight days of vendor-a at 1 MiB/s ($4 per GiB), tripled every week on day 0 and day 7 from 10:00 to 14:00 (a
    // weekly pattern: quiet on day 7, since the same hours a week before were as high), and on day 7 from 20:00 (an
    // anomaly). Hourly averages of 5m samples: k steps into the rise the hour holds (13 + 2k) / 13 MiB/s, twice both
    // last week's 1 MiB/s and the day's median from k = 7 (20:35); held 15 minutes: 20:50 on day 7 = minute 11330.
    quietAt: [`${(7 * 24 + 13) * 60}m`],
    firesAt: `${(7 * 24 + 20) * 60 + 50}m`,
    inputSeries: [{
      series: tcpSeries('istio_tcp_sent_bytes_total', a1, { gateway: GW_A }),
      values: counterValues(8 * 24 * 12, 300, i => {
        const hourOfWeek = (i * 5 / 60) % (7 * 24);
        const day7 = i * 5 / 60 >= 7 * 24;
        return KIB * KIB * ((hourOfWeek >= 10 && hourOfWeek < 14) || (day7 && hourOfWeek >= 20) ? 3 : 1);
      }),
    }],
    expected: [{
      labels: { proxy_vendor: 'vendor-a' },
      summary: 'Spend on vendor-a runs above its usual level.',
      // (13 + 2·10) / 13 MiB/s for an hour at $4 per GiB.
      description: `vendor-a cost ${+((13 + 2 * 10) / 13 * 3600 / 1024 * 4).toPrecision(4)} in the last hour, more than 2 times both the same hour a week ago and the past day's median. `
        + 'Busiest pods: crawlers/crawler-vendor-a-5f7c9-aaaaa (3MiB/s). Destinations: none recorded.',
    }],
  },
];

describe('alerts', () => {
  test('every alert has for, severity, summary, description and a runbook_url, and a test case below', () => {
    const alerts = YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules).filter((r: any) => r.alert);
    for (const a of alerts) {
      expect(a.for).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical']).toContain(a.labels.severity);
      expect(Object.keys(a.annotations).sort()).toEqual(['description', 'runbook_url', 'summary']);
      expect(a.annotations.runbook_url).toBe(runbook(a.alert));
    }
    expect([...new Set(alerts.map((a: any) => a.alert))].sort()).toEqual(cases.map(c => c.alert).sort());
    // Every runbook anchor exists in the runbook.
    const runbookText = fs.readFileSync(path.join(__dirname, '..', 'docs', 'runbook.md'), 'utf8');
    for (const c of cases) expect(runbookText).toContain(`## ${c.alert}`);
  });

  test('alerts.runbookUrl: every alert links to its heading under the given base; a URL that is not one is refused by name', () => {
    // GIVEN / WHEN
    const vendors = new VendorCatalog([{ name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000'], gateway: { inspect: 'http' } }]);
    const groups = alertGroups(vendors, { totals: 'a', destinations: 'b' }, { totals: 1, destinations: 1 }, resolveAlertOptions({ runbookUrl: 'https://wiki.example/proxy' }));

    // THEN
    const links = groups.flatMap(g => g.rules).map((r: any) => [r.alert, r.annotations.runbook_url]);
    expect(links.length).toBeGreaterThan(5);
    for (const [name, link] of links) expect(link).toBe(`https://wiki.example/proxy#${name.toLowerCase()}`);
    expect(() => resolveAlertOptions({ runbookUrl: 'wiki/proxy' })).toThrow('\'alerts.runbookUrl\' ("wiki/proxy") must be an http(s) URL');
  });

  test.each(cases)('$alert fires at $firesAt, not one evaluation earlier', c => {
    const { status, output } = check(c);
    if (status !== 0) throw new Error(`promtool test rules failed:\n${output}`);
    expect(output).toContain('SUCCESS');
  });

  test('an alert expected one evaluation too early fails, so the cases above can fail', () => {
    const early = { ...cases[0], firesAt: '9m' };
    expect(check(early).status).not.toBe(0);
  });

  test('the rule file passes promtool check rules --lint-fatal with several vendors that have gateways', () => {
    expect(checkRules(rulesYaml, ['--lint=all', '--lint-fatal'])).toMatchObject({ status: 0 });
    // Every alert name once.
    const names = YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules).filter((x: any) => x.alert).map((x: any) => x.alert);
    expect(names).toEqual([...new Set(names)]);
  });

  test('alerts that cannot fire are not generated: no 407 alert without an inspected gateway, no error alerts when every vendor uses a TCP gateway, no misrouting without gateways', () => {
    const alertsOf = (props: ConstructorParameters<typeof VendorCatalog>[0]) => YAML.parse(new MetricsStack(Testing.chart(), 'm', { vendors: new VendorCatalog(props), crawlerNamespaces: ['crawlers'] }).renderRules())
      .groups.flatMap((g: any) => g.rules).filter((x: any) => x.alert).map((x: any) => x.alert);
    const tcpOnly = alertsOf([{ name: 'a', endpoints: ['gw.a.example:8000'] }, { name: 'b', endpoints: ['gw.b.example:8001'] }]);
    expect(tcpOnly).not.toContain('ProxyVendorAuthenticationFailures');
    expect(tcpOnly).not.toContain('ProxyVendorHighErrorRatio');
    expect(tcpOnly).not.toContain('ProxyVendorRateLimited');
    expect(tcpOnly).toContain('ProxyCrawlerMisrouted');
    const direct = alertsOf([{ name: 'a' }, { name: 'b' }]);
    expect(direct).toEqual(expect.arrayContaining(['ProxyVendorHighErrorRatio', 'ProxyVendorRateLimited']));
    expect(direct).not.toContain('ProxyVendorAuthenticationFailures');
    expect(direct).not.toContain('ProxyCrawlerMisrouted');
    // The scoped expressions name the vendors they apply to.
    const rules = YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules);
    expect(rules.find((x: any) => x.alert === 'ProxyVendorAuthenticationFailures').expr).toContain('proxy_vendor=~"vendor-b"');
    expect(rules.find((x: any) => x.alert === 'ProxyVendorHighErrorRatio').expr).toContain('proxy_vendor=~"vendor-b|vendor-c"');
  });
});
