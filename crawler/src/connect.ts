import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Target, TlsSettings } from './config';
import { TimeoutError } from './errors';
import { openTunnel } from './proxy';

/** TLS options shared by every connection: built once, because parsing a CA
 * bundle per handshake is expensive. */
export function tlsOptions(settings: TlsSettings): tls.ConnectionOptions {
  if (!settings.ca) return { rejectUnauthorized: settings.rejectUnauthorized };
  return {
    rejectUnauthorized: settings.rejectUnauthorized,
    secureContext: tls.createSecureContext({ ca: [...tls.rootCertificates, settings.ca] }),
  };
}

export interface OpenOptions {
  timeoutMs: number;
  tls: tls.ConnectionOptions;
  /** ALPN protocols to offer (https only). */
  alpn?: string[];
  /** Extra headers for CONNECT. */
  tunnelHeaders: Record<string, string>;
}

// Sockets may sit unused for a moment (in a stash, before a session attaches);
// an 'error' then must not crash the process. Consumers add their own listeners.
const ignore = (): void => undefined;

/**
 * A connected socket to the target: direct TCP or a CONNECT tunnel, then TLS
 * (SNI = target host) for https. Used for HTTP/2 and ALPN probing; HTTP/1.1
 * traffic goes through keep-alive agents instead.
 */
export async function openSocket(target: Target, opts: OpenOptions): Promise<net.Socket> {
  const started = Date.now();
  const raw = target.proxy
    ? await openTunnel(target.proxy, target.hostname, target.port, {
      timeoutMs: opts.timeoutMs,
      headers: opts.tunnelHeaders,
      proxyTls: opts.tls,
    })
    : await connectTcp(target.hostname, target.port, opts.timeoutMs);
  raw.on('error', ignore);
  if (target.scheme === 'http') return raw;
  const remaining = Math.max(1, opts.timeoutMs - (Date.now() - started));
  return startTls(raw, target, opts, remaining);
}

function connectTcp(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => socket.destroy(new TimeoutError(timeoutMs)), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function startTls(raw: net.Socket, target: Target, opts: OpenOptions, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      ...opts.tls,
      socket: raw,
      // `host` drives the certificate name check; with a tunnel the raw
      // socket's own host is the proxy's.
      host: target.hostname,
      servername: net.isIP(target.hostname) ? undefined : target.hostname,
      ALPNProtocols: opts.alpn,
    });
    const timer = setTimeout(() => socket.destroy(new TimeoutError(timeoutMs)), timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      raw.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.on('error', ignore);
      resolve(socket);
    });
  });
}
