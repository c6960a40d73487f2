/**
 * The gateway's usage API, as proxy vendors offer one: bytes and requests
 * per account and time bucket, from the gateway's own counts, behind a
 * Bearer token. The store keeps the buckets; UsageApi answers
 * `GET /v1/usage?from=&to=` on its own port.
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { listenOn } from '../../runtime/src/program';
import { USAGE_PATH } from './defaults';

const DAY_SECONDS = 86_400;
/** Buckets that ended longer ago than this are dropped: a week covers a collector that was down over a weekend. */
export const USAGE_RETENTION_SECONDS = 7 * DAY_SECONDS;
/** How far back a request without `from` reaches. */
export const DEFAULT_USAGE_WINDOW_SECONDS = 2 * DAY_SECONDS;
/** Open connections are counted into the buckets at least this often, so a long tunnel spreads over its buckets. */
const MAX_FLUSH_INTERVAL_MS = 1_000;

/** One account's usage in one bucket, as the API reports it. */
export interface UsageRecord {
  readonly account: string;
  /** Start of the bucket, UTC ISO 8601 (`hour` as vendors name it, whatever the bucket length). */
  readonly hour: string;
  /** Bytes on the account's client connections in the bucket so far, both directions. */
  readonly bytes: number;
  /** Authenticated absolute-form requests and CONNECTs in the bucket so far. */
  readonly requests: number;
}

/** The body of a 200 answer. */
export interface UsageResponse {
  readonly vendor: string;
  readonly bucketSeconds: number;
  readonly generatedAt: string;
  readonly usage: UsageRecord[];
}

/** Why `seconds` cannot be a bucket length, or undefined when it can. */
export function bucketSecondsProblem(seconds: number): string | undefined {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > DAY_SECONDS) return `must be an integer from 1 to ${DAY_SECONDS}`;
  // Buckets then start at the same times every day (UTC), as a collector expects.
  if (DAY_SECONDS % seconds !== 0) return `must divide ${DAY_SECONDS} (a day), e.g. 60, 300, 900 or 3600`;
  return undefined;
}

interface Totals {
  bytes: number;
  requests: number;
}

/**
 * Usage per account in buckets of `bucketSeconds` aligned to the Unix epoch,
 * counted at the moment it is added; buckets that ended more than
 * USAGE_RETENTION_SECONDS ago are dropped.
 */
export class UsageStore {
  private readonly bucketMs: number;
  /** Bucket starts (ms), ascending. */
  private readonly starts: number[] = [];
  private readonly buckets = new Map<number, Map<string, Totals>>();

  constructor(
    readonly bucketSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    const problem = bucketSecondsProblem(bucketSeconds);
    if (problem) throw new RangeError(`UsageStore: bucketSeconds=${bucketSeconds} ${problem}`);
    this.bucketMs = bucketSeconds * 1000;
  }

  /** Adds to the account's totals in the bucket of now. */
  add(account: string, bytes: number, requests: number): void {
    if (bytes <= 0 && requests <= 0) return;
    const at = this.now();
    const start = at - (at % this.bucketMs);
    let bucket = this.buckets.get(start);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(start, bucket);
      // Usually the newest; a clock set back inserts it in order.
      let i = this.starts.length;
      while (i > 0 && this.starts[i - 1] > start) i--;
      this.starts.splice(i, 0, start);
      this.prune(at);
    }
    let totals = bucket.get(account);
    if (!totals) bucket.set(account, (totals = { bytes: 0, requests: 0 }));
    totals.bytes += Math.max(0, bytes);
    totals.requests += Math.max(0, requests);
  }

  /** The records of every bucket that overlaps [fromMs, toMs], oldest first, accounts by name. */
  query(fromMs: number, toMs: number): UsageRecord[] {
    this.prune(this.now());
    const out: UsageRecord[] = [];
    // The first bucket that ends after `fromMs`.
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] + this.bucketMs > fromMs) hi = mid;
      else lo = mid + 1;
    }
    for (let i = lo; i < this.starts.length && this.starts[i] <= toMs; i++) {
      const start = this.starts[i];
      const hour = new Date(start).toISOString();
      const bucket = this.buckets.get(start)!;
      for (const account of [...bucket.keys()].sort()) {
        const { bytes, requests } = bucket.get(account)!;
        out.push({ account, hour, bytes, requests });
      }
    }
    return out;
  }

  private prune(now: number): void {
    const oldest = now - USAGE_RETENTION_SECONDS * 1000;
    let drop = 0;
    while (drop < this.starts.length && this.starts[drop] + this.bucketMs <= oldest) this.buckets.delete(this.starts[drop++]);
    if (drop > 0) this.starts.splice(0, drop);
  }
}

const UNIX_SECONDS = /^[0-9]{1,12}(?:\.[0-9]{1,9})?$/;
const ISO_8601 = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(Z|([+-])([0-9]{2}):?([0-9]{2})))?$/i;

/**
 * A `from` or `to` value as epoch milliseconds: Unix seconds (decimals
 * allowed), or ISO 8601: a date (midnight UTC), or a date and time with `Z`
 * or an offset. Undefined when it is neither, or names no real time.
 */
