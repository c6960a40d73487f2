import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { getProxyForUrl } from 'proxy-from-env';
import { ProxyConnectError, TimeoutError } from './errors';
import { redactUrlString } from '../../runtime/src/redact';

/** The proxy a target is reached through. */
export interface ProxyRoute {
  url: URL;
  /** The proxy URL with credentials masked, for logs. */
  display: string;
  /** `Basic ...` from the URL userinfo, if any. */
  authorization?: string;
  host: string;
  port: number;
  secure: boolean;
}

/** Variables proxy-from-env reads, upper- and lower-case. */
export const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'] as const;

export class ProxyUrlError extends Error {}

/** Scheme-less values (`host:3128`) mean a plain HTTP proxy, as in curl. */
function withScheme(raw: string): string {
  return raw.includes('://') ? raw : `http://${raw}`;
}

export function parseProxyUrl(raw: string): ProxyRoute {
  let url: URL;
  try {
    url = new URL(withScheme(raw.trim()));
  } catch {
    throw new ProxyUrlError('is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProxyUrlError(`has unsupported scheme ${url.protocol} (use http:// or https://)`);
  }
  if (!url.hostname) throw new ProxyUrlError('has no host');
  const secure = url.protocol === 'https:';
  let authorization: string | undefined;
  if (url.username || url.password) {
    const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  }
  return {
    url,
    display: redactUrlString(url.href),
    authorization,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : secure ? 443 : 80,
    secure,
  };
}

/**
 * The proxy for a target URL per *_PROXY / NO_PROXY (proxy-from-env reads
 * process.env), or undefined for a direct connection.
 */
export function proxyFor(target: URL): ProxyRoute | undefined {
  const chosen = getProxyForUrl(target.href);
  if (!chosen) return undefined;
  // proxy-from-env gives a scheme-less value the target's scheme; use the
  // raw variable instead so `host:3128` means http:// for every target.
  const raw = PROXY_VARIABLES.map((name) => process.env[name]).find(
    (value) => value && !value.includes('://') && chosen.endsWith(`://${value}`),
  );
  return parseProxyUrl(raw ?? chosen);
}

export interface TunnelOptions {
  timeoutMs: number;
  headers: Record<string, string>;
  /** TLS options for an https:// proxy itself. */
  proxyTls?: https.RequestOptions;
}

/**
 * Opens a CONNECT tunnel to host:port through the proxy and returns the raw
 * socket. A non-2xx answer rejects with ProxyConnectError carrying the status.
 */
export function openTunnel(proxy: ProxyRoute, host: string, port: number, opts: TunnelOptions): Promise<net.Socket> {
  const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { host: authority, ...opts.headers };
  if (proxy.authorization) headers['proxy-authorization'] = proxy.authorization;
  return new Promise<net.Socket>((resolve, reject) => {
    const request = (proxy.secure ? https : http).request({
      ...(proxy.secure ? opts.proxyTls : undefined),
      host: proxy.host,
      port: proxy.port,
      method: 'CONNECT',
      path: authority,
      headers,
      agent: false,
    });
    const timer = setTimeout(() => request.destroy(new TimeoutError(opts.timeoutMs)), opts.timeoutMs);
    request.once('connect', (res, socket, head) => {
      clearTimeout(timer);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        socket.destroy();
        reject(new ProxyConnectError(status, proxy.display));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    request.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    request.end();
  });
}
