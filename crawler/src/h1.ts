import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import type { Target } from './config';
import { TimeoutError } from './errors';

export interface ExchangeResult {
  status: number;
  requestBytes: number;
  responseBytes: number;
}

/**
 * Sockets that already did a TLS handshake in which the server chose
 * http/1.1 over h2. The HTTP/1.1 agents take these before dialling anew, so
 * ALPN probing costs no extra connection (nor an extra CONNECT).
 */
class SocketStash {
  private readonly sockets = new Map<string, net.Socket[]>();

  put(key: string, socket: net.Socket): void {
    const list = this.sockets.get(key) ?? [];
    list.push(socket);
    this.sockets.set(key, list);
  }

  take(key: string): net.Socket | undefined {
    const list = this.sockets.get(key);
    while (list && list.length > 0) {
      const socket = list.shift()!;
      if (!socket.destroyed) return socket;
    }
    return undefined;
  }

  destroyAll(): void {
    for (const list of this.sockets.values()) list.forEach((s) => s.destroy());
    this.sockets.clear();
  }
}

const stashKey = (host: unknown, port: unknown): string => `${String(host)}:${String(port)}`;

class StashingHttpsAgent extends https.Agent {
  readonly stash = new SocketStash();

  createConnection(options: http.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    return this.stash.take(stashKey(options.host, options.port)) ?? super.createConnection(options, callback);
  }
}

class StashingHttpsProxyAgent extends HttpsProxyAgent<string> {
  readonly stash = new SocketStash();

  constructor(
    proxy: string,
    opts: ConstructorParameters<typeof HttpsProxyAgent<string>>[1],
    private readonly connectTimeoutMs: number,
  ) {
    super(proxy, opts);
  }

  async connect(req: http.ClientRequest, opts: Parameters<HttpsProxyAgent<string>['connect']>[1]): Promise<net.Socket> {
    const stashed = this.stash.take(stashKey(opts.host, opts.port));
    if (stashed) return stashed;
    // The library waits for the CONNECT answer without a limit, so a proxy
    // that never answers would leak a socket per request. super.connect()
    // dials with this.connectOpts before its first await: a per-call abort
    // signal there bounds the wait.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.connectTimeoutMs);
    const shared = this.connectOpts;
    this.connectOpts = { ...shared, signal: controller.signal };
    let pending: Promise<net.Socket>;
    try {
      pending = super.connect(req, opts);
    } finally {
      this.connectOpts = shared;
    }
    try {
      return await pending;
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface Http1Options {
  /** Bounds proxy CONNECT handshakes (the request deadline bounds the rest). */
  connectTimeoutMs: number;
  tls: tls.ConnectionOptions;
  /** Extra headers for CONNECT requests. */
  tunnelHeaders: Record<string, string>;
}

/**
 * HTTP/1.1 over keep-alive agents: node's own for direct traffic,
 * http-proxy-agent (absolute-form) and https-proxy-agent (CONNECT, then TLS
 * with SNI = target) through a proxy. One agent per scheme and route.
 */
export class Http1Transport {
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly opts: Http1Options) {}

  /** Hands a socket that negotiated http/1.1 to the agent for its target. */
  adopt(target: Target, socket: net.Socket): void {
    const agent = this.agentFor(target);
    if (agent instanceof StashingHttpsAgent || agent instanceof StashingHttpsProxyAgent) {
      agent.stash.put(stashKey(target.hostname, target.port), socket);
    } else {
      socket.destroy();
    }
  }

  request(target: Target, headers: Record<string, string>, timeoutMs: number): Promise<ExchangeResult> {
    const agent = this.agentFor(target);
    const options: https.RequestOptions = {
      ...(target.scheme === 'https' ? this.opts.tls : undefined),
      // The proxy agents derive the keep-alive pool name from this; without
      // it, a freed socket is filed under a name no request asks for.
      protocol: `${target.scheme}:`,
      host: target.hostname,
      port: target.port,
      path: target.path,
      method: 'GET',
      headers,
      agent,
    };
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | undefined, result?: ExchangeResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(result!);
      };
      const req = (target.scheme === 'https' ? https : http).request(options);
      const timer = setTimeout(() => {
        settle(new TimeoutError(timeoutMs));
        req.destroy();
      }, timeoutMs);
      req.once('error', settle);
      req.once('response', (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.once('error', settle);
        res.once('end', () => settle(undefined, { status: res.statusCode ?? 0, requestBytes: headBytes(req), responseBytes: bytes }));
        res.once('close', () => {
          if (!res.complete) settle(Object.assign(new Error('response aborted before its end'), { code: 'ECONNRESET' }));
        });
      });
      req.end();
    });
  }

  close(): void {
    for (const agent of this.agents.values()) {
      if (agent instanceof StashingHttpsAgent || agent instanceof StashingHttpsProxyAgent) agent.stash.destroyAll();
      agent.destroy();
    }
    this.agents.clear();
  }

  private agentFor(target: Target): http.Agent {
    const key = `${target.scheme}|${target.proxy?.url.href ?? 'direct'}`;
    let agent = this.agents.get(key);
    if (!agent) {
      agent = this.createAgent(target);
      this.agents.set(key, agent);
    }
    return agent;
  }

  private createAgent(target: Target): http.Agent {
    // No per-origin socket cap: the pacer already bounds requests in flight,
    // and a cap would let hung connection attempts block an origin.
    const base = { keepAlive: true };
    const { proxy } = target;
    if (!proxy) {
      return target.scheme === 'https' ? new StashingHttpsAgent({ ...base, ...this.opts.tls }) : new http.Agent(base);
    }
    // TLS options also apply to an https:// proxy itself.
    const proxyOpts = { ...base, ...(proxy.secure ? this.opts.tls : undefined) };
    if (target.scheme === 'https') {
      return new StashingHttpsProxyAgent(proxy.url.href, { ...proxyOpts, headers: this.opts.tunnelHeaders }, this.opts.connectTimeoutMs);
    }
    return new HttpProxyAgent(proxy.url.href, proxyOpts);
  }
}

/** Size of the request line and headers as sent (GET has no body). */
function headBytes(req: http.ClientRequest): number {
  const head = (req as unknown as { _header?: unknown })._header;
  if (typeof head === 'string') return Buffer.byteLength(head);
  let size = `GET ${req.path} HTTP/1.1\r\n\r\n`.length;
  for (const [name, value] of Object.entries(req.getHeaders())) size += name.length + String(value).length + 4;
  return size;
}
