import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { TimeoutError } from './errors';
import type { ExchangeResult } from './h1';

/** One live HTTP/2 session per origin and route, reused by every request. */
export class Http2Sessions {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();

  get(key: string): http2.ClientHttp2Session | undefined {
    const session = this.sessions.get(key);
    if (session && !session.closed && !session.destroyed) return session;
    this.sessions.delete(key);
    return undefined;
  }

  /** Starts HTTP/2 on an already connected (and, for h2, TLS) socket. */
  open(key: string, authority: string, socket: net.Socket): http2.ClientHttp2Session {
    const session = http2.connect(authority, { createConnection: () => socket });
    const forget = (): void => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    };
    // Streams report their own failures; a dead session is just replaced.
    session.on('error', forget);
    session.on('goaway', forget);
    session.on('close', forget);
    this.sessions.set(key, session);
    return session;
  }

  closeAll(): void {
    for (const session of this.sessions.values()) session.destroy();
    this.sessions.clear();
  }
}

export function http2Exchange(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  timeoutMs: number,
): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: true });
    } catch (err) {
      reject(err);
      return;
    }
    let status: number | undefined;
    let bytes = 0;
    let ended = false;
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      failure = new TimeoutError(timeoutMs);
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, timeoutMs);
    stream.once('response', (h) => {
      status = Number(h[':status']);
    });
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.once('end', () => {
      ended = true;
    });
    stream.on('error', (err) => {
      failure ??= err;
    });
    stream.once('close', () => {
      clearTimeout(timer);
      if (failure) reject(failure);
      else if (status === undefined || !ended) {
        reject(Object.assign(new Error(`HTTP/2 stream closed early (code ${stream.rstCode})`), { code: 'ERR_HTTP2_STREAM_ERROR' }));
      } else resolve({ status, requestBytes: headerBytes(headers), responseBytes: bytes });
    });
  });
}

/** Request head size counted as HTTP/1.1 text, before HPACK compression. */
function headerBytes(headers: http2.OutgoingHttpHeaders): number {
  let size = 2;
  for (const [name, value] of Object.entries(headers)) size += name.length + String(value).length + 4;
  return size;
}
