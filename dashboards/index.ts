import { DESTINATION_SCRAPE_JOB, NOT_MEASURED_DESTINATION } from '../core/metric-contract';
import { escapeRegex } from '../core/promql';
import { panelExpr } from './queries';
import { VendorCatalog } from '../core/vendor';
import { checkCurrencyUnit, checkNumber } from '../core/validation';
import { bandwidthDashboard } from './bandwidth';
import { DashboardContext } from './common';
import { costDashboard } from './cost';
import { destinationsDashboard } from './destinations';
import { healthDashboard } from './health';
import { overviewDashboard } from './overview';

export { VARIABLES } from './variables';
export type { DashboardVariable } from './variables';
export { BANDWIDTH_UID, COST_UID, DASHBOARD_TAG, DESTINATIONS_UID, HEALTH_UID, OVERVIEW_UID } from './uids';

/** Input name of the datasource in exported dashboards; Grafana's import asks for it. */
export const DATASOURCE_INPUT = 'DS_PROMETHEUS';

/** Grafana unit of the billing currency on the cost dashboard when none is given: US dollars. */
export const DEFAULT_CURRENCY_UNIT = 'currencyUSD';

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
   * @default DEFAULT_CURRENCY_UNIT ('currencyUSD')
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
  /**
   * A usage collector reports what the vendors billed (job `proxy-usage`): Cost & Budget compares it with what the
   * sidecars measured.
   * @default false
   */
  readonly usage?: boolean;
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
    currencyUnit: props.currencyUnit ?? DEFAULT_CURRENCY_UNIT,
    defaultDatasource: props.datasourceUid ?? `\${${DATASOURCE_INPUT}}`,
    gateways: gateways.length > 0,
    demoGateways: props.demoGateways ?? false,
    usage: props.usage ?? false,
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
