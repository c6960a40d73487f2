import { Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DashboardContext, VENDOR_LEGEND, barGaugePanel, columnNames, dashboard, instantQuery, query, statPanel, tablePanel, tableQuery, timeseriesPanel } from './common';
import { BANDWIDTH_UID } from './uids';

/** Upload plotted below the axis, download above. */
const NEGATIVE_Y = [{ id: 'custom.transform', value: 'negative-Y' }];

/** Bytes sent and received per vendor and per pod: what vendors bill per GiB. */
export function bandwidthDashboard(ctx: DashboardContext): Dashboard {
  const e = ctx.expr;
  const board = dashboard(ctx, BANDWIDTH_UID, 'Proxy Bandwidth Analytics',
    'Bytes sent (upload, below the axis) and received (download, above) per vendor and per crawler pod, top pods and totals.',
    ['namespace', 'pod'])
    .withRow(new RowBuilder('Totals over the range'))
    .withPanel(statPanel('Sent over the range', 'Upload of all selected vendors: HTTP request bytes plus bytes the crawlers wrote into TCP connections.', 'bytes')
      .withTarget(instantQuery('A', e.sentOverRange, 'sent')))
    .withPanel(statPanel('Received over the range', 'Download of all selected vendors: HTTP response bytes plus bytes the crawlers read from TCP connections.', 'bytes')
      .withTarget(instantQuery('A', e.receivedOverRange, 'received')))
    .withPanel(tablePanel('Bytes per vendor over the range', 'Totals per vendor over the time range.', 'Received')
      .unit('bytes').span(12)
      .withTarget(tableQuery('A', e.vendorSentOverRange))
      .withTarget(tableQuery('B', e.vendorReceivedOverRange))
      .withTransformation(columnNames({ A: 'Sent', B: 'Received' })))
    .withRow(new RowBuilder('Per vendor'))
    .withPanel(timeseriesPanel('Bytes/s per vendor', 'Upload below the axis, download above.', 'binBps').span(24)
      .withTarget(query('A', e.vendorSentRate, `${VENDOR_LEGEND} sent`))
      .withTarget(query('B', e.vendorReceivedRate, `${VENDOR_LEGEND} received`))
      .overrideByQuery('A', NEGATIVE_Y))
    .withRow(new RowBuilder('Per pod'))
    .withPanel(timeseriesPanel('Bytes/s per pod', 'Upload below the axis, download above, for the selected pods (the 20 busiest each way at each step; pick pods to see others).', 'binBps')
      .withTarget(query('A', e.podSentRate(20), '{{pod}} sent'))
      .withTarget(query('B', e.podReceivedRate(20), '{{pod}} received'))
      .overrideByQuery('A', NEGATIVE_Y))
    .withPanel(barGaugePanel('Top pods over the range', 'The 10 pods that moved the most bytes (sent plus received) over the time range.', 'bytes')
      .withTarget(instantQuery('A', e.topPodsOverRange(10), `${VENDOR_LEGEND} {{namespace}}/{{pod}}`)));
  if (!ctx.demoGateways) return board.build();
  return board
    .withRow(new RowBuilder('Demo gateways'))
    .withPanel(timeseriesPanel('Served by the demo gateways, measured by the sidecars',
      'Download per vendor: bytes the demo gateways sent by their own count (TLS records included), beside the bytes the crawler sidecars received. '
      + 'The two agree within a few percent; a gap shows traffic the sidecars do not see, or traffic that does not go through the gateway (direct sites are served by the gateway pods too).', 'binBps')
      .span(24)
      .withTarget(query('A', e.demoGatewayServedRate, `${VENDOR_LEGEND} served by the gateway`))
      .withTarget(query('B', e.vendorReceivedRate, `${VENDOR_LEGEND} measured by the sidecars`)))
    .build();
}
