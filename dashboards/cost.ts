import { Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DashboardContext, VENDOR_LEGEND, barGaugePanel, columnNames, dashboard, instantQuery, query, tablePanel, tableQuery, timeseriesPanel } from './common';
import { COST_UID } from './uids';
import { withAnomalySignals } from './anomalies';
import { withBilledAndMeasured } from './billing';

/** Grafana relative time "this month so far": month-to-date panels ignore the dashboard range. */
const MONTH_TO_DATE = 'now/M';

/**
 * What each vendor costs: spend from bytes × price per GiB plus requests × price per 1,000, against budgets; with a
 * usage collector, the vendors' bills against what the sidecars measured; and the signals of the cost anomaly alerts.
 */
export function costDashboard(ctx: DashboardContext): Dashboard {
  const e = ctx.expr;
  const money = ctx.currencyUnit;
  const board = dashboard(ctx, COST_UID, 'Proxy Cost & Budget',
    'Spend per vendor from the prices in the vendor model (per GiB of traffic and per 1,000 requests), month to date against budget, and the projected month end.')
    .withRow(new RowBuilder('Month to date'))
    .withPanel(tablePanel('Month to date per vendor', 'Spend and traffic since the start of the calendar month, the projection at the current rate, and the budgets.', 'Spend')
      .span(24).timeFrom(MONTH_TO_DATE)
      .withTarget(tableQuery('A', e.spendMonthToDate))
      .withTarget(tableQuery('B', e.projectedSpend))
      .withTarget(tableQuery('C', e.monthlyBudget))
      .withTarget(tableQuery('D', e.trafficMonthToDate))
      .withTarget(tableQuery('E', e.pricePerGiB))
      .withTarget(tableQuery('F', e.pricePer1kRequests))
      .withTransformation(columnNames({ A: 'Spend', B: 'Projected month end', C: 'Budget', D: 'Traffic', E: 'Price per GiB', F: 'Price per 1k requests' }))
      .overrideByName('Spend', [{ id: 'unit', value: money }])
      .overrideByName('Projected month end', [{ id: 'unit', value: money }])
      .overrideByName('Budget', [{ id: 'unit', value: money }])
      .overrideByName('Traffic', [{ id: 'unit', value: 'bytes' }])
      .overrideByName('Price per GiB', [{ id: 'unit', value: money }])
      .overrideByName('Price per 1k requests', [{ id: 'unit', value: money }]))
    .withPanel(barGaugePanel('Budget used', 'Month-to-date spend as a share of the monthly budget (vendors with a budget).', 'percentunit')
      .timeFrom(MONTH_TO_DATE).min(0).max(1).withTarget(instantQuery('A', e.budgetUsed, `${VENDOR_LEGEND}`)))
    .withPanel(barGaugePanel('Traffic budget used', 'Month-to-date bytes as a share of the monthly traffic budget (vendors with one).', 'percentunit')
      .timeFrom(MONTH_TO_DATE).min(0).max(1).withTarget(instantQuery('A', e.trafficBudgetUsed, `${VENDOR_LEGEND}`)))
    .withRow(new RowBuilder('Rate'))
    .withPanel(timeseriesPanel('Spend per hour', 'Spend per hour at the rate of the last hour.', money)
      .withTarget(query('A', e.spendPerHour, `${VENDOR_LEGEND}`)))
    .withPanel(barGaugePanel('Projected month end', 'Month-to-date spend plus the current hourly rate until the end of the calendar month.', money)
      .timeFrom(MONTH_TO_DATE).withTarget(instantQuery('A', e.projectedSpend, `${VENDOR_LEGEND}`)));
  // The bills exist only with a usage collector; the anomaly signals' rules always do.
  return withAnomalySignals(ctx.usage ? withBilledAndMeasured(board, ctx) : board, ctx).build();
}
