import * as common from '@grafana/grafana-foundation-sdk/common';
import { Dashboard, MappingType, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DashboardContext, VENDOR_LEGEND, barGaugePanel, columnNames, dashboard, instantQuery, query, statPanel, tablePanel, tableQuery, timeseriesPanel } from './common';
import { BANDWIDTH_UID } from './uids';

/** Rows of the top pods bar gauge. */
const TOP_LIST = 10;

/** Upload plotted below the axis, download above. */
const NEGATIVE_Y = [{ id: 'custom.transform', value: 'negative-Y' }];

/** Bytes sent and received per vendor and per pod: what vendors bill per GiB. */
export function bandwidthDashboard(ctx: DashboardContext): Dashboard {
  const e = ctx.expr;
  const board = dashboard(ctx, BANDWIDTH_UID, 'Proxy Bandwidth Analytics',
    'Bytes sent (upload, below the axis) and received (download, above) per vendor and per crawler pod, top pods and totals.',
    ['namespace', 'pod', 'topPods'])
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
    .withPanel(barGaugePanel('Top pods over the range', `The ${TOP_LIST} pods that moved the most bytes (sent plus received) over the time range, `
      + 'ranked among the pods that were in the recorded top lists of their vendor and namespace during it. "Top list complete" says whether another pod could rank higher.', 'bytes')
      .withTarget(instantQuery('A', e.topPodsOverRange(TOP_LIST), `${VENDOR_LEGEND} {{namespace}}/{{pod}}`)))
    .withPanel(statPanel('Top list complete', `Whether the ${TOP_LIST} listed pods are the true top ${TOP_LIST}: the last of them moved at least as much as any pod outside the recorded top lists can have. `
      + 'If not, shorten the range or pick a vendor, namespace or pods.', 'none')
      .graphMode(common.BigValueGraphMode.None)
      .mappings([{ type: MappingType.ValueToText, options: { 0: { text: 'may miss pods', color: 'orange', index: 0 }, 1: { text: 'complete', color: 'green', index: 1 } } }])
      .withTarget(instantQuery('A', e.topPodsComplete(TOP_LIST), 'top list')))
    .withPanel(statPanel('Most a pod outside the top lists moved', 'Over the range, no pod that was never in a recorded top list of its vendor and namespace moved more than this (0: every pod was).', 'bytes')
      .graphMode(common.BigValueGraphMode.None)
      .withTarget(instantQuery('A', e.unlistedPodBytesMax, 'unlisted pods at most')));
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
