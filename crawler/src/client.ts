import type { ClientHttp2Session, OutgoingHttpHeaders } from 'node:http2';
import type * as tls from 'node:tls';
import type { Target, TlsSettings } from './config';
import { openSocket, tlsOptions } from './connect';
import { AlpnError, TimeoutError } from './errors';
import { ExchangeResult, Http1Transport } from './h1';
import { Http2Sessions, http2Exchange } from './h2';

export type Protocol = 'http1.1' | 'h2' | 'h2c';
/** `unknown` only when an auto (ALPN) target failed before negotiating. */
export type ProtocolLabel = Protocol | 'unknown';

export interface Outcome {
  protocol: ProtocolLabel;
  /** Set when a response (or a proxy's CONNECT answer) arrived. */
  status?: number;
  error?: unknown;
  requestBytes: number;
  responseBytes: number;
  seconds: number;
}

export interface ClientOptions {
  vendor: string;
  userAgent: string;
  timeoutMs: number;
  tls: TlsSettings;
}

/**
 * Sends one GET per call to a target over the protocol its mode asks for:
 * HTTP/1.1 via keep-alive agents, HTTP/2 via one reused session per origin,
 * and for `auto` (https) whatever ALPN settles on the first connection.
 */
export class Client {
  private readonly h1: Http1Transport;
  private readonly h2 = new Http2Sessions();
  private readonly connecting = new Map<string, Promise<ClientHttp2Session | undefined>>();
  /** Auto origins whose server chose http/1.1. */
  private readonly http1Origins = new Set<string>();
  private readonly tls: tls.ConnectionOptions;
  private readonly h1Headers: Record<string, string>;
  private readonly tunnelHeaders: Record<string, string>;

  constructor(private readonly opts: ClientOptions) {
    this.tls = tlsOptions(opts.tls);
    this.h1Headers = { 'x-proxy-vendor': opts.vendor, 'user-agent': opts.userAgent, accept: '*/*' };
    // The vendor header also goes on CONNECT: for https it is the only
    // plaintext request a sidecar or the gateway gets to see.
    this.tunnelHeaders = { 'x-proxy-vendor': opts.vendor, 'user-agent': opts.userAgent };
    this.h1 = new Http1Transport({ connectTimeoutMs: opts.timeoutMs, tls: this.tls, tunnelHeaders: this.tunnelHeaders });
  }

  async fetch(target: Target): Promise<Outcome> {
    const started = performance.now();
    const remaining = (): number => Math.max(1, this.opts.timeoutMs - (performance.now() - started));
    const key = originKey(target);
    let protocol: ProtocolLabel = target.mode === 'auto' ? (this.http1Origins.has(key) ? 'http1.1' : 'unknown') : target.mode;
    try {
      let result: ExchangeResult;
      const session = protocol === 'http1.1' ? undefined : await withTimeout(this.session(target, key), this.opts.timeoutMs);
      if (!session) {
        protocol = 'http1.1';
        result = await this.h1.request(target, this.h1Headers, remaining());
      } else {
        protocol = target.scheme === 'https' ? 'h2' : 'h2c';
        result = await http2Exchange(session, this.h2Headers(target), remaining());
      }
      return { protocol, status: result.status, requestBytes: result.requestBytes, responseBytes: result.responseBytes, seconds: elapsed(started) };
    } catch (error) {
      const status = (error as { statusCode?: unknown }).statusCode;
      return {
        protocol,
        status: typeof status === 'number' ? status : undefined,
        error,
        requestBytes: 0,
        responseBytes: 0,
        seconds: elapsed(started),
      };
    }
  }

  close(): void {
    this.h2.closeAll();
    this.h1.close();
  }

  /** The origin's HTTP/2 session, or undefined when ALPN chose http/1.1. */
  private session(target: Target, key: string): Promise<ClientHttp2Session | undefined> {
    const live = this.h2.get(key);
    if (live) return Promise.resolve(live);
    let pending = this.connecting.get(key);
    if (!pending) {
      pending = this.connect(target, key).finally(() => this.connecting.delete(key));
      this.connecting.set(key, pending);
    }
    return pending;
  }

  private async connect(target: Target, key: string): Promise<ClientHttp2Session | undefined> {
    const alpn = target.mode === 'auto' ? ['h2', 'http/1.1'] : target.mode === 'h2' ? ['h2'] : undefined;
    const socket = await openSocket(target, { timeoutMs: this.opts.timeoutMs, tls: this.tls, alpn, tunnelHeaders: this.tunnelHeaders });
    if (target.scheme === 'https') {
      const selected = (socket as tls.TLSSocket).alpnProtocol;
      if (selected !== 'h2') {
        if (target.mode === 'auto') {
          this.http1Origins.add(key);
          this.h1.adopt(target, socket);
          return undefined;
        }
        socket.destroy();
        throw new AlpnError(selected);
      }
    }
    return this.h2.open(key, `${target.scheme}://${target.host}`, socket);
  }

  private h2Headers(target: Target): OutgoingHttpHeaders {
    return {
      ':method': 'GET',
      ':scheme': target.scheme,
      ':authority': target.host,
      ':path': target.path,
      ...this.h1Headers,
    };
  }
}

/** Connections are shared per scheme, authority and route. */
function originKey(target: Target): string {
  return `${target.scheme}://${target.host}|${target.proxy?.url.href ?? 'direct'}`;
}

function elapsed(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(timeoutMs)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
