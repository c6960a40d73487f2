import { Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DashboardContext, VENDOR_LEGEND, dashboard, instantQuery, piePanel, query, statPanel, timeseriesPanel } from './common';
import { OVERVIEW_UID } from './uids';


/** How much each vendor is used: requests and connections, shares, crawler pods, success. */
export function overviewDashboard(ctx: DashboardContext): Dashboard {
  const e = ctx.expr;
  return dashboard(ctx, OVERVIEW_UID, 'Proxy Overview',
    'Requests per vendor (HTTP requests and TCP connections apart), their totals and shares, crawler pods and success ratio.')
    .withRow(new RowBuilder('Now'))
    .withPanel(statPanel('HTTP requests/s', 'Plain-HTTP requests (HTTP/1.1 and HTTP/2) the sidecars saw, all selected vendors.', 'reqps')
      .withTarget(query('A', e.httpRequestRate, 'HTTP requests/s')))
    .withPanel(statPanel('TCP connections/s', 'Connections opened for HTTPS passthrough and CONNECT tunnels: one per connection, not per request inside it.', 'cps')
      .withTarget(query('A', e.tcpConnectionRate, 'TCP connections/s')))
    .withPanel(statPanel('Requests and connections over the range', 'Totals over the dashboard time range.', 'short')
      .withTarget(instantQuery('A', e.requestsOverRange, '{{request_protocol}}')))
    .withPanel(statPanel('Success ratio', 'Share of HTTP requests answered below 400, per vendor (TCP connections carry no status).', 'percentunit')
      .min(0).max(1).withTarget(query('A', e.successRatio, `${VENDOR_LEGEND}`)))
    .withRow(new RowBuilder('Per vendor'))
    .withPanel(timeseriesPanel('Requests/s per vendor', 'HTTP requests/s (http) and TCP connections/s (tcp) per vendor.', 'reqps')
      .withTarget(query('A', e.requestsPerVendor, `${VENDOR_LEGEND} · {{request_protocol}}`)))
    .withPanel(timeseriesPanel('Crawler pods per vendor', 'Crawler sidecars Prometheus scrapes, per vendor.', 'short')
      .withTarget(query('A', e.crawlerPods, `${VENDOR_LEGEND}`)))
    .withPanel(piePanel('Share of requests over the range', 'Requests and connections per vendor over the time range.', 'short')
      .withTarget(instantQuery('A', e.requestShare, `${VENDOR_LEGEND}`)))
    .withPanel(piePanel('Share of bytes over the range', 'Bytes sent plus received per vendor over the time range.', 'bytes')
      .withTarget(instantQuery('A', e.byteShare, `${VENDOR_LEGEND}`)))
    .build();
}
