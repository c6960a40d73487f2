import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder, DashboardCursorSync, DashboardLinkBuilder, DashboardLinkType, DatasourceVariableBuilder,
  QueryVariableBuilder, ThresholdsConfigBuilder, ThresholdsMode, VariableHide, VariableRefresh, VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as piechart from '@grafana/grafana-foundation-sdk/piechart';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { LABEL } from '../core/metric-contract';
import { PanelExpr, VAR } from './queries';
import { DASHBOARD_TAG } from './uids';
import { DashboardVariable, VARIABLES } from './variables';

/** Name of the datasource variable every panel queries through. */
export const DATASOURCE_VAR = 'datasource';
const DATASOURCE = { type: 'prometheus', uid: `\${${DATASOURCE_VAR}}` };

/** What a dashboard module needs to build its panels. */
export interface DashboardContext {
  readonly expr: PanelExpr;
  /** Grafana unit of the billing currency, e.g. 'currencyUSD'. */
  readonly currencyUnit: string;
  /** Datasource the datasource variable selects by default (a uid, or an import input like `${DS_PROMETHEUS}`). */
  readonly defaultDatasource: string;
  /** Whether some vendor has gateways: panels of the gateway rule only then. */
  readonly gateways: boolean;
  /** Whether Prometheus scrapes demo gateways: their own counts beside the sidecars' then. */
  readonly demoGateways: boolean;
  /** Whether a usage collector reports what the vendors billed: the reconciliation panels then. */
  readonly usage: boolean;
}

/** The vendor in a legend: `{{proxy_vendor}}`, from the one place the label is named. */
export const VENDOR_LEGEND = `{{${LABEL.vendor}}}`;

/** A Prometheus query through the dashboard's datasource variable. */
export function query(refId: string, expr: string, legend?: string): DataqueryBuilder {
  const q = new DataqueryBuilder().refId(refId).datasource(DATASOURCE).expr(expr);
  return legend === undefined ? q : q.legendFormat(legend);
}

/** An instant query: one value per series (bar gauges, pies, stats over the range). */
export function instantQuery(refId: string, expr: string, legend?: string): DataqueryBuilder {
  return query(refId, expr, legend).instant();
}

/** An instant query as a table frame, one column per query (tables). */
export function tableQuery(refId: string, expr: string): DataqueryBuilder {
  return query(refId, expr).instant().format(PromQueryFormat.Table);
}

/**
 * A range query as a table: one row per series and step. Range, not instant: the per-day table needs a row per day,
 * which one evaluation cannot give.
 */
export function rangeTableQuery(refId: string, expr: string): DataqueryBuilder {
  return query(refId, expr).range().format(PromQueryFormat.Table);
}

function legend(placement = common.LegendPlacement.Bottom): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.Table)
    .placement(placement).calcs(['mean', 'max', 'lastNotNull']).sortBy('Mean').sortDesc(true);
}

/**
 * Smallest query step of the time series panels: the recording rules are 5-minute rates evaluated every 30 s, so a
 * finer step draws nothing new and multiplies the cost of a 6-hour graph.
 */
export const MIN_INTERVAL = '1m';

/** A time series panel with a table legend (mean, max, last) sorted by mean. */
export function timeseriesPanel(title: string, description: string, unit: string): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder().title(title).description(description).datasource(DATASOURCE).unit(unit).interval(MIN_INTERVAL)
    .legend(legend()).tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .fillOpacity(10).lineWidth(1).height(9).span(12);
}

/** A single-value panel of the last value. */
export function statPanel(title: string, description: string, unit: string): stat.PanelBuilder {
  return new stat.PanelBuilder().title(title).description(description).datasource(DATASOURCE).unit(unit)
    .graphMode(common.BigValueGraphMode.Area).colorMode(common.BigValueColorMode.Value).textMode(common.BigValueTextMode.ValueAndName)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false)).height(5).span(6);
}

/** Horizontal bars, one per series, largest first. */
export function barGaugePanel(title: string, description: string, unit: string): bargauge.PanelBuilder {
  return new bargauge.PanelBuilder().title(title).description(description).datasource(DATASOURCE).unit(unit)
    .orientation(common.VizOrientation.Horizontal).displayMode(common.BarGaugeDisplayMode.Gradient)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false)).height(9).span(12);
}

