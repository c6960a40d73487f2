import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { errorMessage } from '../../runtime/src/errors';
import type { Logger } from '../../runtime/src/log';
import { listenOn } from '../../runtime/src/program';
import { ProxyAuth } from './auth';
import type { GatewayConfig } from './config';
import { GATEWAY_VERSION } from './defaults';
import { RateLimiter } from './limiter';
import { GatewayMetrics, NO_SITE, Protocol, TrafficPath } from './metrics';
import { PageMaker } from './pages';
import { SummaryStats } from './stats';
import { TlsTerminator, TunnelTarget } from './terminator';
import { TunnelKind, sniffTunnel } from './tunnel';

/** Inactive connections, idle keep-alive connections and HTTP/2 sessions are closed after this. */
const IDLE_TIMEOUT_MS = 120_000;
/** A tunnel whose client sends nothing after `200 Connection Established`. */
const SNIFF_TIMEOUT_MS = 30_000;
/** After the last response of a drain, connections get this long to close. */
const CLOSE_GRACE_MS = 2_000;

/** The CONNECT target (or site-port target) of the connection a request arrived on. */
const TUNNEL = Symbol('proxy-telemetry.tunnel');
type TunnelSocket = net.Socket & { [TUNNEL]?: TunnelTarget };

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/** What a response is counted under. */
interface Tally {
  site: string;
  via: TrafficPath;
  protocol: Protocol;
}

const SERVER_HEADER = `proxy-telemetry-demo-gateway/${GATEWAY_VERSION}`;
/** Where the gateway is the site, it answers every method with a page, except CONNECT (405). */
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/** `site` label text: the host, with the port unless it is 80 or 443. */
export function siteOf(hostname: string, port: number | string): string {
  const host = net.isIPv6(hostname) ? `[${hostname}]` : hostname.toLowerCase();
  return port === '' || Number(port) === 80 || Number(port) === 443 ? host : `${host}:${port}`;
}

/** host[:port] of a Host header or CONNECT target (port '' when absent), or undefined when malformed. */
export function parseHost(value: string): { hostname: string; port: string } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/?#@[\]]+))(?::([0-9]{1,5}))?$/.exec(value);
  if (!match) return undefined;
  const port = match[3] ?? '';
  const hostname = (match[1] ?? match[2]).toLowerCase();
  if (port !== '' && (Number(port) < 1 || Number(port) > 65_535)) return undefined;
  if (match[1] !== undefined && !net.isIPv6(hostname)) return undefined;
  if (match[2] !== undefined && !/^[a-z0-9_.-]+$/.test(hostname)) return undefined;
  return { hostname, port };
}

/** host:port of a CONNECT request line, or undefined when malformed. */
export function parseAuthority(authority: string): { hostname: string; port: number } | undefined {
  const host = parseHost(authority);
  return host && host.port !== '' ? { hostname: host.hostname, port: Number(host.port) } : undefined;
}

/**
 * The demo gateway: a forward proxy that answers every request itself.
 * Absolute-form requests get a synthetic page; CONNECT gets a tunnel in
 * which the gateway terminates TLS (h2 or HTTP/1.1 by ALPN) or speaks
 * plaintext HTTP (h2c or HTTP/1.1), and serves the same pages. The
 * optional site port plays the sites themselves: its connections are
 * served like the inside of a tunnel. It never opens a connection of its
 * own.
 */
export class Gateway {
  private readonly proxy: http.Server;
  /** The site port: connections straight from clients, served like tunnels. */
  private readonly siteServer: net.Server;
  /** HTTP/1.1 inside tunnels and on the site port (TLS or plaintext); never listens itself. */
  private readonly tunnelHttp1: http.Server;
  /** HTTP/2 inside tunnels and on the site port (h2 after TLS, h2c in plaintext); never listens itself. */
  private readonly tunnelHttp2: http2.Http2Server;
  private readonly terminator: TlsTerminator;
  private readonly pages: PageMaker;
  private readonly limiter: RateLimiter;
  private readonly auth: ProxyAuth;
  readonly stats = new SummaryStats();
  /** Every client connection of the proxy and site ports, tunnels included. */
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** TLS sockets of tunnels and the site port, and the client connections they run on. */
  private readonly tlsSockets = new Set<tls.TLSSocket>();
  private readonly underTls = new WeakSet<net.Socket>();
  private inFlight = 0;
  private draining = false;
  private onIdle: (() => void) | undefined;

