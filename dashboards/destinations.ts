import { Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DashboardContext, barGaugePanel, columnNames, dashboard, instantQuery, query, tablePanel, tableQuery, timeseriesPanel } from './common';

export const DESTINATIONS_UID = 'proxy-destinations';

/** Which sites the crawlers reach through each vendor, and how much traffic has no known destination. */
export function destinationsDashboard(ctx: DashboardContext): Dashboard {
  const e = ctx.expr;
  const board = dashboard(ctx, DESTINATIONS_UID, 'Proxy Destination Tracking',
    'Destinations per vendor: the host of HTTP requests (the target through an inspected gateway), the SNI of TLS connections, '
    + 'the gateway host of connections through a TCP gateway.',
    ['destination'])
    .withRow(new RowBuilder('Unknown destinations'))
    .withPanel(timeseriesPanel('Requests without a known destination',
      'Share of requests and connections whose destination the sidecar cannot see: TLS without SNI and HTTP on an unparsed port ("unknown"), '
      + 'and connections through a TCP gateway, which show only the gateway. Not zero traffic: the bytes are counted, the site is not known.', 'percentunit')
      .min(0).max(1).withTarget(query('A', e.unknownDestinationRequestShare, '{{proxy_vendor}}')))
    .withPanel(timeseriesPanel('Download without a known destination', 'Share of received bytes whose destination is unknown or a vendor gateway.', 'percentunit')
      .min(0).max(1).withTarget(query('A', e.unknownDestinationByteShare, '{{proxy_vendor}}')))
    .withRow(new RowBuilder('Top destinations'))
    .withPanel(tablePanel('Top destinations by requests', 'The 25 busiest destinations per vendor and protocol now.', 'Requests/s')
      .unit('reqps').span(24)
      .withTarget(tableQuery('A', e.topDestinationRequests(25)))
      .withTransformation(columnNames({ A: 'Requests/s' })))
    .withPanel(barGaugePanel('Top destinations by download', 'Received bytes/s of the 10 largest destinations.', 'binBps')
      .withTarget(instantQuery('A', e.topDestinationReceived(10), '{{destination}}')))
    .withPanel(barGaugePanel('Top destinations by upload', 'Sent bytes/s of the 10 largest destinations.', 'binBps')
      .withTarget(instantQuery('A', e.topDestinationSent(10), '{{destination}}')))
    .withRow(new RowBuilder('Over time'))
    .withPanel(timeseriesPanel('Requests/s per destination', 'Requests and connections per second of the selected destinations (the 10 busiest at each step).', 'reqps')
      .span(24).withTarget(query('A', e.destinationRequestRate(10), '{{destination}}')));
  if (!ctx.gateways) return board.build();
  return board
    .withRow(new RowBuilder('Gateways'))
    .withPanel(timeseriesPanel('Requests and connections per gateway',
      'Per vendor gateway host, whichever vendor\'s pods sent them: requests through an inspected gateway (http), connections to a TCP gateway (tcp). '
      + 'Pods of one vendor on another vendor\'s gateway are misrouted (alert ProxyCrawlerMisrouted).', 'reqps')
      .span(24).withTarget(query('A', e.gatewayRequestRate, '{{proxy_vendor}} → {{gateway}} ({{request_protocol}})')))
    .build();
}
