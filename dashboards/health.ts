import * as common from '@grafana/grafana-foundation-sdk/common';
import { Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DashboardContext, VENDOR_LEGEND, dashboard, query, timeseriesPanel } from './common';
import { HEALTH_UID } from './uids';

const QUANTILES = [0.5, 0.9, 0.99];

/** Whether traffic through each vendor works: latency, errors, vendor refusals, and the telemetry's own health. */
export function healthDashboard(ctx: DashboardContext): Dashboard {
  const e = ctx.expr;
  const latency = timeseriesPanel('HTTP request duration', 'Percentiles of plain-HTTP request durations per vendor, from the sidecar histogram.', 'ms');
  QUANTILES.forEach((q, i) => latency.withTarget(query(String.fromCharCode(65 + i), e.latencyQuantile(q), `${VENDOR_LEGEND} p${q * 100}`)));
  const board = dashboard(ctx, HEALTH_UID, 'Proxy Performance & Health',
    'Latency and errors of HTTP traffic per vendor, 407 and 429 answers, scrape health of the crawler sidecars and Prometheus ingestion.')
    .withRow(new RowBuilder('Traffic'))
    .withPanel(latency)
    .withPanel(timeseriesPanel('Error ratio', 'Share of HTTP requests answered 4xx or 5xx or not at all.', 'percentunit')
      .min(0).withTarget(query('A', e.errorRatio, `${VENDOR_LEGEND}`)))
    .withPanel(timeseriesPanel('Responses by class', 'Share of HTTP responses per status class; "no response" when the request got none.', 'percentunit')
      .min(0).max(1).stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
      .withTarget(query('A', e.responseClassShare, `${VENDOR_LEGEND} {{class}}`)))
    .withPanel(timeseriesPanel('407 and 429 per vendor',
      'Proxy authentication required and rate-limited answers per second. Only answers to plain-HTTP requests are visible; inside a CONNECT tunnel they are not.', 'reqps')
      .withTarget(query('A', e.codeRate(407), `${VENDOR_LEGEND} 407`))
      .withTarget(query('B', e.codeRate(429), `${VENDOR_LEGEND} 429`)))
    .withRow(new RowBuilder('Telemetry'))
    .withPanel(timeseriesPanel('Crawler sidecars down', 'Scrape targets per vendor whose last scrape failed.', 'short')
      .min(0).withTarget(query('A', e.targetsDown, `${VENDOR_LEGEND}`)))
    .withPanel(timeseriesPanel('Slowest sidecar scrape', 'Longest scrape duration per vendor.', 's')
      .withTarget(query('A', e.scrapeDuration, `${VENDOR_LEGEND}`)))
    .withPanel(timeseriesPanel('Samples per sidecar scrape', 'Largest sample count per scrape after the keep-list, totals and per-destination counters: '
      + 'a target above its job\'s sample limit fails that scrape (totals: its requests and bytes are lost; destinations: only where they went).', 'short')
      .withTarget(query('A', e.scrapeSamples, `${VENDOR_LEGEND} totals`))
      .withTarget(query('B', e.destinationScrapeSamples, `${VENDOR_LEGEND} destinations`)))
    .withPanel(timeseriesPanel('Unattributed traffic', 'Bytes/s of injected pods in crawler namespaces without the proxy-vendor label: charged to no vendor here.', 'binBps')
      .withTarget(query('A', e.unattributedBytes, '{{namespace}}')))
    .withRow(new RowBuilder('Prometheus'))
    .withPanel(timeseriesPanel('Head series', 'Series in the in-memory head block: the main driver of Prometheus memory.', 'short')
      .withTarget(query('A', e.headSeries, '{{instance}}')))
    .withPanel(timeseriesPanel('Samples appended/s', 'Ingestion rate.', 'short')
      .withTarget(query('A', e.samplesAppended, '{{instance}}')));
  if (!ctx.demoGateways) return board.build();
  return board
    .withRow(new RowBuilder('Demo gateways'))
    .withPanel(timeseriesPanel('Headers the sidecar added',
      'Requests/s that reached the demo gateways with a header the crawler never sends and a sidecar adds (x-envoy-*, x-request-id, x-forwarded-*, trace context), '
      + 'per vendor and header. Flat at 0 when the sidecars are transparent; otherwise the crawler pods lack the proxy.istio.io/config proxyHeaders (`proxy-telemetry validate` names them).', 'reqps')
      .span(24)
      .min(0)
      .withTarget(query('A', e.injectedHeaderRate, `${VENDOR_LEGEND} {{header}}`)))
    .build();
}
