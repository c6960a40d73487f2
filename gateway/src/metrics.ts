import type * as net from 'node:net';
import type { Counter } from 'prom-client';
import { Increment, ProgramMetrics, cached } from '../../runtime/src/metrics';
import { KNOWN_INJECTED_HEADERS, injectedHeaders } from './injected';

/** How a request reached the gateway; `connect` is the CONNECT itself. */
export type Protocol = 'http1.1' | 'h2' | 'h2c' | 'connect';
/** ALPN result of a TLS handshake in a tunnel. */
export type HandshakeResult = 'h2' | 'http/1.1' | 'none' | 'failed';
/** How a client reached the sites: through the proxy port, or straight to the site port. */
export type TrafficPath = 'proxy' | 'direct';

/** `site` of requests that name no target (origin-form requests to the proxy port, no Host on the site port). */
export const NO_SITE = '-';
/** `site` of every target after MAX_SITES distinct ones. */
export const OTHER_SITE = 'other';

/**
 * The gateway's own Prometheus metrics, on a private registry: what it
 * served, to set beside what the crawler's sidecar measured.
 */
export class GatewayMetrics extends ProgramMetrics {
  private readonly requests: Counter<'vendor' | 'site' | 'path' | 'protocol' | 'code'>;
  private readonly responseBytes: Counter<'vendor' | 'site' | 'path' | 'protocol'>;
  private readonly tunnels: Counter<'vendor' | 'site'>;
  private readonly handshakes: Counter<'vendor' | 'site' | 'path' | 'alpn'>;
  private readonly openTunnels: { inc(value?: number): void; dec(): void };
  private readonly wire: Counter<'vendor' | 'path' | 'direction'>;
  private readonly wireChildren = new Map<TrafficPath, { received: Increment; sent: Increment }>();
  private readonly caExpiry: { set(value: number): void };
  private readonly injected: Counter<'vendor' | 'header'>;
  private readonly injectedChildren = new Map<string, Increment>();
  private readonly sites = new Set<string>();
  private readonly children = new Map<string, { requests: Increment; bytes: Increment }>();
  /** Sockets whose byte counters are not fully counted yet, with the counts so far. */
  private readonly sockets = new Map<net.Socket, { read: number; written: number; path: TrafficPath }>();

  constructor(
    vendor: string,
    private readonly maxSites: number,
    /** Called once, when the first site beyond maxSites is seen. */
    private readonly onSitesFull: (site: string) => void = () => undefined,
  ) {
    super('gateway', vendor);
    this.requests = this.counter({
      name: 'gateway_requests_total',
      help: 'Requests answered, by target site, path (proxy, or direct on the site port), protocol (http1.1, h2, h2c, or connect for CONNECT itself) and status code.',
      labelNames: ['vendor', 'site', 'path', 'protocol', 'code'],
    });
    this.responseBytes = this.counter({
      name: 'gateway_response_bytes_total',
      help: 'Response body bytes sent (synthetic pages and error bodies), by target site, path and protocol.',
      labelNames: ['vendor', 'site', 'path', 'protocol'],
    });
    this.tunnels = this.counter({
      name: 'gateway_tunnels_total',
      help: 'CONNECT tunnels opened (answered 200), by target site.',
      labelNames: ['vendor', 'site'],
    });
    this.handshakes = this.counter({
      name: 'gateway_tls_handshakes_total',
      help: 'TLS handshakes (in tunnels, or on the site port), by target site, path and negotiated ALPN protocol (none, or failed).',
      labelNames: ['vendor', 'site', 'path', 'alpn'],
    });
    this.openTunnels = this.vendorGauge('gateway_open_tunnels', 'CONNECT tunnels open now.');
    this.openTunnels.inc(0);
    const sockets = this.sockets;
    const flushAll = (): void => {
      for (const socket of sockets.keys()) this.flushWire(socket);
    };
    this.wire = this.counter({
      name: 'gateway_wire_bytes_total',
      help: 'Bytes on client connections as TCP carries them (TLS records included), by path and direction.',
      labelNames: ['vendor', 'path', 'direction'],
      // Long-lived connections are counted up to the moment of the scrape.
      collect: flushAll,
    });
    this.wireFor('proxy');
    this.injected = this.counter({
      name: 'gateway_injected_headers_total',
      help: 'Requests received (absolute-form, CONNECT, and requests in tunnels and on the site port) that carried a header a sidecar adds and the crawler never sends (x-envoy-*, x-request-id, x-forwarded-*, trace context), by lower-case header name: 0 everywhere when the sidecars are transparent.',
      labelNames: ['vendor', 'header'],
    });
    for (const header of KNOWN_INJECTED_HEADERS) this.injectedFor(header).inc(0);
    this.caExpiry = this.vendorGauge('gateway_ca_expiry_timestamp_seconds', 'End of validity of the demo CA certificate the gateway signs with (Unix time).');
  }

