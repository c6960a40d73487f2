import type * as net from 'node:net';
import type { Counter } from 'prom-client';
import { Increment, ProgramMetrics, cached } from '../../runtime/src/metrics';
import { KNOWN_INJECTED_HEADERS, injectedHeaders } from './injected';
import type { UsageStore } from './usage';

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

/** Who pays for bytes: an account, or nobody (`null`: a request refused before it authenticated). */
type Payer = string | null;

/**
 * Who pays for what a proxy-port connection moves. A CONNECT's payer pays
 * for the whole connection from the CONNECT's head on; otherwise each
 * absolute-form request's payer pays from its head to the end of its answer.
 */
interface Ledger {
  /** The payers of the absolute-form requests in flight, oldest first (more than one only when pipelined). */
  readonly requests: Array<{ payer: Payer }>;
  /** Set by a CONNECT, for good. */
  tunnel?: Payer;
  /** Bytes since the last request ended, before the next one tells who pays: its head. */
  unassigned: number;
}

/** What a client connection has been counted for so far. */
interface Wire {
  read: number;
  written: number;
  readonly path: TrafficPath;
  /** Proxy-port connections only: the site port is not the vendor's usage. */
  readonly ledger?: Ledger;
}

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
  private readonly billedBytes: Counter<'vendor' | 'account'>;
  private readonly billedRequests: Counter<'vendor' | 'account'>;
  private readonly billedChildren = new Map<string, { bytes: Increment; requests: Increment }>();
  /** The usage API's buckets, when it is on. */
  private usage?: UsageStore;
  /** Sockets whose byte counters are not fully counted yet, with the counts so far. */
  private readonly sockets = new Map<net.Socket, Wire>();

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
    this.billedBytes = this.counter({
      name: 'gateway_billed_bytes_total',
      help: 'Bytes billed, by account (the proxy user, or default without proxy credentials): the part of gateway_wire_bytes_total{path="proxy"} on connections of authenticated CONNECTs and absolute-form requests, both directions, as the usage API reports it.',
      labelNames: ['vendor', 'account'],
      collect: flushAll,
    });
    this.billedRequests = this.counter({
      name: 'gateway_billed_requests_total',
      help: 'Requests billed, by account: authenticated CONNECTs (once each, whatever their tunnel carries) and absolute-form requests, 429s included, as the usage API reports them.',
      labelNames: ['vendor', 'account'],
    });
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

  /** Counts a client connection's bytes from now on, until it closes; a proxy-port connection's are billed too. */
  trackWireBytes(socket: net.Socket, path: TrafficPath): void {
    // Shown at 0 from the first connection on a path, not only after its first flush.
    this.wireFor(path);
    this.sockets.set(socket, { read: 0, written: 0, path, ledger: path === 'proxy' ? { requests: [], unassigned: 0 } : undefined });
    socket.once('close', () => {
      // Bytes no request claimed (a malformed one, a client that hung up mid-head) are nobody's.
      this.flushWire(socket);
      this.sockets.delete(socket);
    });
  }

  /** Counts every open connection's bytes up to now (and bills them). */
  flushWireBytes(): void {
    for (const socket of this.sockets.keys()) this.flushWire(socket);
  }

  /** Sends billed usage to the usage API's buckets as well. */
  attachUsage(store: UsageStore): void {
    this.usage = store;
  }

  /** Shows the account's billed series at 0 before its first request. */
  showAccount(account: string): void {
    this.billedFor(account);
  }

  /**
   * An absolute-form request on a proxy-port connection, billed to `account`
   * (undefined: it did not authenticate, nobody pays) from its head on.
   * Returns what to call once the request is read and its answer is out.
   */
  billRequest(socket: net.Socket, account: string | undefined): () => void {
    if (account !== undefined) this.bill(account, 0, 1);
    const ledger = this.sockets.get(socket)?.ledger;
    if (!ledger || ledger.tunnel !== undefined) return () => undefined;
    // What moved so far is the previous request's, or (unassigned) this one's head.
    this.flushWire(socket);
    const entry = { payer: account ?? null };
    ledger.requests.push(entry);
    if (ledger.requests.length === 1) this.assign(ledger, entry.payer);
    let ended = false;
    return () => {
      if (ended || !this.sockets.has(socket)) return;
      ended = true;
      this.flushWire(socket);
      const index = ledger.requests.indexOf(entry);
      if (index >= 0) ledger.requests.splice(index, 1);
      if (ledger.requests.length > 0) this.assign(ledger, ledger.requests[0].payer);
    };
  }

  /** A CONNECT: the connection is billed to `account` (undefined: nobody) from the CONNECT's head on, for good. */
  billTunnel(socket: net.Socket, account: string | undefined): void {
    if (account !== undefined) this.bill(account, 0, 1);
    const ledger = this.sockets.get(socket)?.ledger;
    if (!ledger || ledger.tunnel !== undefined) return;
    this.flushWire(socket);
    ledger.tunnel = account ?? null;
    this.assign(ledger, ledger.tunnel);
  }

  /** Unassigned bytes go to the payer that now claims them. */
  private assign(ledger: Ledger, payer: Payer): void {
    if (ledger.unassigned > 0 && payer !== null) this.bill(payer, ledger.unassigned, 0);
    ledger.unassigned = 0;
  }

  private bill(account: string, bytes: number, requests: number): void {
    const child = this.billedFor(account);
    if (bytes > 0) child.bytes.inc(bytes);
    if (requests > 0) child.requests.inc(requests);
    this.usage?.add(account, bytes, requests);
  }

  private billedFor(account: string): { bytes: Increment; requests: Increment } {
    return cached(this.billedChildren, account, () => {
      const children = {
        bytes: this.billedBytes.labels({ vendor: this.vendor, account }),
        requests: this.billedRequests.labels({ vendor: this.vendor, account }),
      };
      children.bytes.inc(0);
      children.requests.inc(0);
      return children;
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
    const read = finite(socket.bytesRead, seen.read);
    const written = finite(socket.bytesWritten, seen.written);
    const wire = this.wireFor(seen.path);
    const received = Math.max(0, read - seen.read);
    const sent = Math.max(0, written - seen.written);
    if (received > 0) wire.received.inc(received);
    if (sent > 0) wire.sent.inc(sent);
    seen.read = Math.max(seen.read, read);
    seen.written = Math.max(seen.written, written);
    // The same bytes, billed: wire and billed counts cannot drift apart.
    const ledger = seen.ledger;
    if (!ledger || received + sent === 0) return;
    const payer = ledger.tunnel !== undefined ? ledger.tunnel : ledger.requests[0]?.payer;
    if (payer === undefined) ledger.unassigned += received + sent;
    else if (payer !== null) this.bill(payer, received + sent, 0);
  }
}

/** A counter Node cannot give (undefined once a socket's buffers are gone) has not moved. */
function finite(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
