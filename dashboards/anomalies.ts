import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { TOP_SHARE_PODS } from '../core/rules';
import { DashboardContext, VENDOR_LEGEND, query, timeseriesPanel } from './common';
import { WHEN_LABEL } from './queries';

/**
 * The "Anomaly signals" row of Cost & Budget: what the retry storm, pod share and spend anomaly alerts watch, so that
 * an alert can be read against its history.
 */
export function withAnomalySignals(board: DashboardBuilder, ctx: DashboardContext): DashboardBuilder {
  const e = ctx.expr;
  return board
    .withRow(new RowBuilder('Anomaly signals'))
    .withPanel(timeseriesPanel('Requests per successful response',
      'HTTP requests per 2xx or 3xx response, per vendor: 1 when every request succeeds, growing as crawlers retry failures, which are billed without bringing pages '
      + '(alert ProxyVendorRetryStorm). Plain HTTP only: requests inside a tunnel have no status here. Infinite while nothing succeeds.', 'short')
      .span(8).min(1)
      .withTarget(query('A', e.requestsPerSuccess, VENDOR_LEGEND)))
    .withPanel(timeseriesPanel('Busiest pods\' share of their vendor\'s bytes',
      `The ${TOP_SHARE_PODS} pods per vendor that move the most bytes (upload plus download), each as a share of its vendor's bytes. `
      + 'A share that jumps is one pod suddenly costing more (alert ProxyVendorPodShareJump).', 'percentunit')
      .span(8).min(0).max(1)
      .withTarget(query('A', e.podShare, `${VENDOR_LEGEND} {{namespace}}/{{pod}}`)))
    .withPanel(timeseriesPanel('Spend per hour, now and a week earlier',
      'Spend per hour per vendor at the rate of the last hour, and the same hour a week earlier (dashed): far above last week\'s level and the past day\'s is an anomaly '
      + '(alert ProxyVendorSpendAnomaly); a weekly pattern is not. The week-earlier line starts once Prometheus holds a week of cost records.', ctx.currencyUnit)
      .span(8)
      .overrideByRegexp(' a week earlier$', [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }])
      .withTarget(query('A', e.spendPerHourWeekOverWeek, `${VENDOR_LEGEND} {{${WHEN_LABEL}}}`)));
}