  constructor(
    config: GatewayConfig,
    private readonly logger: Logger,
    private readonly metrics: GatewayMetrics,
  ) {
    this.pages = new PageMaker(config.pageSizes);
    this.limiter = new RateLimiter(config.rateLimitParts);
    this.auth = new ProxyAuth(config.credentials, config.vendor);
    metrics.showAccount(this.auth.account);
    this.terminator = new TlsTerminator(config.ca, {
      secure: (socket, target) => this.onSecure(socket, target),
      failed: (error, target) => {
        metrics.recordHandshake(target.site, target.path, 'failed');
        this.stats.recordTlsFailure();
        logger.debug('tls handshake failed', { site: target.site, error: errorMessage(error) });
      },
    });

    this.proxy = http.createServer({ keepAliveTimeout: IDLE_TIMEOUT_MS }, (req, res) => this.onProxyRequest(req, res));
    this.proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => this.onConnect(req, socket, head));
    this.proxy.on('connection', (socket: net.Socket) => this.adopt(socket, 'proxy'));
    this.proxy.on('clientError', (err: Error, socket: net.Socket) => this.onClientError(err, socket));
    // Inactive connections are closed. (The tunnel server below needs this
    // most: a server that never listens never runs Node's periodic
    // header and request timeout checks.)
    this.proxy.setTimeout(IDLE_TIMEOUT_MS);

    this.siteServer = net.createServer((socket) => this.onSiteConnection(socket));

