/**
 * Error kinds used as the `code` label of failed requests. HTTP answers
 * (including a proxy's 407 to CONNECT) are labelled with their status code
 * instead, so kinds and status codes never collide.
 */
export type ErrorKind =
  | 'dns'
  | 'connect'
  | 'tls'
  | 'alpn'
  | 'timeout'
  | 'reset'
  | 'h2'
  | 'other';

/** The whole-request deadline (REQUEST_TIMEOUT_MS) ran out. */
export class TimeoutError extends Error {
  readonly code = 'ETIMEOUT_REQUEST';
  constructor(timeoutMs: number) {
    super(`request timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

/** The proxy answered CONNECT with something other than 2xx. */
export class ProxyConnectError extends Error {
  constructor(readonly statusCode: number, proxyDisplay: string) {
    super(`proxy ${proxyDisplay} answered CONNECT with status ${statusCode}`);
    this.name = 'ProxyConnectError';
  }
}

/** HTTP/2 was required but the server did not select it via ALPN. */
export class AlpnError extends Error {
  readonly code = 'ERR_ALPN_MISMATCH';
  constructor(selected: string | false | null) {
    super(`server selected ALPN protocol ${JSON.stringify(selected || 'none')} but h2 was required`);
    this.name = 'AlpnError';
  }
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT', 'EHOSTDOWN', 'ENETDOWN']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_HTTP2_STREAM_CANCEL']);
const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|EPROTO|HOSTNAME_MISMATCH/;

export function classifyError(err: unknown): ErrorKind {
  if (err instanceof TimeoutError) return 'timeout';
  if (err instanceof AlpnError) return 'alpn';
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
  if (code.includes('NO_APPLICATION_PROTOCOL')) return 'alpn';
  if (DNS_CODES.has(code)) return 'dns';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (RESET_CODES.has(code)) return 'reset';
  if (TLS_CODE.test(code)) return 'tls';
  if (code.startsWith('ERR_HTTP2')) return 'h2';
  const message = (err as { message?: unknown })?.message;
  if (typeof message === 'string' && /socket hang up|aborted/i.test(message)) return 'reset';
  return 'other';
}
