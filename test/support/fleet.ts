import { VendorCatalog, VendorProps } from '../../core/vendor';
import { CrawlerFlow, DirectHttp, DirectTls, ViaGateway } from '../../harness/crawler-flows';
import { FleetPod } from './simulated-stack';

/**
 * The simulated crawler fleet the end-to-end, dashboard and validate tests share: every path a crawler's traffic
 * can take, each with its own vendor.
 * - vendor-a: a TCP gateway (the default): CONNECT tunnels and absolute-form requests, a 407 the sidecar cannot see.
 * - vendor-b: an inspected gateway (`gateway.inspect: 'http'`): tunnels and absolute-form requests, 404, 407, 429.
 * - vendor-c: direct: HTTP/1.1 and h2c on port 80 (200, 503), TLS with and without SNI, and HTTP on 8080, a port
 *   the mesh does not parse.
 * - a pod without the vendor label (unattributed traffic).
 */

export const FLEET_NAMESPACE = 'crawlers';
export const TCP_GATEWAY = 'gw.vendor-a.example:8000';
export const INSPECTED_GATEWAY = 'proxy.vendor-b.example:22225';

export const FLEET_VENDORS: VendorProps[] = [
  { name: 'vendor-a', endpoints: [TCP_GATEWAY], pricePerGiB: 4, monthlyBudget: 1000, monthlyTrafficBudgetGiB: 500 },
  { name: 'vendor-b', endpoints: [INSPECTED_GATEWAY], gateway: { inspect: 'http' }, pricePerGiB: 1, pricePer1kRequests: 0.5, monthlyBudget: 500 },
  { name: 'vendor-c', pricePerGiB: 2 },
];

export const fleetVendors = (): VendorCatalog => new VendorCatalog(FLEET_VENDORS);

/** Plain HTTP to a site: keep-alive, 20 kB pages. */
export const site = (host: string, perSecond: number, o: Partial<DirectHttp> = {}): DirectHttp =>
  ({ kind: 'http', host, perSecond, requestsPerConnection: 10, responseCode: 200, upBytes: 350, downBytes: 20_000, durationMs: 120, ...o });

/** HTTPS to a site: a connection carries 20 requests. */
export const tlsSite = (host: string, perSecond: number, o: Partial<DirectTls> = {}): DirectTls =>
  ({ kind: 'tls', host, perSecond, requestsPerConnection: 20, upBytes: 9_000, downBytes: 400_000, ...o });

/** Through a gateway: absolute-form requests on keep-alive connections, or tunnels carrying 20 requests each. */
export const viaGateway = (gateway: string, scheme: 'http' | 'https', target: string, perSecond: number, o: Partial<ViaGateway> = {}): ViaGateway => ({
  kind: 'gateway', gateway, scheme, target, perSecond, requestsPerConnection: scheme === 'http' ? 10 : 20, responseCode: 200,
  upBytes: scheme === 'http' ? 420 : 12_000, downBytes: scheme === 'http' ? 18_000 : 600_000, durationMs: 150, ...o,
});

/** A CONNECT the gateway refuses: only the CONNECT head and the refusal cross the wire. */
const refused = (code: number): Partial<ViaGateway> => ({ responseCode: code, upBytes: 210, downBytes: 160, durationMs: 5 });

/** The fleet's pods on loopback addresses `<ipPrefix>.<n>` (e.g. '127.10.0'). */
export function fleetPods(ipPrefix: string): FleetPod[] {
  const pod = (name: string, n: number, vendor: string | undefined, flows: CrawlerFlow[]): FleetPod =>
    ({ name, namespace: FLEET_NAMESPACE, vendor, ip: `${ipPrefix}.${n}`, flows });
  return [
    pod('crawler-vendor-a-7d9c6b5f4-k2x9p', 1, 'vendor-a', [
      viaGateway(TCP_GATEWAY, 'https', 'www.wikipedia.org', 12),
      viaGateway(TCP_GATEWAY, 'http', 'example.com', 4, { requestsPerConnection: 4 }),
    ]),
    pod('crawler-vendor-a-7d9c6b5f4-q7w4z', 2, 'vendor-a', [
      viaGateway(TCP_GATEWAY, 'https', 'en.wikipedia.org', 8),
      viaGateway(TCP_GATEWAY, 'http', 'example.org', 6, { requestsPerConnection: 3 }),
      // Refused by the gateway, but the sidecar sees only a connection and its bytes.
      viaGateway(TCP_GATEWAY, 'http', 'example.net', 1, { responseCode: 407, downBytes: 200 }),
    ]),
    pod('crawler-vendor-b-6c8d7e9f5-m3n8c', 3, 'vendor-b', [
      viaGateway(INSPECTED_GATEWAY, 'https', 'www.wikipedia.org', 10),
      viaGateway(INSPECTED_GATEWAY, 'http', 'example.com', 30, { durationMs: 250 }),
      viaGateway(INSPECTED_GATEWAY, 'http', 'example.org', 6, { responseCode: 404, downBytes: 900, durationMs: 40 }),
      viaGateway(INSPECTED_GATEWAY, 'https', 'shop.example.org', 1, refused(407)),
      viaGateway(INSPECTED_GATEWAY, 'http', 'example.net', 2, { responseCode: 429, downBytes: 300, durationMs: 15 }),
    ]),
    // Absolute-form only: no TCP series, which `a + b` would lose.
    pod('crawler-vendor-b-6c8d7e9f5-t5v1r', 4, 'vendor-b', [
      viaGateway(INSPECTED_GATEWAY, 'http', 'example.com', 20, { durationMs: 300 }),
    ]),
    pod('crawler-vendor-c-7d9e8f6a4-c1c1c', 5, 'vendor-c', [
      site('example.io', 9, { durationMs: 700, downBytes: 8_000 }),
      site('example.io', 1, { responseCode: 503, downBytes: 150, durationMs: 30 }),
      site('example.com', 3, { httpVersion: '2', requestsPerConnection: 100 }),
      // An IP-address target: no SNI.
      tlsSite('93.184.216.34', 5, { sni: false, upBytes: 2_000, downBytes: 250_000 }),
      tlsSite('www.wikipedia.org', 4),
    ]),
    pod('crawler-vendor-c-7d9e8f6a4-c2c2c', 6, 'vendor-c', [
      site('example.com', 5),
      // Plain HTTP on a port that is not in MeshTelemetry.httpPorts: a TCP connection to "unknown".
      site('example.net', 2, { port: 8080, requestsPerConnection: 2 }),
    ]),
    // Injected, without the proxy-vendor label: reported as unattributed.
    pod('batch-job-7d9c6b5f4-zz9yy', 9, undefined, [site('example.net', 7, { downBytes: 5_000 })]),
  ];
}