    const serveInTunnel = (req: Request, res: Response): void => this.onTunnelRequest(req, res);
    this.tunnelHttp1 = http.createServer({ keepAliveTimeout: IDLE_TIMEOUT_MS }, serveInTunnel);
    this.tunnelHttp1.on('clientError', (err: Error, socket: net.Socket) => this.onClientError(err, socket));
    this.tunnelHttp1.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      metrics.recordInjectedHeaders(req.headers);
      const { site, via } = this.locate(req);
      this.refuseConnect(socket, { site, via }, 405, 'Method Not Allowed', `Allow: ${ALLOWED_METHODS}\r\n`);
    });
    this.tunnelHttp1.setTimeout(IDLE_TIMEOUT_MS);
    this.tunnelHttp2 = http2.createServer({}, serveInTunnel);
    // Without a listener Node answers 405 itself, uncounted.
    this.tunnelHttp2.on('connect', serveInTunnel);
    this.tunnelHttp2.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.setTimeout(IDLE_TIMEOUT_MS, () => session.close());
      session.on('error', (err) => logger.debug('http2 session error', { error: errorMessage(err) }));
      session.once('close', () => this.sessions.delete(session));
      if (this.draining) session.close();
    });
  }

  /** Opens the proxy port; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number> {
    return listenOn(this.proxy, port, host);
  }

  /** Opens the site port; resolves with the bound port. */
  listenSites(port: number, host?: string): Promise<number> {
    return listenOn(this.siteServer, port, host);
  }

  get inFlightRequests(): number {
    return this.inFlight;
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  /**
   * Graceful stop: no new connections; HTTP/2 sessions get GOAWAY and
   * HTTP/1.1 responses `Connection: close`; in-flight responses finish (up
   * to `timeoutMs`), then connections are closed. Resolves with what had
   * to be cut off.
   */
  async drain(timeoutMs: number): Promise<{ unfinishedRequests: number; forcedConnections: number }> {
    this.draining = true;
    // Only the listener: http.Server.close() would also destroy connections
    // it deems idle, which includes one whose last response is ended but
    // still being sent.
    net.Server.prototype.close.call(this.proxy);
    if (this.siteServer.listening) this.siteServer.close();
    for (const session of this.sessions) session.close();
    await this.waitUntil(() => this.inFlight === 0, timeoutMs);
    const unfinishedRequests = this.inFlight;
    // Ends (close_notify and FIN after pending data) rather than resets, so
    // the last responses still reach their clients.
    for (const socket of this.tlsSockets) socket.end();
    for (const socket of this.sockets) if (!this.underTls.has(socket)) socket.end();
    await this.waitUntil(() => this.sockets.size === 0, CLOSE_GRACE_MS);
    const forcedConnections = this.sockets.size;
    for (const socket of this.sockets) socket.destroy();
    return { unfinishedRequests, forcedConnections };
  }

  private waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.onIdle = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.onIdle = () => {
        if (condition()) done();
      };
    });
  }

  private checkIdle(): void {
    this.onIdle?.();
  }

  /** Tracks a client connection of either port until it closes. */
  private adopt(socket: net.Socket, via: TrafficPath): void {
    this.sockets.add(socket);
    this.metrics.trackWireBytes(socket, via);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.checkIdle();
    });
  }

  /** Requests on the proxy port itself: absolute-form, or a 400. */
  private onProxyRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.metrics.recordInjectedHeaders(req.headers);
    let url: URL | undefined;
    try {
      url = /^[a-z][a-z0-9+.-]*:\/\//i.test(req.url ?? '') ? new URL(req.url!) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
      this.billRequest(req, res, undefined);
      const body = url
        ? `unsupported target ${url.protocol}//: this gateway serves http:// and https:// targets\n`
        : 'this is a forward proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port\n';
      this.answer(req, res, { site: NO_SITE, via: 'proxy', protocol: 'http1.1', status: 400, body });
      return;
    }
    const site = this.metrics.site(siteOf(url.hostname.replace(/^\[|\]$/g, ''), url.port));
    const account = this.auth.accountOf(req.headers['proxy-authorization']);
    this.billRequest(req, res, account);
    if (account === undefined) {
      this.answer(req, res, {
        site,
        via: 'proxy',
        protocol: 'http1.1',
        status: 407,
        body: 'proxy authentication required\n',
        headers: { 'proxy-authenticate': this.auth.challenge },
      });
      return;
    }
    if (this.limiter.refuse()) {
      this.answer(req, res, { site, via: 'proxy', protocol: 'http1.1', status: 429, body: 'too many requests\n', headers: { 'retry-after': '1' } });
      return;
    }
    this.servePage(req, res, { site, via: 'proxy', protocol: 'http1.1' }, url.host, `${url.pathname}${url.search}`);
  }

  private onConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    this.metrics.recordInjectedHeaders(req.headers);
    // Errors after this point (a client reset) are ends of tunnels, nothing more.
    socket.on('error', (err) => this.logger.debug('tunnel socket error', { error: errorMessage(err) }));
    const authority = parseAuthority(req.url ?? '');
    // Billed from its head on, answer and tunnel included, once it authenticates (a 429 too, as vendors bill).
    const account = authority ? this.auth.accountOf(req.headers['proxy-authorization']) : undefined;
    this.metrics.billTunnel(socket, account);
    if (!authority) {
      this.refuseConnect(socket, { site: NO_SITE, via: 'proxy' }, 400, 'Bad Request');
      return;
    }
    const site = this.metrics.site(siteOf(authority.hostname, authority.port));
    if (account === undefined) {
      this.refuseConnect(socket, { site, via: 'proxy' }, 407, 'Proxy Authentication Required', `Proxy-Authenticate: ${this.auth.challenge}\r\n`);
      return;
    }
    if (this.limiter.refuse()) {
      this.refuseConnect(socket, { site, via: 'proxy' }, 429, 'Too Many Requests', 'Retry-After: 1\r\n');
      return;
    }
    socket.write(`HTTP/1.1 200 Connection Established\r\nServer: ${SERVER_HEADER}\r\n\r\n`);
    // http.Server accepts connections half-open; in a tunnel, TLS would then
    // never notice a client that hangs up, and the socket would stay open.
    socket.allowHalfOpen = false;
    this.count({ site, via: 'proxy', protocol: 'connect' }, '200', 0);
    this.metrics.recordTunnelOpened(site);
    this.stats.recordTunnel();
    socket.once('close', () => this.metrics.recordTunnelClosed());
    const target: TunnelTarget = {
      path: 'proxy',
      authority: `${net.isIPv6(authority.hostname) ? `[${authority.hostname}]` : authority.hostname}:${authority.port}`,
      hostname: authority.hostname,
      site,
    };
    this.startTunnel(socket, head, target);
  }

  /**
   * Bills an absolute-form request to `account` (undefined: nobody) from its
   * head until it is read and its answer is out, whichever comes last.
   */
  private billRequest(req: http.IncomingMessage, res: http.ServerResponse, account: string | undefined): void {
    const end = this.metrics.billRequest(req.socket, account);
    let open = 2;
    const step = (): void => {
      if (--open === 0) end();
    };
    onFirst(req, ['end', 'close'], step);
    onFirst(res, ['finish', 'close'], step);
  }

  /** The CONNECT's own answer, then the connection closes: no tunnel. */
  private refuseConnect(socket: net.Socket, at: Omit<Tally, 'protocol'>, status: number, reason: string, extraHeaders = ''): void {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nServer: ${SERVER_HEADER}\r\n${extraHeaders}Content-Length: 0\r\nConnection: close\r\n\r\n`);
    this.count({ ...at, protocol: 'connect' }, String(status), 0);
  }

  /**
   * A connection to the site port: the client takes the gateway for the
   * site itself, so it is served like the inside of a tunnel, without proxy
   * authentication or rate limit.
   */
  private onSiteConnection(socket: net.Socket): void {
    this.adopt(socket, 'direct');
    socket.on('error', (err) => this.logger.debug('site socket error', { error: errorMessage(err) }));
    // Gone before it was seen.
    if (!socket.localAddress) {
      socket.destroy();
      return;
    }
    // Clients send no SNI for IP addresses: a certificate for the address they reached then verifies.
    const hostname = socket.localAddress.replace(/^::ffff:(?=[0-9.]+$)/, '');
    this.startTunnel(socket, Buffer.alloc(0), { path: 'direct', hostname, site: NO_SITE });
  }

  /** Waits for the client's first bytes (in a tunnel, or on the site port) to tell TLS, h2c and HTTP/1.1 apart. */
  private startTunnel(socket: TunnelSocket, head: Buffer, target: TunnelTarget): void {
    const received: Buffer[] = head.length > 0 ? [head] : [];
    const decide = (): boolean => {
      const data = Buffer.concat(received);
      const kind = sniffTunnel(data);
      if (kind === undefined) return false;
      socket.removeListener('data', onData);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(data);
      this.dispatchTunnel(socket, kind, target);
      return true;
    };
    const onData = (chunk: Buffer): void => {
      received.push(chunk);
      decide();
    };
    if (decide()) return;
    socket.on('data', onData);
    socket.setTimeout(SNIFF_TIMEOUT_MS, () => socket.destroy());
  }

  private dispatchTunnel(socket: TunnelSocket, kind: TunnelKind, target: TunnelTarget): void {
    if (kind === 'tls') {
      this.underTls.add(socket);
      this.terminator.accept(socket, target);
      return;
    }
    socket[TUNNEL] = target;
    if (kind === 'h2c') {
      this.tunnelHttp2.emit('connection', socket);
    } else {
      this.tunnelHttp1.emit('connection', socket);
      // The HTTP/1.1 parser reads through 'data' events, which a paused socket withholds.
      socket.resume();
    }
  }

  private onSecure(socket: tls.TLSSocket & { [TUNNEL]?: TunnelTarget }, target: TunnelTarget): void {
    const alpn = socket.alpnProtocol;
    // On the site port the port is unknown until a request names it: the SNI name alone.
    const site = target.path === 'direct' ? (socket.servername ? this.metrics.site(siteOf(socket.servername, '')) : NO_SITE) : target.site;
    this.metrics.recordHandshake(site, target.path, alpn === 'h2' || alpn === 'http/1.1' ? alpn : 'none');
    socket[TUNNEL] = target;
    socket.on('error', (err) => this.logger.debug('tls socket error', { site: target.site, error: errorMessage(err) }));
    this.tlsSockets.add(socket);
    socket.once('close', () => this.tlsSockets.delete(socket));
    if (alpn === 'h2') this.tunnelHttp2.emit('connection', socket);
    else this.tunnelHttp1.emit('connection', socket);
  }

  /**
   * A request inside a tunnel or on the site port: always a page for its own
   * host and path (an HTTP/2 CONNECT gets 405: the gateway is the site here).
   */
  private onTunnelRequest(req: Request, res: Response): void {
    this.metrics.recordInjectedHeaders(req.headers);
    const at = this.locate(req);
    if (req.method === 'CONNECT') {
      // No body, as for the HTTP/1.1 CONNECT answers.
      this.answer(req, res, { ...at, protocol: 'connect', status: 405, body: '', headers: { allow: ALLOWED_METHODS } });
      // The client keeps its side of a CONNECT stream open: end the stream
      // without error once the answer is out (RFC 9113, 8.1; close() waits
      // for it), which also lets it be counted.
      (res as http2.Http2ServerResponse).stream.close();
      return;
    }
    this.servePage(req, res, at, at.host, at.path);
  }

  /** Site, page host and page path of a request inside a tunnel or on the site port. */
  private locate(req: Request): Tally & { host: string; path: string } {
    // For HTTP/2 this is the session's socket proxy, which passes property reads through.
    const socket = req.socket as TunnelSocket & { encrypted?: boolean; servername?: string | false | null };
    const target = socket[TUNNEL];
    const protocol: Protocol = req.httpVersionMajor === 2 ? (socket.encrypted ? 'h2' : 'h2c') : 'http1.1';
    let named = protocol === 'http1.1' ? req.headers.host : (req as http2.Http2ServerRequest).authority;
    let path = req.url ?? '/';
    // An absolute-form request still names its page, and its host wins over Host (RFC 9112, 3.2.2).
    if (/^https?:\/\//i.test(path)) {
      try {
        const url = new URL(path);
        path = `${url.pathname}${url.search}`;
        named = url.host;
      } catch {
        path = '/';
      }
    }
    const sni = socket.servername || undefined;
    const authority = named ?? target?.authority ?? sni ?? '';
    // Clients differ on sending default ports (Node's HTTP/2 client always
    // does); one URL gets one page.
    const host = authority.replace(socket.encrypted ? /:443$/ : /:80$/, '');
    if (target?.path !== 'direct') return { site: target?.site ?? NO_SITE, via: 'proxy', protocol, host, path };
    // The site port: the SNI name, else the Host name, with the Host's port
    // (behind a Service the port the client used is not visible here).
    const parsed = parseHost(authority);
    const hostname = sni ?? parsed?.hostname;
    const site = hostname ? this.metrics.site(siteOf(hostname, parsed?.port ?? '')) : NO_SITE;
    return { site, via: 'direct', protocol, host, path };
  }

  private servePage(req: Request, res: Response, at: Tally, host: string, path: string): void {
    const page = this.pages.next(host, path);
    const head = req.method === 'HEAD';
    this.track(res, at, 200, head ? 0 : page.bytes);
    req.resume();
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(page.bytes),
      'cache-control': 'no-store',
      server: SERVER_HEADER,
      ...this.closeHeader(at.protocol),
    });
    if (head) {
      res.end();
      return;
    }
    // Both response types have write(); TypeScript cannot call it on their union.
    const body = res as { write(chunk: Buffer): unknown };
    for (const chunk of page.chunks) body.write(chunk);
    res.end();
  }

  /** A short plain-text answer (400, 405, 407, 429). */
  private answer(req: Request, res: Response, a: Tally & { status: number; body: string; headers?: Record<string, string> }): void {
    const body = Buffer.from(a.body);
    this.track(res, a, a.status, req.method === 'HEAD' ? 0 : body.length);
    req.resume();
    res.writeHead(a.status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(body.length),
      server: SERVER_HEADER,
      ...a.headers,
      ...this.closeHeader(a.protocol),
    });
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  }

  private closeHeader(protocol: Protocol): Record<string, string> {
    // HTTP/2 has GOAWAY instead, and forbids the header.
    return this.draining && protocol === 'http1.1' ? { connection: 'close' } : {};
  }

  /**
   * Counts a response once it is out, or as `aborted` when the client left
   * before. Node emits 'finish' even for a response whose connection was
   * cut with data still queued, so that alone proves nothing: HTTP/1.1
   * checks the connection is still up at 'finish', HTTP/2 that the stream
   * closed without a reset.
   */
  private track(res: Response, at: Tally, status: number, bodyBytes: number): void {
    this.inFlight++;
    let counted = false;
    const done = (delivered: boolean): void => {
      if (counted) return;
      counted = true;
      this.inFlight--;
      this.count(at, delivered ? String(status) : 'aborted', delivered ? bodyBytes : 0);
      this.checkIdle();
    };
    // By the response type: an HTTP/2 CONNECT is counted as `connect`.
    if (res instanceof http.ServerResponse) {
      const socket = (res as http.ServerResponse).socket;
      res.once('finish', () => done(socket !== null && !socket.destroyed));
      res.once('close', () => done(false));
    } else {
      const stream = (res as http2.Http2ServerResponse).stream;
      let finished = false;
      res.once('finish', () => (finished = true));
      stream.once('close', () => done(finished && stream.rstCode === http2.constants.NGHTTP2_NO_ERROR));
    }
  }

  private count(at: Tally, code: string, bodyBytes: number): void {
    this.metrics.recordRequest(at.site, at.via, at.protocol, code, bodyBytes);
    this.stats.recordRequest(at.via, at.protocol, code, bodyBytes);
  }

  private onClientError(err: Error, socket: net.Socket): void {
    this.logger.debug('client error', { error: errorMessage(err) });
    if (socket.writable && !(err as { code?: string }).code?.startsWith('ECONNRESET')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    } else {
      socket.destroy();
    }
  }
}

/** Calls `listener` once, on the first of `events`. */
function onFirst(emitter: NodeJS.EventEmitter, events: string[], listener: () => void): void {
  let called = false;
  const once = (): void => {
    if (called) return;
    called = true;
    listener();
  };
  for (const event of events) emitter.once(event, once);
}

