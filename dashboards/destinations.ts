import { Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DashboardContext, VENDOR_LEGEND, columnNames, dashboard, query, tablePanel, tableQuery, timeseriesPanel } from './common';
import { DESTINATIONS_UID } from './uids';


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
      + 'connections through a TCP gateway, which show only the gateway, and pods over the destination sample limit ("(not measured)"). '
      + 'Not zero traffic: requests and bytes are counted, the site is not known.', 'percentunit')
      .min(0).max(1).withTarget(query('A', e.unknownDestinationRequestShare, `${VENDOR_LEGEND}`)))
    .withPanel(timeseriesPanel('Pods whose destinations are not measured',
      'Crawler pods per vendor that reach more destinations than the destination scrape\'s sample limit: their requests count under "(not measured)"; '
      + 'their totals and bytes are measured. Bytes are never broken down by destination: a series per host would cost what a broad crawler cannot afford.', 'short')
      .min(0).withTarget(query('A', e.destinationsNotMeasured, `${VENDOR_LEGEND}`)))
    .withRow(new RowBuilder('Top destinations'))
    .withPanel(tablePanel('Top destinations by requests', 'The 25 busiest destinations per vendor and protocol now.', 'Requests/s')
      .unit('reqps').span(24)
      .withTarget(tableQuery('A', e.topDestinationRequests(25)))
      .withTransformation(columnNames({ A: 'Requests/s' })))
    .withRow(new RowBuilder('Over time'))
    .withPanel(timeseriesPanel('Requests/s per destination', 'Requests and connections per second of the selected destinations (the 10 busiest at each step).', 'reqps')
      // A 5-minute step, the rule's own window: every step reads each listed destination of every selected vendor
      // (up to maxPerVendor per vendor and protocol), and a 1-minute step would read each five times for nothing new.
      .span(24).interval('5m').withTarget(query('A', e.destinationRequestRate(10), '{{destination}}')));
  if (!ctx.gateways) return board.build();
  return board
    .withRow(new RowBuilder('Gateways'))
    .withPanel(timeseriesPanel('Requests and connections per gateway',
      'Per vendor gateway host, whichever vendor\'s pods sent them: requests through an inspected gateway (http), connections to a TCP gateway (tcp). '
      + 'Pods of one vendor on another vendor\'s gateway are misrouted (alert ProxyCrawlerMisrouted).', 'reqps')
      .span(24).withTarget(query('A', e.gatewayRequestRate, `${VENDOR_LEGEND} → {{gateway}} ({{request_protocol}})`)))
    .build();
}
