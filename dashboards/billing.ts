import * as common from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DEFAULT_USAGE_OUTSIDE_FLEET_RATIO } from '../core/alerts';
import { ACCOUNT_LABEL } from '../core/metric-contract';
import {
  DashboardContext, VENDOR_LEGEND, columnNames, perDayTablePanel, query, rangeTableQuery, statPanel, thresholds, timeseriesPanel,
} from './common';

/** Days the per-day table shows, whatever the dashboard's range: a month of bills. */
const LAST_31_DAYS = '31d';

/** Share by which billed and measured may differ and still match: the usage-outside-the-fleet alert's default. */
const MATCH = DEFAULT_USAGE_OUTSIDE_FLEET_RATIO;

/**
 * The "Billed and measured" row of Cost & Budget, for a usage collector: what each vendor says it billed beside what
 * the crawler sidecars measured to its gateways, now, per account, per day and over the last hour.
 */
export function withBilledAndMeasured(board: DashboardBuilder, ctx: DashboardContext): DashboardBuilder {
  const e = ctx.expr;
  return board
    .withRow(new RowBuilder('Billed and measured'))
    .withPanel(timeseriesPanel('Billed and measured bytes/s',
      'Bytes/s each vendor\'s usage source says it billed (net of revisions), beside the bytes/s the crawler sidecars sent to and received from its gateways, '
      + 'counted as the vendor bills them (upload, download or both). Apart by more than a few percent: traffic from outside the fleet, or a vendor that counts differently.', 'binBps')
      .withTarget(query('A', e.billedBytesRate, `${VENDOR_LEGEND} billed`))
      .withTarget(query('B', e.measuredBillableBytesRate, `${VENDOR_LEGEND} measured`)))
    .withPanel(timeseriesPanel('Billed but not measured',
      'Billed minus measured bytes/s per vendor: traffic the vendor carried that no crawler sidecar sent (credentials used outside the fleet, a job outside the mesh); '
      + 'the whole bill of a vendor without gateways. Anything above 0 (red) matters (alert ProxyVendorUsageOutsideFleet); below 0 the vendor billed less than was measured.', 'binBps')
      .thresholds(thresholds('green', [[0, 'red']]))
      .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.LineAndArea))
      .withTarget(query('A', e.unmeasuredBilledBytesRate, VENDOR_LEGEND)))
    .withPanel(timeseriesPanel('Billed bytes/s per account',
      'Bytes/s billed per vendor and account (net of revisions): which credentials the traffic was billed to. An account no crawler uses is traffic from outside the fleet.', 'binBps')
      .withTarget(query('A', e.billedAccountBytesRate, `${VENDOR_LEGEND} {{${ACCOUNT_LABEL}}}`)))
    .withPanel(statPanel('Billed over measured, last hour',
      `Bytes billed in the last hour over the bytes the sidecars measured to the vendor's gateways in it: 1 when the bill matches the fleet. `
      + `Green within ${MATCH * 100}%, red above (billed more than measured), orange below.`, 'none')
      .span(12).height(9).decimals(3)
      .thresholds(thresholds('orange', [[1 - MATCH, 'green'], [1 + MATCH, 'red']]))
      .withTarget(query('A', e.billedToMeasured1h, VENDOR_LEGEND)))
    .withPanel(perDayTablePanel('Bills per day',
      'One row per vendor and day (midnight to midnight in the dashboard\'s time zone; today\'s row: the 24 hours until now), over the last 31 days: bytes billed, bytes the sidecars measured to '
      + 'the vendor\'s gateways counted as it bills them, their difference (billed − measured), the difference as a share of measured (billed / measured − 1), and requests billed. From the 1-day increases recorded every 5 minutes, '
      + 'read at the following midnight (the last record within 5 minutes before it). Billed is what the usage source reported during the day: a vendor that reports late moves bytes to the next day.')
      .timeFrom(LAST_31_DAYS)
      .withTarget(rangeTableQuery('A', e.billedBytesPerDay))
      .withTarget(rangeTableQuery('B', e.measuredBytesPerDay))
      .withTarget(rangeTableQuery('C', e.unmeasuredBytesPerDay))
      .withTarget(rangeTableQuery('D', e.billedOverMeasuredPerDay))
      .withTarget(rangeTableQuery('E', e.billedRequestsPerDay))
      .withTransformation(columnNames({ A: 'Billed', B: 'Measured', C: 'Difference', D: 'Difference %', E: 'Billed requests' }))
      .overrideByName('Billed', [{ id: 'unit', value: 'bytes' }])
      .overrideByName('Measured', [{ id: 'unit', value: 'bytes' }])
      .overrideByName('Difference', [{ id: 'unit', value: 'bytes' }])
      .overrideByName('Difference %', [
        { id: 'unit', value: 'percentunit' },
        { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorText } },
        { id: 'thresholds', value: thresholds('orange', [[-MATCH, 'green'], [MATCH, 'red']]).build() },
      ])
      .overrideByName('Billed requests', [{ id: 'unit', value: 'short' }]));
}
