/**
 * What a crawler pod does on the network, independent of any sidecar: the input of the sidecar model
 * (istio-sidecar.ts), and the ground truth the metric contract is checked against.
 *
 * Every flow runs at a constant rate. `perSecond` counts the flow's unit: requests for plain HTTP (direct or
 * absolute-form through a gateway), TLS connections for direct HTTPS, CONNECT tunnels for HTTPS through a
 * gateway. Byte figures are per unit and are what the crawler's socket writes and reads, headers and TLS
 * included: the bytes a sidecar in the path sees, whatever it makes of them.
 */

/** Plain HTTP straight to a site. */
export interface DirectHttp {
  kind: 'http';
  /** Site host: the Host header (with `:port` when the port is not 80). */
  host: string;
  /** @default 80 */
  port?: number;
  /** Requests per second. */
  perSecond: number;
  /** Requests per TCP connection (keep-alive). @default 1 */
  requestsPerConnection?: number;
  responseCode: number;
  /** Wire bytes per request and per response, headers included. */
  upBytes: number;
  downBytes: number;
  durationMs: number;
  /** HTTP/2 with prior knowledge (h2c), HTTP/1.1 or HTTP/1.0. @default '1.1' */
  httpVersion?: '1.0' | '1.1' | '2';
  /** The request path as the crawler writes it (dot segments, double slashes kept). @default '/' */
  path?: string;
}

/** HTTPS the crawler encrypts itself, straight to a site. */
export interface DirectTls {
  kind: 'tls';
  host: string;
  /** @default 443 */
  port?: number;
  /** Whether the ClientHello names the host (SNI). Clients send none for IP-address targets. @default true */
  sni?: boolean;
  /** TLS connections per second. */
  perSecond: number;
  /** Requests inside one connection (ground truth only: no sidecar can count them). @default 1 */
  requestsPerConnection?: number;
  /** Bytes per connection, TLS records included. */
  upBytes: number;
  downBytes: number;
}

/** Through a vendor gateway: absolute-form HTTP (`http://` targets) or one CONNECT tunnel per connection (`https://`). */
export interface ViaGateway {
  kind: 'gateway';
  /** The gateway `host:port` of HTTP(S)_PROXY. */
  gateway: string;
  scheme: 'http' | 'https';
  /** The site the crawler asks the gateway for. */
  target: string;
  /** Requests per second (http) or tunnels per second (https). */
  perSecond: number;
  /** http: requests per connection to the gateway (keep-alive). https: requests inside a tunnel (ground truth only). @default 1 */
  requestsPerConnection?: number;
  /** The gateway's answer: to the request (http) or to the CONNECT (https): 200, 407, 429, ... */
  responseCode: number;
  /** Bytes per request (http) or per tunnel (https: the CONNECT head, then the TLS payload). */
  upBytes: number;
  downBytes: number;
  durationMs: number;
  /** http: the path of the absolute-form URL. @default '/' */
  path?: string;
}

/**
 * A TCP service that speaks first (a MySQL greeting on 3306, an SMTP banner on 25, an SSH banner on 22): the
 * client sends nothing until it has read the server's banner. Whatever waits for the client's first bytes
 * (a listener filter) waits for ever or until its timeout.
 */
export interface ServerFirst {
  kind: 'server-first';
  host: string;
  port: number;
  /** Connections per second. */
  perSecond: number;
  /** Bytes per connection, the banner included in downBytes. */
  upBytes: number;
  downBytes: number;
}

/** A client that opens a connection and waits (a pre-warmed pool connection, a health probe that only connects). */
export interface Silent {
  kind: 'silent';
  host: string;
  port: number;
  /** Connections per second. */
  perSecond: number;
}

export type CrawlerFlow = DirectHttp | DirectTls | ViaGateway | ServerFirst | Silent;

/** What the client sends before it reads anything: what a listener filter waiting for bytes gets to see. */
export function clientFirstBytes(flow: CrawlerFlow): 'tls-client-hello' | 'plaintext' | 'nothing' {
  switch (flow.kind) {
    case 'tls': return 'tls-client-hello';
    case 'http': case 'gateway': return 'plaintext';
    case 'server-first': case 'silent': return 'nothing';
  }
}