export function parseInstant(raw: string): number | undefined {
  if (UNIX_SECONDS.test(raw)) return Math.round(Number(raw) * 1000);
  const m = ISO_8601.exec(raw);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number);
  const ms = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const d = new Date(utc);
  // Date.UTC rolls 31 February over into March; a real time does not.
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return undefined;
  const offsetHours = Number(m[10] ?? 0);
  const offsetMinutes = Number(m[11] ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  return utc - (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
}

/** An answer of the usage API. */
export interface UsageAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface UsageApiOptions {
  readonly store: UsageStore;
  /** USAGE_TOKEN: the Bearer token every request must carry. */
  readonly token: string;
  /** The `vendor` of the answers. */
  readonly vendor: string;
  /** Brings the store up to now (the open connections' bytes so far); called before each answer and periodically. */
  readonly flush: () => void;
  readonly now?: () => number;
}

const BEARER = /^bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
const digest = (text: string): Buffer => crypto.createHash('sha256').update(text, 'utf8').digest();

/** `GET /v1/usage?from=&to=` with `Authorization: Bearer <USAGE_TOKEN>`, on its own port. */
export class UsageApi {
  private readonly server: http.Server;
  private readonly expected: Buffer;
  private readonly realm: string;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;

  constructor(private readonly options: UsageApiOptions) {
    // Digests have one length, so the comparison takes the same time for every wrong token.
    this.expected = digest(options.token);
    this.realm = `${options.vendor.replace(/["\\]/g, '')} usage API`;
    this.now = options.now ?? Date.now;
    this.server = http.createServer((req, res) => {
      req.resume();
      const answer = this.answer(req.method ?? 'GET', req.url ?? '/', req.headers.authorization);
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    });
  }

  /** Opens the port and starts counting open connections into the buckets; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number> {
    const period = Math.min(MAX_FLUSH_INTERVAL_MS, (this.options.store.bucketSeconds * 1000) / 4);
    this.timer = setInterval(() => this.options.flush(), period);
    this.timer.unref();
    return listenOn(this.server, port, host);
  }

  /** No new connections; open ones are closed. */
  close(): void {
    clearInterval(this.timer);
    if (this.server.listening) this.server.close();
    this.server.closeAllConnections();
  }

  /** The answer to a request: 401 before anything else, so that nothing is told without the token. */
  answer(method: string, url: string, authorization: string | undefined): UsageAnswer {
    const token = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
    if (token === undefined || !crypto.timingSafeEqual(digest(token), this.expected)) {
      const challenge = `Bearer realm="${this.realm}"${authorization === undefined ? '' : ', error="invalid_token"'}`;
      return json(401, { error: authorization === undefined ? 'Authorization: Bearer <token> is required' : 'the token is not valid' }, { 'www-authenticate': challenge });
    }
    const [path, query = ''] = url.split('?', 2);
    if (path !== USAGE_PATH) return json(404, { error: `no such path: the usage API is GET ${USAGE_PATH}?from=<time>&to=<time>` });
    if (method !== 'GET') return json(405, { error: `${method} is not allowed: GET only` }, { allow: 'GET' });

    const params = parseQuery(query);
    if ('error' in params) return json(400, params);
    const now = this.now();
    const bounds: Record<'from' | 'to', number> = { from: now - DEFAULT_USAGE_WINDOW_SECONDS * 1000, to: now };
    for (const name of ['from', 'to'] as const) {
      const raw = params.values.get(name);
      if (raw === undefined) continue;
      const value = parseInstant(raw);
      if (value === undefined) {
        return json(400, { error: `${name}=${JSON.stringify(raw)}: must be ISO 8601 with a time zone (2026-12-06T12:00:00Z) or Unix seconds`, parameter: name });
      }
      bounds[name] = value;
    }
    if (bounds.to < bounds.from) return json(400, { error: `to (${new Date(bounds.to).toISOString()}) is before from (${new Date(bounds.from).toISOString()})`, parameter: 'to' });
    this.options.flush();
    const body: UsageResponse = {
      vendor: this.options.vendor,
      bucketSeconds: this.options.store.bucketSeconds,
      generatedAt: new Date(now).toISOString(),
      usage: this.options.store.query(bounds.from, bounds.to),
    };
    return json(200, body);
  }
}

/** from and to, each at most once; other parameters are ignored, as a vendor's API would. */
function parseQuery(query: string): { values: Map<string, string> } | { error: string; parameter: string } {
  const values = new Map<string, string>();
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    // Not URLSearchParams: it reads `+` as a space, which would break an offset like +01:00 sent unencoded.
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
      value = decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1));
    } catch {
      return { error: `${JSON.stringify(part)}: bad percent-encoding`, parameter: part.slice(0, Math.max(eq, 0)) };
    }
    if (name !== 'from' && name !== 'to') continue;
    if (values.has(name)) return { error: `${name} is given more than once`, parameter: name };
    values.set(name, value);
  }
  return { values };
}

function json(status: number, body: object, headers: Record<string, string> = {}): UsageAnswer {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: `${JSON.stringify(body)}\n`,
  };
}
