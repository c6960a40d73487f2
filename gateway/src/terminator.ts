import * as net from 'node:net';
import * as tls from 'node:tls';
import type { CertificateAuthority, ServerCertificate } from './ca';
import { LruCache } from './lru';
import type { TrafficPath } from './metrics';

/** Server names (and CONNECT authorities) kept with a ready certificate. */
const CACHED_NAMES = 1000;
/** A client that connects and never finishes its handshake is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Offered in this order: the gateway prefers HTTP/2. */
export const ALPN_PROTOCOLS = ['h2', 'http/1.1'];

/** Where a connection's requests go: the CONNECT target of a tunnel, or the site port. */
export interface TunnelTarget {
  path: TrafficPath;
  /** host:port as in the CONNECT request (IPv6 in brackets); none on the site port, where each request names its site. */
  authority?: string;
  /**
   * Host name or IP address, without brackets: the certificate name when the
   * client sends no SNI. The CONNECT host; on the site port, the address the
   * client connected to (clients send no SNI for IP addresses).
   */
  hostname: string;
  /** The `site` metric label: of the tunnel; on the site port, of failed handshakes only. */
  site: string;
}

export interface TerminatorHooks {
  /** A handshake finished: serve HTTP on the TLS socket. */
  secure(socket: tls.TLSSocket, target: TunnelTarget): void;
  /** A handshake failed (the socket is already destroyed). */
  failed(error: Error, target: TunnelTarget): void;
}

interface Issued {
  certificate: ServerCertificate;
  context: tls.SecureContext;
  renewAt: number;
}

/** DNS names as SNI carries them (IP literals, which some clients send, are checked apart). */
const SERVER_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/;

/**
 * TLS termination for CONNECT tunnels and the site port, with certificates
 * minted per server name by the demo CA: the one the client asks for by
 * SNI, or the target's `hostname` when it sends none (as for IP addresses).
 *
 * Sockets are handed to a non-listening tls.Server per CONNECT authority
 * (or site-port local address), whose default certificate is that hostname. (A bare server-side
 * tls.TLSSocket would do, but HTTP/2 sessions never start on one: they wait
 * for a 'secureConnect' that only client sockets emit.)
 */
export class TlsTerminator {
  private readonly issued = new LruCache<string, Issued>(CACHED_NAMES);
  private readonly servers = new LruCache<string, { server: tls.Server; renewAt: number }>(CACHED_NAMES);

  constructor(
    private readonly ca: CertificateAuthority,
    private readonly hooks: TerminatorHooks,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the server side of TLS on a tunnel's (or the site port's) socket. */
  accept(socket: net.Socket, target: TunnelTarget): void {
    this.serverFor(target).emit('connection', socket);
  }

  /** The certificate for a server name (cached until half its lifetime has passed). */
  certificate(serverName: string): ServerCertificate {
    return this.issue(serverName).certificate;
  }

  private issue(serverName: string): Issued {
    const now = this.now();
    const cached = this.issued.get(serverName);
    if (cached && now < cached.renewAt) return cached;
    const certificate = this.ca.issue(serverName, new Date(now));
    const entry: Issued = {
      certificate,
      context: tls.createSecureContext({ cert: certificate.certPem, key: certificate.keyPem }),
      renewAt: now + (certificate.notAfter.getTime() - now) / 2,
    };
    this.issued.set(serverName, entry);
    return entry;
  }

  private serverFor(target: TunnelTarget): tls.Server {
    const now = this.now();
    // Site-port targets differ only by the local address.
    const key = target.authority ?? `direct ${target.hostname}`;
    const cached = this.servers.get(key);
    if (cached && now < cached.renewAt) return cached.server;
    const fallback = this.issue(target.hostname);
    const server = tls.createServer({
      cert: fallback.certificate.certPem,
      key: fallback.certificate.keyPem,
      ALPNProtocols: ALPN_PROTOCOLS,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      SNICallback: (name, callback) => {
        const serverName = name.toLowerCase();
        if (serverName === target.hostname) {
          callback(null, fallback.context);
        } else if (SERVER_NAME.test(serverName) || net.isIP(serverName)) {
          callback(null, this.issue(serverName).context);
        } else {
          callback(new Error(`unusable server name ${JSON.stringify(name)}`), undefined);
        }
      },
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => this.hooks.secure(socket, target));
    server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
      socket.destroy();
      this.hooks.failed(error, target);
    });
    this.servers.set(key, { server, renewAt: fallback.renewAt });
    return server;
  }
}
