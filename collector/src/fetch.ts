/**
 * One read of a usage source: an HTTP GET of the window, or the file as it
 * is now, as text. Failures are PollErrors with the kind the metrics count.
 */
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { errorMessage } from '../../runtime/src/errors';
import { COLLECTOR_VERSION } from './defaults';
import type { ErrorKind } from './metrics';

/** A usage export larger than this is refused: no vendor's 48 hours come near it. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** How much of an error response's body a log line shows. */
const ERROR_BODY_CHARS = 200;

export class PollError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'PollError';
  }
}

export interface HttpRead {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Aborts the read when the collector stops. */
  signal: AbortSignal;
}

/** GETs `url`; gives the body of a 2xx answer. Redirects are not followed (a 3xx is an `http` error). */
export function readHttp(read: HttpRead): Promise<string> {
  return new Promise((resolve, reject) => {
    const url = new URL(read.url);
    const client = url.protocol === 'https:' ? https : http;
    let settled = false;
    const fail = (err: PollError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req = client.request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json, text/csv;q=0.9, */*;q=0.1', 'user-agent': `proxy-telemetry-usage-collector/${COLLECTOR_VERSION}`, ...read.headers },
        agent: false,
        signal: read.signal,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) fail(new PollError('malformed', `response larger than ${MAX_BODY_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', (err) => fail(new PollError('network', errorMessage(err))));
        res.on('end', () => {
          if (settled) return;
          const body = Buffer.concat(chunks).toString('utf8');
          if (status >= 200 && status < 300) {
            settled = true;
            clearTimeout(timer);
            resolve(body);
            return;
          }
          const excerpt = body.replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
          fail(new PollError(status === 401 || status === 403 ? 'auth' : 'http', `HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`));
        });
      },
    );
    // One deadline for the whole exchange: connect, answer and body.
    const timer = setTimeout(() => fail(new PollError('timeout', `no complete answer within ${read.timeoutMs / 1000} s`)), read.timeoutMs);
    req.on('error', (err) => fail(new PollError('network', errorMessage(err))));
    req.end();
  });
}

/** The file's text now. */
export async function readFileSource(path: string, signal: AbortSignal): Promise<string> {
  try {
    return await fs.readFile(path, { encoding: 'utf8', signal });
  } catch (err) {
    throw new PollError('file', errorMessage(err));
  }
}
