import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { MetricsStack } from '../lib/metrics-stack';
import { DEFAULT_RUNBOOK_URL, alertGroups, resolveAlertOptions } from '../core/alerts';
import { VendorCatalog } from '../core/vendor';
import { checkRules, PRODUCT_GROUP_ORDER, promtoolTestRules } from './support/prometheus-config';
import { PodRef, gatewayHttpSeries, httpSeries, series, tcpSeries } from './support/istio-series';

// GIVEN the default thresholds and a vendor model with a TCP gateway (a), an inspected gateway (b) and direct traffic (c).
const GW_A = 'gw.vendor-a.example';
const GW_B = 'proxy.vendor-b.example';
const vendors = new VendorCatalog([
  { name: 'vendor-a', endpoints: [`${GW_A}:8000`], pricePerGiB: 4, monthlyBudget: 100, monthlyTrafficBudgetGiB: 10 },
  { name: 'vendor-b', endpoints: [`${GW_B}:22225`, `${GW_B}:22226`], gateway: { inspect: 'http' } },
  { name: 'vendor-c' },
]);
const rulesYaml = new MetricsStack(Testing.chart(), 'metrics', { vendors, crawlerNamespaces: ['crawlers'], prometheus: { evaluationInterval: '1m' } }).renderRules();

const a1: PodRef = { pod: 'crawler-vendor-a-5f7c9-aaaaa', vendor: 'vendor-a' };
const b1: PodRef = { pod: 'crawler-vendor-b-6d8e1-ccccc', vendor: 'vendor-b' };
const c1: PodRef = { pod: 'crawler-vendor-c-7a2b3-ddddd', vendor: 'vendor-c' };
const perSecond = (rate: number, minutes = 90) => `0+${rate * 60}x${minutes}`;
const runbook = (alert: string) => `${DEFAULT_RUNBOOK_URL}#${alert.toLowerCase()}`;

interface Case {
  alert: string;
  /** Evaluation time at which the alert must fire; one minute (one evaluation) earlier it must not. */
  firesAt: string;
  inputSeries: Array<{ series: string; values: string }>;
  expected: Array<{ labels: Record<string, string>; summary: string; description: string }>;
}

function minutesBefore(time: string): string {
  return `${Number(time.replace('m', '')) - 1}m`;
}

/** Runs promtool test rules: the alert fires at `firesAt` with the expected labels and annotations, and not one step earlier. */
function check(c: Case): { status: number; output: string } {
  const severity = YAML.parse(rulesYaml).groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === c.alert).labels.severity;
  return promtoolTestRules(rulesYaml, {
    evaluation_interval: '1m',
    group_eval_order: PRODUCT_GROUP_ORDER,
    tests: [{
      interval: '1m',
      input_series: c.inputSeries,
      alert_rule_test: [
        { eval_time: minutesBefore(c.firesAt), alertname: c.alert, exp_alerts: [] },
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