  /** The `site` label for a target: itself, or `other` past MAX_SITES distinct sites. */
  site(target: string): string {
    if (this.sites.has(target)) return target;
    if (this.sites.size < this.maxSites) {
      this.sites.add(target);
      return target;
    }
    if (this.sites.size === this.maxSites) {
      this.sites.add(OTHER_SITE);
      this.onSitesFull(target);
    }
    return OTHER_SITE;
  }

  recordRequest(site: string, path: TrafficPath, protocol: Protocol, code: string, bodyBytes: number): void {
    const child = cached(this.children, `${site}|${path}|${protocol}|${code}`, () => ({
      requests: this.requests.labels({ vendor: this.vendor, site, path, protocol, code }),
      bytes: this.responseBytes.labels({ vendor: this.vendor, site, path, protocol }),
    }));
    child.requests.inc();
    if (bodyBytes > 0) child.bytes.inc(bodyBytes);
  }

  recordTunnelOpened(site: string): void {
    this.tunnels.labels({ vendor: this.vendor, site }).inc();
    this.openTunnels.inc();
  }

  recordTunnelClosed(): void {
    this.openTunnels.dec();
  }

  recordHandshake(site: string, path: TrafficPath, result: HandshakeResult): void {
    this.handshakes.labels({ vendor: this.vendor, site, path, alpn: result }).inc();
  }

  /** Counts each header of a received request that a sidecar added (once per request and header). */
  recordInjectedHeaders(headers: NodeJS.Dict<string | string[]>): void {
    for (const header of injectedHeaders(headers)) this.injectedFor(header).inc();
  }

  private injectedFor(header: string): Increment {
    return cached(this.injectedChildren, header, () => this.injected.labels({ vendor: this.vendor, header }));
  }

  /** Counts a client connection's bytes from now on, until it closes. */
  trackWireBytes(socket: net.Socket, path: TrafficPath): void {
    // Shown at 0 from the first connection on a path, not only after its first flush.
    this.wireFor(path);
    this.sockets.set(socket, { read: 0, written: 0, path });
    socket.once('close', () => {
      this.flushWire(socket);
      this.sockets.delete(socket);
    });
  }

  setCaExpiry(notAfter: Date): void {
    this.caExpiry.set(Math.floor(notAfter.getTime() / 1000));
  }

  private wireFor(path: TrafficPath): { received: Increment; sent: Increment } {
    return cached(this.wireChildren, path, () => {
      const children = {
        received: this.wire.labels({ vendor: this.vendor, path, direction: 'received' }),
        sent: this.wire.labels({ vendor: this.vendor, path, direction: 'sent' }),
      };
      children.received.inc(0);
      children.sent.inc(0);
      return children;
    });
  }

  private flushWire(socket: net.Socket): void {
    const seen = this.sockets.get(socket);
    if (!seen) return;
    // bytesRead/bytesWritten stay readable after close and keep counting
    // when TLS takes the socket over.
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    const wire = this.wireFor(seen.path);
    if (read > seen.read) wire.received.inc(read - seen.read);
    if (written > seen.written) wire.sent.inc(written - seen.written);
    seen.read = Math.max(seen.read, read);
    seen.written = Math.max(seen.written, written);
  }
}
