import { Testing } from 'cdk8s';
import { validateLikeApp } from './support/synth';
import { DASHBOARD_TAG, DashboardJson, VARIABLES, proxyDashboards } from '../dashboards';
import { expandVariables, panelQueries } from '../harness/grafana-variables';
import { MAX_DASHBOARD_BYTES } from '../lib/grafana/grafana-server';
import { DESTINATION_SCRAPE_JOB, SCRAPE_JOB } from '../core/metric-contract';
import { RULE, contractRules } from '../core/rules';
import { MetricsStack } from '../lib/metrics-stack';
import { VendorCatalog } from '../core/vendor';
import { metricNames, promqlErrors } from './support/promql';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';

const vendors = new VendorCatalog([
  { name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000'], pricePerGiB: 3.5, monthlyBudget: 5000 },
  { name: 'vendor-b', pricePer1kRequests: 0.4, monthlyTrafficBudgetGiB: 800 },
]);
const UIDS = ['proxy-overview', 'proxy-bandwidth', 'proxy-destinations', 'proxy-health', 'proxy-cost'];
/** Raw series a panel may read: per-target health and Prometheus' own metrics, one series per target. */
const RAW_ALLOWED = ['up', 'scrape_duration_seconds', 'scrape_samples_post_metric_relabeling', 'prometheus_tsdb_head_series', 'prometheus_tsdb_head_samples_appended_total'];

const panels = (d: DashboardJson) => (d.panels ?? []).filter((p: any) => p.type !== 'row') as any[];

describe('the five dashboards', () => {
  // GIVEN a vendor model with a tunnel gateway, prices and budgets
  // WHEN the dashboards are built for import
  const dashboards = proxyDashboards({ vendors, job: SCRAPE_JOB, ruleIntervalSeconds: 30 });

  test.each(UIDS)('%s matches its snapshot', uid => {
    expect(dashboards.find(d => d.uid === uid)).toMatchSnapshot();
  });

  test('stable uids, one tag, and links to each other that keep the time range and variables', () => {
    expect(dashboards.map(d => d.uid)).toEqual(UIDS);
    for (const d of dashboards) {
      expect(d.tags).toEqual([DASHBOARD_TAG]);
      expect(d.links).toEqual([expect.objectContaining({ type: 'dashboards', tags: [DASHBOARD_TAG], asDropdown: true, includeVars: true, keepTime: true })]);
    }
  });

  test('a datasource variable, and a multi-value vendor variable with All, on every dashboard; pod and destination where they apply', () => {
    for (const d of dashboards) {
      const vars = d.templating!.list!;
      expect(vars[0]).toMatchObject({ type: 'datasource', name: 'datasource', query: 'prometheus', current: { value: '${DS_PROMETHEUS}' } });
      expect(vars[1]).toMatchObject({ type: 'query', name: 'vendor', multi: true, includeAll: true, allValue: '.*', query: `label_values(${RULE.crawlerPods}, proxy_vendor)` });
      for (const v of vars.slice(1)) expect(v.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
    const names = (uid: string) => dashboards.find(d => d.uid === uid)!.templating!.list!.map(v => v.name);
    expect(names('proxy-bandwidth')).toEqual(['datasource', 'vendor', 'namespace', 'pod', 'top_pods']);
    expect(names('proxy-destinations')).toEqual(['datasource', 'vendor', 'destination']);
  });

  test('every panel: a description, the datasource variable, a unit, and queries with unique refIds through the datasource variable', () => {
    for (const d of dashboards) {
      for (const p of panels(d)) {
        const where = `${d.uid} / ${p.title}`;
        expect({ where, description: typeof p.description === 'string' && p.description.length > 10 }).toEqual({ where, description: true });
        expect({ where, ds: p.datasource }).toEqual({ where, ds: { type: 'prometheus', uid: '${datasource}' } });
        const units = [p.fieldConfig?.defaults?.unit, ...(p.fieldConfig?.overrides ?? []).flatMap((o: any) => o.properties.filter((x: any) => x.id === 'unit').map((x: any) => x.value))];
        expect({ where, hasUnit: units.some(u => typeof u === 'string' && u.length > 0) }).toEqual({ where, hasUnit: true });
        const refIds = p.targets.map((t: any) => t.refId);
        expect(new Set(refIds).size).toBe(refIds.length);
        for (const t of p.targets) expect(t.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        if (p.type === 'timeseries') for (const t of p.targets) expect({ where, legend: t.legendFormat }).toEqual({ where, legend: expect.stringMatching(/\{\{/) });
      }
    }
  });

  test('every query parses as PromQL with the variables substituted (All, one value, several values)', () => {
    const queries = panelQueries(dashboards);
    expect(queries.length).toBeGreaterThanOrEqual(40);
    for (const q of queries) {
      for (const values of [{ topPods: [] }, { vendor: ['vendor-a'], topPods: ['p-1'] }, { vendor: ['vendor-a', 'vendor-b'], destination: ['example.com', 'a.b+c'], pod: ['p-1'], topPods: ['p-1', 'p.2'] }]) {
        const expr = expandVariables(q.expr, values);
        expect({ panel: `${q.dashboard} / ${q.panel} / ${q.refId}`, expr, errors: promqlErrors(expr) }).toEqual({ panel: `${q.dashboard} / ${q.panel} / ${q.refId}`, expr, errors: [] });
        expect(expr).not.toMatch(/\$\{?(vendor|namespace|pod|destination|top_pods|__range|__rate_interval)\b/);
      }
    }
  });

  test('panels read recording rules; raw series only for per-target health and Prometheus itself', () => {
    const contract = new Set<string>(Object.values(RULE));
    for (const q of panelQueries(dashboards)) {
      for (const name of metricNames(expandVariables(q.expr, { topPods: [] }))) {
        expect({ panel: `${q.dashboard} / ${q.panel}`, name, known: contract.has(name) || RAW_ALLOWED.includes(name) })
          .toEqual({ panel: `${q.dashboard} / ${q.panel}`, name, known: true });
      }
    }
  });

  test('vendor selections are regex-escaped as Grafana does; unknown $references stay', () => {
    expect(expandVariables('x{proxy_vendor=~"$vendor", destination=~"${destination}"}', { vendor: ['a', 'b'], destination: ['www.example.com'] }))
      .toBe('x{proxy_vendor=~"(a|b)", destination=~"www\\\\.example\\\\.com"}');
    expect(expandVariables('label_replace(x, "c", "${1}xx", "r", "(.)..")')).toBe('label_replace(x, "c", "${1}xx", "r", "(.)..")');
    expect(expandVariables('sum_over_time(x[$__range]) * $__range_s', { rangeSeconds: 600 })).toBe('sum_over_time(x[600s]) * 600');
  });

  test('the hidden top_pods variable: all its values as an alternation, nothing for none, and an unresolved one is refused', () => {
    // GIVEN the bandwidth dashboard's variables
    const bandwidth = dashboards.find(d => d.uid === 'proxy-bandwidth')!;
    const topPods: any = bandwidth.templating?.list?.find((v: any) => v.name === 'top_pods');
    // THEN it is hidden, lists the recorded top pods of the selected vendors and namespaces, and has no All value of its own
    expect(topPods).toMatchObject({ hide: 2, multi: true, includeAll: true, refresh: 2, query: VARIABLES.topPods.query });
    expect(topPods.allValue).toBeUndefined();
    expect(VARIABLES.topPods.query).toBe(`label_values(${RULE.topPodBytes5m}{proxy_vendor=~"$vendor", namespace=~"$namespace"}, pod)`);
    expect(expandVariables('x{pod=~"$top_pods"}', { topPods: ['web-1', 'web.2'] })).toBe('x{pod=~"(web-1|web\\\\.2)"}');
    expect(expandVariables('x{pod=~"$top_pods"}', { topPods: [] })).toBe('x{pod=~""}');
    expect(() => expandVariables('x{pod=~"$top_pods"}')).toThrow("the query reads $top_pods; resolve it first");
    // The panel takes the pipe format, which Prometheus 2.42 looks up in its index as a set.
    expect(expandVariables('x{pod=~"${top_pods:pipe}"}', { topPods: ['web-1', 'web-2'] })).toBe('x{pod=~"web-1|web-2"}');
    expect(expandVariables('x{pod=~"${top_pods:pipe}"}', { topPods: [] })).toBe('x{pod=~""}');
    expect(() => expandVariables('x{pod=~"${top_pods:pipe}"}')).toThrow("the query reads $top_pods");
    expect(panelQueries(dashboards).find(q => q.panel === 'Top pods over the range')!.expr).toContain('pod=~"${top_pods:pipe}"');
  });

  test('traffic with no known destination counts TLS without SNI, empty destinations, pods not measured and every vendor gateway', () => {
    const unknown = panelQueries(dashboards).find(q => q.panel === 'Requests without a known destination')!;
    expect(unknown.expr).toContain('destination=~"|unknown|\\\\(not measured\\\\)|gw\\\\.vendor-a\\\\.example"');
  });

  test('bad options fail before anything is built, naming the property', () => {
    expect(() => proxyDashboards({ vendors, job: SCRAPE_JOB, ruleIntervalSeconds: 0 })).toThrow("'ruleIntervalSeconds' (0)");
    expect(() => proxyDashboards({ vendors, job: SCRAPE_JOB, ruleIntervalSeconds: 30, currencyUnit: 'dollars' })).toThrow('\'currencyUnit\' ("dollars") must be a Grafana currency unit');
    expect(() => validateLikeApp(new MetricsStack(Testing.chart(), 'm', { vendors, crawlerNamespaces: ['crawlers'], dashboards: { currencyUnit: 'USD' } })))
      .toThrow('\'dashboards.currencyUnit\' ("USD")');
  });
});

describe('demo gateway panels', () => {
  test('"Headers the sidecar added" on the health dashboard only with demoGateways: the rate of gateway_injected_headers_total per vendor and header', () => {
    const health = (demoGateways?: boolean) => proxyDashboards({ vendors, job: SCRAPE_JOB, ruleIntervalSeconds: 30, demoGateways }).find(d => d.uid === 'proxy-health')!;
    expect(panels(health()).map(p => p.title)).not.toContain('Headers the sidecar added');
    const withDemo = proxyDashboards({ vendors, job: SCRAPE_JOB, ruleIntervalSeconds: 30, demoGateways: true });
    const panel = panels(withDemo.find(d => d.uid === 'proxy-health')!).find(p => p.title === 'Headers the sidecar added');
    expect(panel).toMatchObject({ type: 'timeseries', datasource: { type: 'prometheus', uid: '${datasource}' }, fieldConfig: { defaults: { unit: 'reqps' } } });
    expect(panel.targets.map((t: any) => t.legendFormat)).toEqual(['{{proxy_vendor}} {{header}}']);
    const q = panelQueries(withDemo).find(x => x.panel === 'Headers the sidecar added')!;
    expect(q.expr).toBe('sum by (proxy_vendor, header) (label_replace(rate(gateway_injected_headers_total{job="demo-gateways", vendor=~"$vendor"}[$__rate_interval]), "proxy_vendor", "$1", "vendor", "(.*)"))');
    for (const values of [{}, { vendor: ['vendor-a', 'vendor-b'] }]) expect(promqlErrors(expandVariables(q.expr, values))).toEqual([]);
    expect(metricNames(expandVariables(q.expr, {}))).toEqual(['gateway_injected_headers_total']);
  });
});

describe('Cost & Budget: billed and measured (with a usage collector), anomaly signals (always)', () => {
  // GIVEN the dashboards without and with a usage collector
  const without = proxyDashboards({ vendors, job: SCRAPE_JOB, ruleIntervalSeconds: 30 });
  const withUsage = proxyDashboards({ vendors, job: SCRAPE_JOB, ruleIntervalSeconds: 30, usage: true });
  const cost = (ds: DashboardJson[]) => ds.find(d => d.uid === 'proxy-cost')!;
  const rows = (d: DashboardJson) => (d.panels ?? []).filter((p: any) => p.type === 'row').map((p: any) => p.title);
  const panel = (d: DashboardJson, title: string) => {
    const found = panels(d).find(p => p.title === title);
    if (!found) throw new Error(`no panel '${title}' on ${d.uid}`);
    return found;
  };
  const exprs = (d: DashboardJson, title: string) => panel(d, title).targets.map((t: any) => t.expr);
  const USAGE_PANELS = ['Billed and measured bytes/s', 'Billed but not measured', 'Billed bytes/s per account', 'Billed over measured, last hour', 'Bills per day'];
  const ANOMALY_PANELS = ['Requests per successful response', 'Busiest pods\' share of their vendor\'s bytes', 'Spend per hour, now and a week earlier'];
  const recorded = (usage: boolean) => new Set(contractRules({ vendors, jobs: { totals: SCRAPE_JOB, destinations: DESTINATION_SCRAPE_JOB }, usage }).map(r => r.record));

  test('snapshot of Cost & Budget with a usage collector', () => {
    expect(cost(withUsage)).toMatchSnapshot();
  });

  test('the "Billed and measured" row and its panels only with a usage collector; the other dashboards do not change', () => {
    expect(rows(cost(without))).toEqual(['Month to date', 'Rate', 'Anomaly signals']);
    expect(rows(cost(withUsage))).toEqual(['Month to date', 'Rate', 'Billed and measured', 'Anomaly signals']);
    const titles = (d: DashboardJson) => panels(d).map(p => p.title);
    for (const title of USAGE_PANELS) {
      expect(titles(cost(without))).not.toContain(title);
      expect(titles(cost(withUsage))).toContain(title);
    }
    for (const title of ANOMALY_PANELS) {
      expect(titles(cost(without))).toContain(title);
      expect(titles(cost(withUsage))).toContain(title);
    }
    const others = (ds: DashboardJson[]) => JSON.stringify(ds.filter(d => d.uid !== 'proxy-cost'));
    expect(others(withUsage)).toBe(others(without));
  });

  test('every panel reads rules the contract records with these settings: the usage rules only with a usage collector', () => {
    const usageOnly = [...recorded(true)].filter(r => !recorded(false).has(r));
    expect(usageOnly).toEqual(expect.arrayContaining([RULE.billedBytes, RULE.measuredBillableBytes, RULE.billedBytes1d, RULE.billedToMeasured1h]));
    for (const [ds, usage] of [[without, false], [withUsage, true]] as const) {
      const known = recorded(usage);
      for (const q of panelQueries(ds)) {
        for (const name of metricNames(expandVariables(q.expr, { topPods: [] }))) {
          const where = `${usage ? 'with' : 'without'} usage: ${q.dashboard} / ${q.panel}`;
          expect({ where, name, recorded: known.has(name) || RAW_ALLOWED.includes(name) }).toEqual({ where, name, recorded: true });
        }
      }
    }
  });

  test('the new queries parse with the variables substituted and never spell out a raw usage series', () => {
    const queries = panelQueries([cost(withUsage)]).filter(q => [...USAGE_PANELS, ...ANOMALY_PANELS].includes(q.panel));
    expect(queries).toHaveLength(13);
    for (const q of queries) {
      for (const values of [{}, { vendor: ['vendor-a'] }, { vendor: ['vendor-a', 'vendor-b'] }]) {
        const expr = expandVariables(q.expr, values);
        expect({ panel: `${q.panel} / ${q.refId}`, errors: promqlErrors(expr) }).toEqual({ panel: `${q.panel} / ${q.refId}`, errors: [] });
      }
      expect(q.expr).toContain('proxy_vendor=~"$vendor"');
      expect(q.expr).not.toMatch(/proxy_usage_/);
    }
  });

  test('billed and measured bytes/s: the two 5-minute rules per vendor, told apart in the legend', () => {
    const p = panel(cost(withUsage), 'Billed and measured bytes/s');
    expect(p).toMatchObject({ type: 'timeseries', fieldConfig: { defaults: { unit: 'binBps' } } });
    expect(p.targets.map((t: any) => [t.refId, t.expr, t.legendFormat])).toEqual([
      ['A', `${RULE.billedBytes}{proxy_vendor=~"$vendor"}`, '{{proxy_vendor}} billed'],
      ['B', `${RULE.measuredBillableBytes}{proxy_vendor=~"$vendor"}`, '{{proxy_vendor}} measured'],
    ]);
  });

  test('billed but not measured: the difference rule, red from 0 up; billed per account by vendor and account', () => {
    const p = panel(cost(withUsage), 'Billed but not measured');
    expect(exprs(cost(withUsage), 'Billed but not measured')).toEqual([`${RULE.unmeasuredBilledBytes}{proxy_vendor=~"$vendor"}`]);
    expect(p.fieldConfig.defaults).toMatchObject({
      unit: 'binBps',
      thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: 0, color: 'red' }] },
      custom: { thresholdsStyle: { mode: 'line+area' } },
    });
    const account = panel(cost(withUsage), 'Billed bytes/s per account');
    expect(account.targets.map((t: any) => [t.expr, t.legendFormat])).toEqual([[`${RULE.billedAccountBytes}{proxy_vendor=~"$vendor"}`, '{{proxy_vendor}} {{account}}']]);
  });

  test('billed over measured, last hour: the 1h ratio rule per vendor, green within 5% of 1', () => {
    const p = panel(cost(withUsage), 'Billed over measured, last hour');
    expect(p.type).toBe('stat');
    expect(exprs(cost(withUsage), 'Billed over measured, last hour')).toEqual([`${RULE.billedToMeasured1h}{proxy_vendor=~"$vendor"}`]);
    expect(p.fieldConfig.defaults.thresholds.steps).toEqual([{ value: null, color: 'orange' }, { value: 0.95, color: 'green' }, { value: 1.05, color: 'red' }]);
  });

  test('bills per day: range queries at a 1-day step of the increase1d rules, each day read at the midnight after it, joined into one row per vendor and day', () => {
    const p = panel(cost(withUsage), 'Bills per day');
    expect(p).toMatchObject({ type: 'table', interval: '1d', timeFrom: '31d' });
    for (const t of p.targets) expect(t).toMatchObject({ range: true, instant: false, format: 'table' });
    const day = (rule: string) => `sum by (proxy_vendor) (last_over_time(${rule}{proxy_vendor=~"$vendor"}[1d] offset -1d))`;
    expect(p.targets.map((t: any) => [t.refId, t.expr])).toEqual([
      ['A', day(RULE.billedBytes1d)],
      ['B', day(RULE.measuredBillableBytes1d)],
      ['C', `${day(RULE.billedBytes1d)} - on (proxy_vendor) (${day(RULE.measuredBillableBytes1d)} or 0 * ${day(RULE.billedBytes1d)})`],
      ['D', `${day(RULE.billedToMeasured1d)} - 1`],
      ['E', day(RULE.billedRequests1d)],
    ]);
    // Merged on vendor and time; the time column is the day, newest first.
    expect(p.transformations).toEqual([
      { id: 'merge', options: {} },
      { id: 'organize', options: { renameByName: { Time: 'Day' } } },
      { id: 'organize', options: { renameByName: { 'Value #A': 'Billed', 'Value #B': 'Measured', 'Value #C': 'Difference', 'Value #D': 'Difference %', 'Value #E': 'Billed requests' } } },
    ]);
    expect(p.options.sortBy).toEqual([{ displayName: 'Day', desc: true }]);
    const unit = (name: string) => p.fieldConfig.overrides.find((o: any) => o.matcher.options === name)?.properties.find((x: any) => x.id === 'unit')?.value;
    expect(['Day', 'Billed', 'Measured', 'Difference', 'Difference %', 'Billed requests'].map(unit)).toEqual(['time:YYYY-MM-DD', 'bytes', 'bytes', 'bytes', 'percentunit', 'short']);
  });

  test('anomaly signals: requests per success, the busiest pods\' share, and hourly spend beside the same hour a week earlier', () => {
    const d = cost(without);
    expect(exprs(d, 'Requests per successful response')).toEqual([`${RULE.requestsPerSuccess}{proxy_vendor=~"$vendor"}`]);
    expect(panel(d, 'Busiest pods\' share of their vendor\'s bytes').targets.map((t: any) => [t.expr, t.legendFormat]))
      .toEqual([[`${RULE.podShare}{proxy_vendor=~"$vendor"}`, '{{proxy_vendor}} {{namespace}}/{{pod}}']]);
    const spend = panel(d, 'Spend per hour, now and a week earlier');
    expect(spend.fieldConfig.defaults.unit).toBe('currencyUSD');
    expect(spend.targets.map((t: any) => [t.expr, t.legendFormat])).toEqual([[
      `label_replace(${RULE.spendTotal1h}{proxy_vendor=~"$vendor"} * 3600, "when", "now", "", "")`
      + ` or label_replace(${RULE.spendTotal1h}{proxy_vendor=~"$vendor"} offset 1w * 3600, "when", "a week earlier", "", "")`,
      '{{proxy_vendor}} {{when}}',
    ]]);
    expect(spend.fieldConfig.overrides).toEqual([{ matcher: { id: 'byRegexp', options: ' a week earlier$' }, properties: [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }] }]);
  });
});

describe('MetricsStack provisions the dashboards', () => {
  test('one ConfigMap per dashboard, below the last-applied annotation limit, mounted into Grafana', () => {
    // GIVEN
    const chart = Testing.chart();
    // WHEN
    const stack = new MetricsStack(chart, 'm', { vendors, crawlerNamespaces: ['crawlers'] });
    const objects = Testing.synth(chart) as KubeObject[];
    // THEN
    expectValidObjects(objects);
    const maps = objects.filter(o => o.kind === 'ConfigMap' && o.metadata.name.startsWith('grafana-dashboard-'));
    expect(maps.map(m => m.metadata.name)).toEqual(UIDS.map(uid => `grafana-dashboard-${uid}`));
    for (const m of maps) {
      expect(Buffer.byteLength(JSON.stringify(m))).toBeLessThan(MAX_DASHBOARD_BYTES);
      const model = JSON.parse(Object.values(m.data as Record<string, string>)[0]);
      // Provisioned dashboards select the stack's datasource and need no import input.
      expect(model.templating.list[0].current.value).toBe('prometheus');
      expect(model).not.toHaveProperty('__inputs');
    }
    const grafana = objects.find(o => o.kind === 'Deployment' && o.metadata.name === 'grafana')!;
    const mounted = grafana.spec.template.spec.volumes.filter((v: any) => v.configMap?.name?.startsWith('grafana-dashboard-')).map((v: any) => v.configMap.name);
    expect(mounted).toEqual(maps.map(m => m.metadata.name));
    expect(stack.dashboards.map(d => d.uid)).toEqual(UIDS);
  });

  test('range totals use the evaluation interval; the currency unit reaches the cost dashboard', () => {
    const stack = new MetricsStack(Testing.chart(), 'm', {
      vendors, crawlerNamespaces: ['crawlers'], prometheus: { evaluationInterval: '15s' }, dashboards: { currencyUnit: 'currencyEUR' },
    });
    const total = panelQueries(stack.dashboards).find(q => q.panel === 'Sent over the range')!;
    expect(total.expr).toMatch(/\[\$__range\]\)\) \* 15$/);
    expect(JSON.stringify(stack.dashboards.find(d => d.uid === 'proxy-cost'))).toContain('"currencyEUR"');
  });

  test('import files carry a datasource input instead of the stack datasource', () => {
    const stack = new MetricsStack(Testing.chart(), 'm', { vendors, crawlerNamespaces: ['crawlers'] });
    const files = stack.dashboardFiles();
    expect(Object.keys(files)).toEqual(UIDS.map(uid => `dashboards/${uid}.json`));
    for (const content of Object.values(files)) {
      const model = JSON.parse(content);
      expect(model.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
      expect(model.templating.list[0].current.value).toBe('${DS_PROMETHEUS}');
    }
  });

  test('dashboards can be turned off', () => {
    const chart = Testing.chart();
    const stack = new MetricsStack(chart, 'm', { vendors, crawlerNamespaces: ['crawlers'], dashboards: { enabled: false } });
    expect((Testing.synth(chart) as KubeObject[]).filter(o => o.metadata.name.startsWith('grafana-dashboard-'))).toEqual([]);
    expect(stack.dashboardFiles()).toEqual({});
  });
});
