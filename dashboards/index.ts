import { ALL_PODS, DESTINATION_LABEL, DESTINATION_SCRAPE_JOB, NOT_MEASURED_DESTINATION } from '../core/metric-contract';
import { escapeRegex } from '../core/promql';
import { VAR, panelExpr } from './queries';
import { VendorCatalog } from '../core/vendor';
import { checkCurrencyUnit, checkNumber } from '../core/validation';
import { bandwidthDashboard } from './bandwidth';
import { DATASOURCE_VAR, DashboardContext } from './common';
import { costDashboard } from './cost';
import { destinationsDashboard } from './destinations';
import { healthDashboard } from './health';
import { overviewDashboard } from './overview';

export { VARIABLES } from './variables';
export type { DashboardVariable } from './variables';
export { BANDWIDTH_UID, COST_UID, DASHBOARD_TAG, DESTINATIONS_UID, HEALTH_UID, OVERVIEW_UID } from './uids';

/** Input name of the datasource in exported dashboards; Grafana's import asks for it. */
export const DATASOURCE_INPUT = 'DS_PROMETHEUS';

export interface ProxyDashboardsProps {
  /** The vendor model: its gateway hosts mark traffic whose destination is hidden in a tunnel. */
  readonly vendors: VendorCatalog;
  /** Scrape job of the crawler sidecars' totals. */
  readonly job: string;
  /**
   * Scrape job of the crawler sidecars' per-destination counters.
   * @default 'crawler-destinations'
   */
  readonly destinationJob?: string;
  /** Evaluation interval of the contract rules in seconds: range totals multiply rule samples by it. */
  readonly ruleIntervalSeconds: number;
  /**
   * Grafana unit of the billing currency.
   * @default 'currencyUSD'
   */
  readonly currencyUnit?: string;
  /**
   * Datasource uid the dashboards select by default. Leave unset for dashboards to import by hand:
   * they then carry a datasource input that Grafana's import dialog asks for.
   * @default - an import input
   */
  readonly datasourceUid?: string;
  /**
   * Prometheus scrapes demo gateways (job `demo-gateways`): the Bandwidth dashboard shows what they served beside
   * what the sidecars measured.
   * @default false
   */
  readonly demoGateways?: boolean;
}

/**
 * A Grafana dashboard JSON model, as provisioned or imported (Grafana's dashboard schema: `panels`, `templating`,
 * `time`, ...). Its own type, so that the public API does not depend on the SDK that builds it.
 */
export interface DashboardJson {
  readonly uid: string;
  readonly title: string;
  readonly panels?: ReadonlyArray<Record<string, any>>;
  readonly templating?: { readonly list?: ReadonlyArray<Record<string, any>> };
  readonly time?: { readonly from: string; readonly to: string };
  readonly [key: string]: unknown;
}

/** The five dashboards: Overview, Bandwidth, Destinations, Performance & Health, Cost & Budget. */
export function proxyDashboards(props: ProxyDashboardsProps): DashboardJson[] {
  checkNumber('ruleIntervalSeconds', props.ruleIntervalSeconds, { min: 1 });
  if (props.currencyUnit !== undefined) checkCurrencyUnit('currencyUnit', props.currencyUnit);
  const gateways = props.vendors.vendors.flatMap(v => v.endpoints.map(ep => ep.host));
  const ctx: DashboardContext = {
    expr: panelExpr({
      job: props.job,
      destinationJob: props.destinationJob ?? DESTINATION_SCRAPE_JOB,
      ruleIntervalSeconds: props.ruleIntervalSeconds,
      // Empty: neither SNI nor service known; "unknown": TLS without SNI or HTTP on an unparsed port; gateways: TCP
      // gateways; "(not measured)": pods over the destination sample limit.
      unknownDestinations: ['', 'unknown', escapeRegex(NOT_MEASURED_DESTINATION), ...[...new Set(gateways)].map(escapeRegex)].join('|'),
    }),
    currencyUnit: props.currencyUnit ?? 'currencyUSD',
    defaultDatasource: props.datasourceUid ?? `\${${DATASOURCE_INPUT}}`,
    gateways: gateways.length > 0,
    demoGateways: props.demoGateways ?? false,
  };
  const built = [overviewDashboard, bandwidthDashboard, destinationsDashboard, healthDashboard, costDashboard].map(f => f(ctx) as unknown as DashboardJson);
  return props.datasourceUid === undefined ? built.map(withImportInput) : built;
}


