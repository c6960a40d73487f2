import { Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DashboardContext, barGaugePanel, columnNames, dashboard, instantQuery, query, statPanel, tablePanel, tableQuery, timeseriesPanel } from './common';

export const BANDWIDTH_UID = 'proxy-bandwidth';
/** Upload plotted below the axis, download above. */
const NEGATIVE_Y = [{ id: 'custom.transform', value: 'negative-Y' }];

/** Bytes sent and received per vendor and per pod: what vendors bill per GiB. */
export function bandwidthDashboard(ctx: DashboardContext): Dashboard {
  const e = ctx.expr;
  return dashboard(ctx, BANDWIDTH_UID, 'Proxy Bandwidth Analytics',
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
      .withTarget(query('A', e.vendorSentRate, '{{proxy_vendor}} sent'))
      .withTarget(query('B', e.vendorReceivedRate, '{{proxy_vendor}} received'))
      .overrideByQuery('A', NEGATIVE_Y))
    .withRow(new RowBuilder('Per pod'))
    .withPanel(timeseriesPanel('Bytes/s per pod', 'Upload below the axis, download above, for the selected pods.', 'binBps')
      .withTarget(query('A', e.podSentRate, '{{pod}} sent'))
      .withTarget(query('B', e.podReceivedRate, '{{pod}} received'))
      .overrideByQuery('A', NEGATIVE_Y))
    .withPanel(barGaugePanel('Top pods over the range', 'The 10 pods that moved the most bytes (sent plus received) over the time range.', 'bytes')
      .withTarget(instantQuery('A', e.topPodsOverRange(10), '{{proxy_vendor}} {{namespace}}/{{pod}}')))
    .build();
}