export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^([^:]+):(\d+)$/.exec(value);
  if (!m) throw new Error(`'${value}' is not host:port`);
  return { host: m[1], port: Number(m[2]) };
}

/**
 * What the product promises to report for a flow, from its own settings and never from its manifests: which
 * HTTP ports sidecars parse, and which gateways they inspect. The sidecar model derives what a sidecar really
 * reports from the manifests; a test compares the two.
 */
export interface ContractIntent {
  /** MeshTelemetry's httpPorts. */
  readonly httpPorts: ReadonlySet<number>;
  /** `host:port` of every gateway endpoint with `gateway.inspect: 'http'`. */
  readonly inspectedGateways: ReadonlySet<string>;
}

/** One flow as the metric contract reports it. */
export interface ContractView {
  protocol: 'http' | 'tcp';
  /** Host for HTTP (without a default port), SNI for TLS ("unknown" without), gateway host for TCP gateways. */
  destination: string;
  /** HTTP requests/s (protocol http) or TCP connections/s (protocol tcp). */
  perSecond: number;
  uploadBytesPerSecond: number;
  downloadBytesPerSecond: number;
  /** HTTP only. */
  responseCode?: number;
  /** The gateway host of a flow through a gateway. */
  gateway?: string;
}

export function contractView(flow: CrawlerFlow, intent: ContractIntent): ContractView {
  if (flow.kind === 'server-first' || flow.kind === 'silent') {
    // A TCP connection to a site: the contract names no destination without SNI.
    const [up, down] = flow.kind === 'silent' ? [0, 0] : [flow.upBytes, flow.downBytes];
    return { protocol: 'tcp', destination: 'unknown', perSecond: flow.perSecond, uploadBytesPerSecond: flow.perSecond * up, downloadBytesPerSecond: flow.perSecond * down };
  }
  const bytes = { uploadBytesPerSecond: flow.perSecond * flow.upBytes, downloadBytesPerSecond: flow.perSecond * flow.downBytes };
  const perConnection = flow.kind === 'tls' ? 1 : flow.requestsPerConnection ?? 1;
  switch (flow.kind) {
    case 'http': {
      const port = flow.port ?? 80;
      return intent.httpPorts.has(port)
        ? { protocol: 'http', destination: port === 80 ? flow.host : `${flow.host}:${port}`, perSecond: flow.perSecond, responseCode: flow.responseCode, ...bytes }
        : { protocol: 'tcp', destination: 'unknown', perSecond: flow.perSecond / perConnection, ...bytes };
    }
    case 'tls':
      return { protocol: 'tcp', destination: flow.sni === false ? 'unknown' : flow.host, perSecond: flow.perSecond, ...bytes };
    case 'gateway': {
      const gateway = parseHostPort(flow.gateway).host;
      if (intent.inspectedGateways.has(flow.gateway)) {
        // A tunnel is one request, answered by the gateway.
        return { protocol: 'http', destination: flow.target, perSecond: flow.perSecond, responseCode: flow.responseCode, gateway, ...bytes };
      }
      const connections = flow.scheme === 'https' ? flow.perSecond : flow.perSecond / perConnection;
      return { protocol: 'tcp', destination: gateway, perSecond: connections, gateway, ...bytes };
    }
  }
}

/** What the crawler itself did per second: requests (inside tunnels and TLS too), connections, bytes. */
export function crawlerTruth(flow: CrawlerFlow): { requests: number; connections: number; uploadBytes: number; downloadBytes: number } {
  if (flow.kind === 'server-first') return { requests: 0, connections: flow.perSecond, uploadBytes: flow.perSecond * flow.upBytes, downloadBytes: flow.perSecond * flow.downBytes };
  if (flow.kind === 'silent') return { requests: 0, connections: flow.perSecond, uploadBytes: 0, downloadBytes: 0 };
  const k = flow.requestsPerConnection ?? 1;
  const requests = flow.kind === 'http' || (flow.kind === 'gateway' && flow.scheme === 'http') ? flow.perSecond : flow.perSecond * k;
  const connections = flow.kind === 'http' || (flow.kind === 'gateway' && flow.scheme === 'http') ? flow.perSecond / k : flow.perSecond;
  return { requests, connections, uploadBytes: flow.perSecond * flow.upBytes, downloadBytes: flow.perSecond * flow.downBytes };
}