/** Adds the `__inputs` block Grafana's import dialog uses to ask for the datasource. */
function withImportInput(d: DashboardJson): DashboardJson {
  return {
    __inputs: [{ name: DATASOURCE_INPUT, label: 'Prometheus', description: 'Prometheus that scrapes the crawler sidecars', type: 'datasource', pluginId: 'prometheus', pluginName: 'Prometheus' }],
    __requires: [{ type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' }],
    ...d,
  };
}

/** One query of one panel. */
export interface PanelQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  /** PromQL with Grafana variables. */
  readonly expr: string;
  /** Instant (true) or range query. */
  readonly instant: boolean;
  /** Panel relative time such as 'now/M', if the panel overrides the dashboard range. */
  readonly timeFrom?: string;
  /** The panel's minimum query step (Grafana's "Min interval"), e.g. '1m'. */
  readonly interval?: string;
}

/** Every panel query of the given dashboards (default: the five, for any vendor model). */
export function panelQueries(dashboards: DashboardJson[]): PanelQuery[] {
  return dashboards.flatMap(d => (d.panels ?? []).flatMap((p: any) => (p.targets ?? []).map((t: any) => ({
    dashboard: d.uid, panel: p.title, refId: t.refId, expr: t.expr, instant: t.instant === true, ...(p.timeFrom ? { timeFrom: p.timeFrom } : {}),
    ...(p.interval ? { interval: p.interval } : {}),
  }))));
}

/** Values of the dashboard variables; unset ones mean All. */
export interface VariableValues {
  readonly vendor?: string[];
  readonly namespace?: string[];
  readonly pod?: string[];
  readonly destination?: string[];
  /**
   * Values of the hidden top_pods variable: what Grafana's query of it (VARIABLES.topPods) returns over the range.
   * Required by the queries that use it; an empty list matches no pod.
   */
  readonly topPods?: string[];
  /** `$__range` in seconds. @default 3600 */
  readonly rangeSeconds?: number;
  /** `$__rate_interval` in seconds. @default 60 */
  readonly rateIntervalSeconds?: number;
}

/** Whether a query reads the hidden top_pods variable, which must be resolved before it runs. */
export function readsTopPods(expr: string): boolean {
  return new RegExp(`\\$\\{?${VAR.topPods}\\b`).test(expr);
}

/**
 * Substitutes Grafana's variables as Grafana does for Prometheus: a multi-value selection becomes a regex
 * alternation of escaped values, All becomes `.*`; unknown `$name` references are left alone.
 */
export function expandVariables(expr: string, values: VariableValues = {}): string {
  const multi = (selected?: string[]) => (selected === undefined ? '.*'
    : selected.length === 1 ? escapeRegex(selected[0]) : `(${selected.map(escapeRegex).join('|')})`);
  const range = values.rangeSeconds ?? 3600;
  const vars: Record<string, string> = {
    vendor: multi(values.vendor),
    namespace: multi(values.namespace),
    pod: values.pod === undefined ? ALL_PODS : multi(values.pod),
    [DESTINATION_LABEL]: multi(values.destination),
    __range_s: String(range),
    __range: `${range}s`,
    __rate_interval: `${values.rateIntervalSeconds ?? 60}s`,
    [DATASOURCE_VAR]: 'prometheus',
  };
  if (values.topPods !== undefined) {
    // Grafana's All without an All value: the alternation of every value, or nothing to match when there is none.
    vars[VAR.topPods] = values.topPods.length === 0 ? '' : `(${values.topPods.map(escapeRegex).join('|')})`;
    // Grafana's pipe format: the values joined by '|', unescaped.
    vars[`${VAR.topPods}:pipe`] = values.topPods.join('|');
  } else if (readsTopPods(expr)) {
    throw new Error(`expandVariables: the query reads $${VAR.topPods}; resolve it first (VARIABLES.topPods over the range) and pass 'topPods'`);
  }
  return expr.replace(/\$\{(\w+(?::pipe)?)\}|\$(\w+)/g, (match, braced: string | undefined, bare: string | undefined) => vars[braced ?? bare!] ?? match);
}