/** A table of instant queries merged on their labels. */
export function tablePanel(title: string, description: string, sortBy: string): table.PanelBuilder {
  return new table.PanelBuilder().title(title).description(description).datasource(DATASOURCE)
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true } } })
    .sortBy([new common.TableSortByFieldStateBuilder().displayName(sortBy).desc(true)])
    .filterable(true).height(10).span(12);
}

/**
 * Step of the per-day tables. Grafana aligns a range query's steps to multiples of the step in the dashboard's time
 * zone, so a 1-day step lands on each midnight.
 */
export const DAY_INTERVAL = '1d';

/** Name of the time column of the per-day tables. */
export const DAY_COLUMN = 'Day';

/**
 * A table of range queries at a 1-day step (rangeTableQuery), one row per series and day: merged on their labels and
 * time, the time column shown as the date, newest day first.
 */
export function perDayTablePanel(title: string, description: string): table.PanelBuilder {
  return new table.PanelBuilder().title(title).description(description).datasource(DATASOURCE).interval(DAY_INTERVAL)
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({ id: 'organize', options: { renameByName: { Time: DAY_COLUMN } } })
    .overrideByName(DAY_COLUMN, [{ id: 'unit', value: 'time:YYYY-MM-DD' }])
    .sortBy([new common.TableSortByFieldStateBuilder().displayName(DAY_COLUMN).desc(true)])
    .filterable(true).height(10).span(24);
}

/** Absolute thresholds: `base` below the first step, then each step's color from its value up. */
export function thresholds(base: string, steps: ReadonlyArray<readonly [number, string]> = []): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))]);
}

/** A pie of each series' share. */
export function piePanel(title: string, description: string, unit: string): piechart.PanelBuilder {
  return new piechart.PanelBuilder().title(title).description(description).datasource(DATASOURCE).unit(unit)
    .pieType(piechart.PieChartType.Donut).displayLabels([piechart.PieChartLabels.Percent])
    .legend(new piechart.PieChartLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.Table)
      .placement(common.LegendPlacement.Right).values([piechart.PieChartLegendValues.Percent, piechart.PieChartLegendValues.Value]))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false)).height(9).span(6);
}

/** Renames a table's value columns: one query per column, Grafana names them `Value #<refId>`. */
export function columnNames(names: Record<string, string>): { id: string; options: Record<string, unknown> } {
  return {
    id: 'organize',
    options: { renameByName: Object.fromEntries(Object.entries(names).map(([refId, name]) => [`Value #${refId}`, name])) },
  };
}


/**
 * A dashboard with the shared frame: tags, links to the other dashboards, the datasource variable,
 * the vendor variable and any of namespace, pod and destination (each multi-value with All), and the hidden
 * top_pods variable.
 */
export function dashboard(ctx: DashboardContext, uid: string, title: string, description: string, variables: DashboardVariable[] = []): DashboardBuilder {
  const builder = new DashboardBuilder(title).uid(uid).description(description).tags([DASHBOARD_TAG])
    .readonly().time({ from: 'now-6h', to: 'now' }).refresh('1m').tooltip(DashboardCursorSync.Crosshair)
    .link(new DashboardLinkBuilder('Proxy telemetry').type(DashboardLinkType.Dashboards).tags([DASHBOARD_TAG])
      .asDropdown(true).includeVars(true).keepTime(true))
    .withVariable(new DatasourceVariableBuilder(DATASOURCE_VAR).label('Datasource').type('prometheus')
      .current({ text: 'Prometheus', value: ctx.defaultDatasource }));
  for (const name of ['vendor', ...variables] as const) {
    const { label, query, allValue, hidden } = VARIABLES[name];
    const variable = new QueryVariableBuilder(VAR[name]).label(label).datasource(DATASOURCE)
      .query(query).definition(query)
      .refresh(VariableRefresh.OnTimeRangeChanged).sort(VariableSort.AlphabeticalAsc)
      .multi(true).includeAll(true);
    if (allValue !== undefined) variable.allValue(allValue);
    variable.current({ text: 'All', value: '$__all' });
    builder.withVariable(hidden ? variable.hide(VariableHide.HideVariable) : variable);
  }
  return builder;
}

