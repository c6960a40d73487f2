import { parseDuration as parsePromDuration } from '../core/validation';
import { DEFAULT_USAGE_OUTSIDE_FLEET_RATIO, DEFAULT_USAGE_STALE_AFTER } from '../core/alerts';
import { DEMO_GATEWAY_METRICS, DESTINATION_LABEL, GATEWAY_LABEL, ISTIO, LABEL, USAGE_JOB, USAGE_METRICS } from '../core/metric-contract';
import { RULE, RULE_GROUP } from '../core/rules';
import { UsageError } from './command';

/**
 * Checks a running Prometheus against requirements A–D of the metric contract: request counts, destinations,
 * bytes sent and bytes received per proxy vendor. Pure logic over a small query client; `formatResult` renders
 * the result as text, and the result object itself is the JSON form.
 */

export const PORT_FORWARD_HINT = 'kubectl port-forward -n monitoring svc/prometheus 9090:9090';

/** Exit codes of `proxy-telemetry validate`. */
export const EXIT = {
  pass: 0,
  fail: 1,
  usage: 2,
  unreachable: 3,
  empty: 4,
  rulesMissing: 5,
} as const;

export interface Sample { metric: Record<string, string>; value: number }

/** The little of the Prometheus HTTP API the checks need. */
export interface QueryClient {
  /** Instant query at `timeMs` (ms since the epoch); the result must be a vector. */
  query(expr: string, timeMs: number): Promise<Sample[]>;
  /** Names of the loaded rule groups. */
  ruleGroups(): Promise<string[]>;
}

/** Prometheus could not be reached or did not answer like a Prometheus API. */
export class UnreachableError extends Error {
  constructor(public readonly url: string, public readonly reason: string) {
    super(`cannot reach Prometheus at ${url}: ${reason}`);
    this.name = 'UnreachableError';
  }
}

/** A query Prometheus answered with an error (bad expression, timeout of the query engine, ...). */
export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}

/** A QueryClient over the HTTP API (/api/v1/query, /api/v1/rules) with Node's global fetch. */
export function httpQueryClient(baseUrl: string, timeoutMs = 10_000): QueryClient {
  const base = baseUrl.replace(/\/+$/, '');
  const get = async (endpoint: string, params: Record<string, string>): Promise<any> => {
    const url = `${base}${endpoint}${Object.keys(params).length ? `?${new URLSearchParams(params)}` : ''}`;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    } catch (err) {
      throw new UnreachableError(base, fetchFailure(err, timeoutMs));
    }
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      throw new UnreachableError(base, `HTTP ${res.status} from ${endpoint} is not a Prometheus API response (is this the Prometheus URL?)`);
    }
    if (body?.status !== 'success') {
      if (body?.status === 'error') throw new QueryError(`${endpoint} ${params.query ?? ''}: ${body.errorType ?? ''} ${body.error ?? ''}`.trim());
      throw new UnreachableError(base, `HTTP ${res.status} from ${endpoint} is not a Prometheus API response (is this the Prometheus URL?)`);
    }
    return body.data;
  };
  return {
    async query(expr, timeMs) {
      const data = await get('/api/v1/query', { query: expr, time: String(timeMs / 1000) });
      if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
      if (data.resultType !== 'vector') throw new QueryError(`query '${expr}' returned a ${data.resultType}, not a vector`);
      return data.result.map((r: any) => ({ metric: r.metric ?? {}, value: Number(r.value[1]) }));
    },
    async ruleGroups() {
      const data = await get('/api/v1/rules', { type: 'record' });
      return (data.groups ?? []).map((g: any) => String(g.name));
    },
  };
}

function fetchFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s (timeout)`;
  const code = e?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found (DNS)';
  if (code === 'ECONNRESET') return 'connection reset';
  return e?.cause?.message ?? e?.message ?? String(err);
}

// ---- durations and units ----

/** Seconds of a Prometheus duration ('90s', '30m', '1h', '1h30m', '7d'); undefined when invalid. One parser: core/validation. */
export function parseDuration(text: string): number | undefined {
  try {
    const ms = parsePromDuration('duration', text);
    return ms > 0 ? ms / 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes per second in binary units: B/s, KiB/s, MiB/s, GiB/s. */
export function humanRate(bytesPerSecond: number): string {
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s', 'TiB/s'];
  let v = bytesPerSecond;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(2)} ${units[i]}`;
}

/** A duration in its two largest non-zero units: '45s', '20m 5s', '3h 12m', '2d 4h'. */
export function humanDuration(seconds: number): string {
  let rest = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.length === 0 ? '0s' : parts.slice(0, 2).join(' ');
}

/** A signed percentage with one decimal: '+30.0%', '-2.5%'. */
function signedPercent(v: number): string {
  return `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;
}

function perSecond(v: number): string {
  return `${v.toFixed(v >= 100 ? 1 : 3)}/s`;
}

function count(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

// ---- result ----

/** `NOT CHECKED`: what the check reads is not in this Prometheus (not a failure). */
export type Status = 'PASS' | 'FAIL' | 'NOT CHECKED';
export type Outcome = 'checked' | 'unreachable' | 'empty' | 'rules-missing';

export interface RequestFigures {
  vendor: string;
  httpRequestsPerSecond: number;
  tcpConnectionsPerSecond: number;
  /** Estimated count over the window: avg_over_time of the recorded rate × window seconds. */
  httpRequestsInWindow: number;
  tcpConnectionsInWindow: number;
}

export interface DestinationFigures {
  vendor: string;
  /** Top destinations, requests + connections per second, highest first. */
  destinations: Array<{ destination: string; perSecond: number }>;
}

export interface ByteFigures {
  vendor: string;
  bytesPerSecond: number;
  /** Pods with a series for this vendor. */
  pods: number;
  /** Per pod, highest first. */
  perPod: Array<{ namespace: string; pod: string; bytesPerSecond: number }>;
}

/** What the sidecars make of one vendor's traffic, against what the vendor model says they should. */
export interface SidecarFinding {
  vendor: string;
  /** From the vendor info series: 'none' (no gateway), 'tcp' or 'http'; '' for a vendor not in the model. */
  gatewayInspection: string;
  status: 'PASS' | 'WARN' | 'FAIL';
  detail: string;
}

/** Requests that reached a demo gateway with a header a crawler sidecar added, over the window. */
export interface InjectedHeaderFigures {
  vendor: string;
  header: string;
  /** Requests counted over the window (increase of the counter, or the value of a series born in the window). */
  requests: number;
}

/** One vendor's bill against what the sidecars measured to its gateways. */
export interface BillFigures {
  vendor: string;
  status: 'PASS' | 'FAIL' | 'NOT CHECKED';
  /** Bytes/s its usage source says it billed (proxy_vendor:proxy_billed_bytes:rate5m); null without that series. */
  billedBytesPerSecond: number | null;
  /** Bytes/s the sidecars measured to its gateways, counted as it bills them; 0 when none were. */
  measuredBytesPerSecond: number;
  /** (billed / measured − 1) × 100; null when nothing was measured or the source is stale. */
  differencePercent: number | null;
  /** Seconds since its usage source last answered; null without the series, or when it never has. */
  sourceAgeSeconds: number | null;
  detail: string;
}

export interface Check<T> {
  status: Status;
  title: string;
  /** What the figures are computed from. */
  query: string;
  vendors: T[];
  note?: string;
}

export interface ValidationResult {
  prometheus: string;
  /** ISO time of the instant queries. */
  evaluatedAt: string;
  outcome: Outcome;
  exitCode: number;
  /** For any outcome other than 'checked': what is wrong and what to do. */
  message?: string;
  window: { text: string; seconds: number; method: string };
  top: number;
  /** Share by which a bill may differ from what was measured in G. */
  billTolerance: number;
  checks?: {
    A: Check<RequestFigures>;
    B: Check<DestinationFigures>;
    C: Check<ByteFigures>;
    D: Check<ByteFigures>;
    /** Whether the sidecars parse what the product configured: HTTP, server names, inspected gateways. */
    E: Check<SidecarFinding>;
    /** Whether the sidecars leave the crawler's requests as it wrote them: headers the demo gateways received that the crawler never sends. */
    F: Check<InjectedHeaderFigures>;
    /** Whether each vendor's bill (the usage collector's) matches what the sidecars measured to its gateways. */
    G: Check<BillFigures>;
  };
  /** Bytes/s per namespace from crawler pods without the proxy-vendor label. */
  unattributed?: Array<{ namespace: string; bytesPerSecond: number }>;
  warnings: string[];
}

export interface ValidateOptions {
  /** The Prometheus URL, for messages. */
  prometheus: string;
  /** The window of the counts of requirement A, e.g. '1h'. */
  window?: string;
  /** Destinations listed per vendor. */
  top?: number;
  /** Evaluation time (ms since the epoch); default now. */
  timeMs?: number;
  /**
   * Share by which a vendor's billed bytes/s may differ from the measured ones in G, from 0 to 1.
   * @default DEFAULT_BILL_TOLERANCE (0.05)
   */
  billTolerance?: number;
}

/** Share by which a bill may differ from what the sidecars measured (check G): the usage-outside-the-fleet alert's. */
export const DEFAULT_BILL_TOLERANCE = DEFAULT_USAGE_OUTSIDE_FLEET_RATIO;

/** Whether a bill tolerance is a share from 0 to 1. */
const isBillTolerance = (v: number): boolean => Number.isFinite(v) && v >= 0 && v <= 1;

/** The value of `--bill-tolerance`: a share from 0 to 1, or a usage error naming the flag and the value. */
export function parseBillTolerance(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !isBillTolerance(v)) throw new UsageError(`--bill-tolerance '${text}' must be a share from 0 to 1 (e.g. 0.05 for 5%)`);
  return v;
}

/** Seconds without a successful poll after which a vendor's usage source is stale: the ProxyUsageSourceStale alert's default. */
const USAGE_STALE_AFTER_SECONDS = parsePromDuration('usageStaleAfter', DEFAULT_USAGE_STALE_AFTER) / 1000;

const vendorOf = (s: Sample): string => s.metric[LABEL.vendor] ?? '';
const byVendor = <T extends { vendor: string }>(a: T, b: T): number => a.vendor.localeCompare(b.vendor);

/** Runs the checks. Unreachable, empty and rules-missing Prometheus servers are outcomes, not exceptions. */
export async function validate(client: QueryClient, opts: ValidateOptions): Promise<ValidationResult> {
  const windowText = opts.window ?? '1h';
  const windowSeconds = parseDuration(windowText);
  if (windowSeconds === undefined) throw new RangeError(`invalid window '${windowText}': use a duration such as 30m, 1h or 1d`);
  const top = opts.top ?? 5;
  const billTolerance = opts.billTolerance ?? DEFAULT_BILL_TOLERANCE;
  if (!isBillTolerance(billTolerance)) throw new RangeError(`invalid bill tolerance ${billTolerance}: use a share from 0 to 1, e.g. 0.05 for 5%`);
  const at = opts.timeMs ?? Date.now();
  const base: ValidationResult = {
    prometheus: opts.prometheus,
    evaluatedAt: new Date(at).toISOString(),
    outcome: 'checked',
    exitCode: EXIT.pass,
    window: {
      text: windowText,
      seconds: windowSeconds,
      method: `avg_over_time(${RULE.requests}[${windowText}]) × ${windowSeconds} s (the average recorded rate over the window times its length)`,
    },
    top,
    billTolerance,
    warnings: [],
  };
  const q = (expr: string): Promise<Sample[]> => client.query(expr, at);

  try {
    // Are sidecars scraped at all? A global tier (a global Prometheus, or an engine such as VictoriaMetrics above
    // the shards) holds no raw sidecar series, only what the shards computed from them: their per-pod rules.
    const raw = await q(`count({__name__=~"${ISTIO.requests}|${ISTIO.tcpOpened}"}) or count(${RULE.podSentBytes})`);
    if (raw.length === 0 || raw[0].value === 0) {
      return {
        ...base,
        outcome: 'empty',
        exitCode: EXIT.empty,
        message: `Prometheus at ${opts.prometheus} has no ${ISTIO.requests} or ${ISTIO.tcpOpened} series: no Istio sidecar is scraped. `
          + `Check that crawler pods have the istio-proxy sidecar injected (namespace label istio-injection=enabled, `
          + `\`kubectl get pods -n <crawler-namespace>\` shows 2/2 containers) and that the crawler-sidecars targets are up `
          + `(${opts.prometheus.replace(/\/+$/, '')}/targets).`,
      };
    }

    const requests = await q(`sum by (${LABEL.vendor}, request_protocol) (${RULE.requests})`);
    if (requests.length === 0) {
      const groups = await client.ruleGroups();
      if (!groups.includes(RULE_GROUP)) {
        return {
          ...base,
          outcome: 'rules-missing',
          exitCode: EXIT.rulesMissing,
          message: `Prometheus at ${opts.prometheus} scrapes Istio sidecars but has no rule group '${RULE_GROUP}' loaded, so ${RULE.requests} does not exist: `
            + `the recording rules are not loaded. Check the Prometheus rule_files and the mounted rules ConfigMap `
            + `(${opts.prometheus.replace(/\/+$/, '')}/rules), then reload Prometheus.`,
        };
      }
    }

    const checks = await runChecks(q, requests, windowText, windowSeconds, top, billTolerance, at);
    const unattributedSamples = await q(`sum by (${LABEL.namespace}) (${RULE.unattributedBytes})`);
    const unattributed = unattributedSamples
      .map(s => ({ namespace: s.metric[LABEL.namespace] ?? '', bytesPerSecond: s.value }))
      .sort((a, b) => a.namespace.localeCompare(b.namespace));
    const warnings: string[] = [];
    for (const u of unattributed.filter(u => u.bytesPerSecond > 0)) {
      warnings.push(`unattributed traffic: ${humanRate(u.bytesPerSecond)} in namespace ${u.namespace || '(none)'} from pods without the proxy-vendor label (${RULE.unattributedBytes})`);
    }
    const allPass = !Object.values(checks).some(c => c.status === 'FAIL');
    return { ...base, checks, unattributed, warnings, exitCode: allPass ? EXIT.pass : EXIT.fail };
  } catch (err) {
    if (err instanceof UnreachableError) {
      return {
        ...base,
        outcome: 'unreachable',
        exitCode: EXIT.unreachable,
        message: `${err.message}. Is Prometheus running and reachable? For the in-cluster Prometheus, run \`${PORT_FORWARD_HINT}\` and pass --prometheus http://localhost:9090.`,
      };
    }
    throw err;
  }
}

async function runChecks(
  q: (expr: string) => Promise<Sample[]>,
  requests: Sample[],
  windowText: string,
  windowSeconds: number,
  top: number,
  billTolerance: number,
  atMs: number,
): Promise<NonNullable<ValidationResult['checks']>> {
  // A. requests and connections per vendor, now and over the window.
  const requestsQuery = `sum by (${LABEL.vendor}, request_protocol) (${RULE.requests})`;
  const inWindow = await q(`sum by (${LABEL.vendor}, request_protocol) (avg_over_time(${RULE.requests}[${windowText}])) * ${windowSeconds}`);
  const a = new Map<string, RequestFigures>();
  const aRow = (vendor: string): RequestFigures => {
    if (!a.has(vendor)) a.set(vendor, { vendor, httpRequestsPerSecond: 0, tcpConnectionsPerSecond: 0, httpRequestsInWindow: 0, tcpConnectionsInWindow: 0 });
    return a.get(vendor)!;
  };
  for (const s of requests) {
    const row = aRow(vendorOf(s));
    if (s.metric.request_protocol === 'tcp') row.tcpConnectionsPerSecond += s.value;
    else row.httpRequestsPerSecond += s.value;
  }
  for (const s of inWindow) {
    const row = aRow(vendorOf(s));
    if (s.metric.request_protocol === 'tcp') row.tcpConnectionsInWindow += s.value;
    else row.httpRequestsInWindow += s.value;
  }
  const aVendors = [...a.values()].sort(byVendor);
  const A: Check<RequestFigures> = {
    title: 'Request count per proxy vendor',
    query: requestsQuery,
    status: aVendors.some(v => v.httpRequestsPerSecond > 0 || v.tcpConnectionsPerSecond > 0) ? 'PASS' : 'FAIL',
    vendors: aVendors,
  };
  if (A.status === 'FAIL') A.note = `no vendor has a non-zero request or connection rate in ${RULE.requests}: are crawler pods labelled proxy-vendor and sending traffic?`;

  // B. top destinations per vendor.
  const destQuery = `topk by (${LABEL.vendor}) (${top}, sum by (${LABEL.vendor}, ${DESTINATION_LABEL}) (${RULE.destinationRequests}))`;
  const dest = await q(destQuery);
  const b = new Map<string, DestinationFigures>();
  for (const s of dest) {
    const vendor = vendorOf(s);
    if (!b.has(vendor)) b.set(vendor, { vendor, destinations: [] });
    b.get(vendor)!.destinations.push({ destination: s.metric[DESTINATION_LABEL] ?? '', perSecond: s.value });
  }
  const bVendors = [...b.values()].sort(byVendor);
  for (const v of bVendors) v.destinations.sort((x, y) => y.perSecond - x.perSecond || x.destination.localeCompare(y.destination));
  const B: Check<DestinationFigures> = {
    title: 'Destination tracking',
    query: destQuery,
    status: bVendors.some(v => v.destinations.some(d => d.destination !== '' && d.destination !== 'unknown')) ? 'PASS' : 'FAIL',
    vendors: bVendors,
  };
  if (B.status === 'FAIL') B.note = `no destination other than "unknown" in ${RULE.destinationRequests}: check the Host header / SNI labels (destination_sni from the Telemetry resource)`;

  // C and D. bytes per vendor, with per-pod figures.
  const bytes = async (title: string, vendorRule: string, podRule: string): Promise<Check<ByteFigures>> => {
    const [vendors, pods] = await Promise.all([
      q(`sum by (${LABEL.vendor}) (${vendorRule})`),
      q(`sum by (${LABEL.vendor}, ${LABEL.namespace}, ${LABEL.pod}) (${podRule})`),
    ]);
    const m = new Map<string, ByteFigures>();
    const row = (vendor: string): ByteFigures => {
      if (!m.has(vendor)) m.set(vendor, { vendor, bytesPerSecond: 0, pods: 0, perPod: [] });
      return m.get(vendor)!;
    };
    for (const s of vendors) row(vendorOf(s)).bytesPerSecond += s.value;
    for (const s of pods) {
      const r = row(vendorOf(s));
      r.pods++;
      r.perPod.push({ namespace: s.metric[LABEL.namespace] ?? '', pod: s.metric[LABEL.pod] ?? '', bytesPerSecond: s.value });
    }
    const list = [...m.values()].sort(byVendor);
    for (const v of list) v.perPod.sort((x, y) => y.bytesPerSecond - x.bytesPerSecond || x.pod.localeCompare(y.pod));
    const check: Check<ByteFigures> = {
      title,
      query: `${vendorRule} (per pod: ${podRule})`,
      status: list.some(v => v.bytesPerSecond > 0) ? 'PASS' : 'FAIL',
      vendors: list,
    };
    if (check.status === 'FAIL') check.note = `no vendor has non-zero bytes in ${vendorRule}`;
    return check;
  };
  const C = await bytes('Bandwidth sent (upload)', RULE.vendorSentBytes, RULE.podSentBytes);
  const D = await bytes('Bandwidth received (download)', RULE.vendorReceivedBytes, RULE.podReceivedBytes);
  const E = await sidecarCheck(q, aVendors);
  const F = await transparencyCheck(q, windowText);
  const G = await billCheck(q, billTolerance, atMs);
  return { A, B, C, D, E, F, G };
}

/**
 * Each vendor's bill matches what the sidecars measured: the bytes/s its usage source says it billed
 * (proxy_vendor:proxy_billed_bytes:rate5m) against the bytes/s the sidecars sent through its gateways, counted as it
 * bills them (proxy_vendor:proxy_measured_billable_bytes:rate5m), within `tolerance` of the measured. A vendor whose
 * usage source has not answered for USAGE_STALE_AFTER_SECONDS fails as stale: its billed rate says nothing then. Its
 * last success is remembered over a week, as the stale alert does, so that a collector that is down fails here rather
 * than going unnoticed.
 */
export async function billCheck(q: (expr: string) => Promise<Sample[]>, tolerance: number, atMs: number): Promise<Check<BillFigures>> {
  const title = 'The vendors\' bills match what the sidecars measured';
  const query = `${RULE.billedBytes} / ${RULE.measuredBillableBytes}; ${USAGE_METRICS.lastSuccess}`;
  const [billed, measured, lastSuccess] = await Promise.all([
    q(`sum by (${LABEL.vendor}) (${RULE.billedBytes})`),
    q(`sum by (${LABEL.vendor}) (${RULE.measuredBillableBytes})`),
    q(`max by (${LABEL.vendor}) (max_over_time(${USAGE_METRICS.lastSuccess}[1w]))`),
  ]);
  if (billed.length === 0 && lastSuccess.length === 0) {
    const raw = await q(`count(${USAGE_METRICS.billedBytes})`);
    const note = raw.length > 0 && raw[0].value > 0
      ? `${USAGE_METRICS.billedBytes} is scraped but ${RULE.billedBytes} is not recorded: the usage rules are not loaded (MetricsStack records them when prometheus.podScrapes has job ${USAGE_JOB}; the mixin with usage: true)`
      : `no ${RULE.billedBytes} series: no usage collector reports what the vendors billed (job ${USAGE_JOB})`;
    return { title, query, status: 'NOT CHECKED', vendors: [], note };
  }
  const billedBy = new Map(billed.map(s => [vendorOf(s), s.value]));
  const measuredBy = new Map(measured.map(s => [vendorOf(s), s.value]));
  const successBy = new Map(lastSuccess.map(s => [vendorOf(s), s.value]));
  const vendors = [...new Set([...billedBy.keys(), ...successBy.keys()])].sort();
  const rows = vendors.map((vendor): BillFigures => {
    const b = billedBy.get(vendor);
    const m = measuredBy.get(vendor) ?? 0;
    const success = successBy.get(vendor);
    const age = success === undefined || success <= 0 ? null : Math.max(0, atMs / 1000 - success);
    const row = (status: BillFigures['status'], detail: string, differencePercent: number | null = null): BillFigures =>
      ({ vendor, status, billedBytesPerSecond: b ?? null, measuredBytesPerSecond: m, differencePercent, sourceAgeSeconds: age, detail });
    if (success !== undefined && success <= 0) return row('FAIL', `source stale: its usage source never answered (${USAGE_METRICS.lastSuccess} is 0)`);
    if (age !== null && age > USAGE_STALE_AFTER_SECONDS) {
      return row('FAIL', `source stale: last successful poll ${humanDuration(age)} ago (${USAGE_METRICS.lastSuccess}; stale after ${DEFAULT_USAGE_STALE_AFTER})`);
    }
    if (b === undefined) return row('NOT CHECKED', `no billed rate yet (${RULE.billedBytes}): it needs 5 minutes of the collector's counters`);
    const figures = `billed ${humanRate(b).padStart(12)}   measured ${humanRate(m).padStart(12)}`;
    if (m === 0) return b === 0 ? row('PASS', `${figures}   nothing billed, nothing measured`) : row('FAIL', `${figures}   nothing measured through its gateways`);
    const difference = (b / m - 1) * 100;
    // Rounding of the rates must not fail a bill exactly at the tolerance.
    const within = Math.abs(difference) <= tolerance * 100 + 1e-9;
    return row(within ? 'PASS' : 'FAIL', `${figures}   difference ${signedPercent(difference).padStart(7)}`, difference);
  });
  const status = rows.some(r => r.status === 'FAIL') ? 'FAIL' : rows.some(r => r.status === 'PASS') ? 'PASS' : 'NOT CHECKED';
  const pct = `${+(tolerance * 100).toFixed(2)}%`;
  const check: Check<BillFigures> = { title, query, status, vendors: rows };
  if (status === 'FAIL') {
    check.note = `billed above measured by more than ${pct}: traffic from outside the fleet (credentials used elsewhere, a job outside the mesh), or a vendor that bills `
      + 'other bytes than its billedBytes in the vendor model says; billed below measured: the vendor bills less than the sidecars count. '
      + `A stale source: see the usage collector's log and ${USAGE_METRICS.errors}`;
  } else if (status === 'PASS') {
    check.note = `every vendor's bill is within ${pct} of what the sidecars measured through its gateways (5-minute rates)`;
  } else {
    check.note = `no vendor has a billed rate yet: ${RULE.billedBytes} needs 5 minutes of the collector's counters`;
  }
  return check;
}

/**
 * The sidecar is transparent: no request reached a demo gateway with a header a sidecar adds and the crawler never
 * sends (`gateway_injected_headers_total`, counted by the demo gateways only). Counted over the window: the increase of
 * each series, or for a series born within the window (a gateway that started, or a header first seen) its value.
 */
export async function transparencyCheck(q: (expr: string) => Promise<Sample[]>, windowText: string): Promise<Check<InjectedHeaderFigures>> {
  const metric = DEMO_GATEWAY_METRICS.injectedHeaders;
  const title = 'The sidecar is transparent';
  const query = `sum by (vendor, header) (increase(${metric}[${windowText}]))`;
  const present = await q(`count(${metric})`);
  if (present.length === 0 || present[0].value === 0) {
    return {
      title, query, status: 'NOT CHECKED', vendors: [],
      note: `no ${metric} series: only the demo gateways measure the headers a sidecar adds (run the demo, or check a crawler pod's proxy.istio.io/config proxyHeaders)`,
    };
  }
  const [increased, born] = await Promise.all([
    q(query),
    q(`sum by (vendor, header) (${metric} unless ${metric} offset ${windowText})`),
  ]);
  const counts = new Map<string, InjectedHeaderFigures>();
  for (const s of [...increased, ...born]) {
    const vendor = s.metric.vendor ?? '';
    const header = s.metric.header ?? '';
    const key = `${vendor}\u0000${header}`;
    const row = counts.get(key) ?? { vendor, header, requests: 0 };
    row.requests = Math.max(row.requests, Math.round(s.value));
    counts.set(key, row);
  }
  const added = [...counts.values()].filter(r => r.requests > 0).sort((a, b) => a.vendor.localeCompare(b.vendor) || b.requests - a.requests || a.header.localeCompare(b.header));
  const check: Check<InjectedHeaderFigures> = { title, query, status: added.length > 0 ? 'FAIL' : 'PASS', vendors: added };
  check.note = added.length > 0
    ? `the demo gateways received headers the crawler never sends: the crawler pods' sidecars add them. Give the pods the transparent proxyHeaders (makeSidecarTransparent(), annotation proxy.istio.io/config) and restart them`
    : `no request reached the demo gateways with a header a sidecar adds (${metric}, over ${windowText})`;
  return check;
}

/**
 * Signs of a sidecar that cannot see what the product configured it to see:
 * - an inspected gateway (`gateway_inspection="http"`) whose vendor has traffic but no request through the gateway's
 *   cluster: the EnvoyFilter routes did not apply (a CONNECT then gets the sidecar's own 404 NR), or its
 *   connections are TCP: the ServiceEntry port is not HTTP;
 * - TLS connections of a vendor, none of them with a server name: the TLS inspector did not apply;
 * - a vendor without a gateway with connections to "unknown" and no parsed HTTP at all: no HTTP listener on the
 *   crawlers' plain-HTTP port.
 */
async function sidecarCheck(q: (expr: string) => Promise<Sample[]>, requests: RequestFigures[]): Promise<Check<SidecarFinding>> {
  const query = `${RULE.vendorInfo}, ${RULE.gatewayRequests}, ${RULE.destinationRequests}{request_protocol="tcp"}`;
  const [info, gateways, tcpDestinations] = await Promise.all([
    q(RULE.vendorInfo),
    q(`sum by (${LABEL.vendor}, ${GATEWAY_LABEL}, request_protocol) (${RULE.gatewayRequests})`),
    q(`sum by (${LABEL.vendor}, ${DESTINATION_LABEL}) (${RULE.destinationRequests}{request_protocol="tcp"})`),
  ]);
  const inspection = new Map(info.map(s => [vendorOf(s), s.metric[LABEL.gatewayInspection] ?? '']));
  const findings: SidecarFinding[] = [];
  for (const r of requests) {
    const vendor = r.vendor;
    const mode = inspection.get(vendor) ?? '';
    const finding = (status: SidecarFinding['status'], detail: string) => findings.push({ vendor, gatewayInspection: mode, status, detail });
    const total = r.httpRequestsPerSecond + r.tcpConnectionsPerSecond;
    const mine = gateways.filter(s => vendorOf(s) === vendor);
    if (mode === 'http' && total > 0) {
      const inspected = mine.filter(s => s.metric.request_protocol === 'http').reduce((n, s) => n + s.value, 0);
      const tcp = mine.filter(s => s.metric.request_protocol === 'tcp');
      if (tcp.length > 0) {
        finding('FAIL', `connections to ${tcp.map(s => s.metric[GATEWAY_LABEL]).join(', ')} are TCP although the gateway is inspected: the sidecars treat its port as TCP (is the ServiceEntry port protocol HTTP?)`);
      } else if (inspected === 0) {
        finding('FAIL', 'the gateway is inspected, but no request reached its cluster: the EnvoyFilter routes are not in the sidecars, so CONNECT gets the sidecar\'s own 404 NR and absolute-form requests leave in origin form (`istioctl proxy-config routes <pod> --name <gateway port>`)');
      } else {
        finding('PASS', `${inspected.toFixed(inspected >= 100 ? 1 : 3)} requests/s through the inspected gateway`);
      }
    }
    const tcp = tcpDestinations.filter(s => vendorOf(s) === vendor && s.value > 0);
    const named = tcp.filter(s => !['', 'unknown'].includes(s.metric[DESTINATION_LABEL] ?? '') && !mine.some(g => g.metric[GATEWAY_LABEL] === s.metric[DESTINATION_LABEL]));
    const unknown = tcp.filter(s => ['', 'unknown'].includes(s.metric[DESTINATION_LABEL] ?? ''));
    if (unknown.length > 0 && named.length === 0) {
      finding('WARN', `every TCP connection without a gateway is to "unknown": no TLS server name is seen (is the EnvoyFilter proxy-telemetry-sni applied? \`istioctl proxy-config listeners <pod> --port 15001 -o json | grep tls_inspector\`)${mode !== 'http' && mode !== 'tcp' && r.httpRequestsPerSecond === 0 ? ', and no plain HTTP is parsed (is there an HTTP listener on port 80? `istioctl proxy-config listeners <pod> --port 80`)' : ''}`);
    }
  }
  return {
    title: 'What the sidecars parse',
    query,
    status: findings.some(f => f.status === 'FAIL') ? 'FAIL' : 'PASS',
    vendors: findings,
  };
}

// ---- text output ----

/** Plain-text report of a result. */
export function formatResult(r: ValidationResult): string {
  const lines: string[] = [`Prometheus: ${r.prometheus}   (evaluated at ${r.evaluatedAt})`];
  if (r.outcome !== 'checked' || !r.checks) {
    lines.push('', `ERROR (${r.outcome}, exit code ${r.exitCode}): ${r.message ?? ''}`);
    return lines.join('\n') + '\n';
  }
  const { A, B, C, D, E, F, G } = r.checks;
  const none = (v: unknown[]): string[] => (v.length === 0 ? ['    (no vendor series)'] : []);

  lines.push('', `A. ${A.title}: ${A.status}`, `   ${A.query}`);
  lines.push(`   counts over ${r.window.text}: ${r.window.method}`);
  for (const v of A.vendors) {
    lines.push(`    ${v.vendor.padEnd(20)} HTTP ${perSecond(v.httpRequestsPerSecond).padStart(12)} requests    TCP ${perSecond(v.tcpConnectionsPerSecond).padStart(12)} connections`
      + `    over ${r.window.text}: ${count(v.httpRequestsInWindow)} requests, ${count(v.tcpConnectionsInWindow)} connections`);
  }
  lines.push(...none(A.vendors));
  if (A.note) lines.push(`   ${A.note}`);

  lines.push('', `B. ${B.title} (top ${r.top} per vendor): ${B.status}`, `   ${B.query}`);
  for (const v of B.vendors) {
    lines.push(`    ${v.vendor}`);
    for (const d of v.destinations) lines.push(`      ${(d.destination || '(empty)').padEnd(40)} ${perSecond(d.perSecond).padStart(12)}`);
  }
  lines.push(...none(B.vendors));
  if (B.note) lines.push(`   ${B.note}`);

  for (const [key, c] of [['C', C], ['D', D]] as const) {
    lines.push('', `${key}. ${c.title}: ${c.status}`, `   ${c.query}`);
    for (const v of c.vendors) {
      lines.push(`    ${v.vendor.padEnd(20)} ${humanRate(v.bytesPerSecond).padStart(14)}   ${v.pods} pod${v.pods === 1 ? '' : 's'}`);
      for (const p of v.perPod.slice(0, r.top)) lines.push(`      ${`${p.namespace}/${p.pod}`.padEnd(50)} ${humanRate(p.bytesPerSecond).padStart(14)}`);
      if (v.perPod.length > r.top) lines.push(`      ... ${v.perPod.length - r.top} more`);
    }
    lines.push(...none(c.vendors));
    if (c.note) lines.push(`   ${c.note}`);
  }

  lines.push('', `E. ${E.title}: ${E.status}`);
  for (const f of E.vendors) lines.push(`    ${f.status.padEnd(5)} ${f.vendor.padEnd(20)} ${f.detail}`);
  if (E.vendors.length === 0) lines.push('    (nothing to report)');

  if (F) {
    lines.push('', `F. ${F.title}: ${F.status}`, `   ${F.query}`);
    for (const v of F.vendors) lines.push(`    ${v.vendor.padEnd(20)} ${v.header.padEnd(32)} ${count(v.requests).padStart(10)} requests over ${r.window.text}`);
    if (F.note) lines.push(`   ${F.note}`);
  }

  if (G) {
    lines.push('', `G. ${G.title} (within ${+(r.billTolerance * 100).toFixed(2)}%): ${G.status}`, `   ${G.query}`);
    for (const v of G.vendors) lines.push(`    ${v.status.padEnd(5)} ${v.vendor.padEnd(20)} ${v.detail}`);
    if (G.note) lines.push(`   ${G.note}`);
  }

  lines.push('');
  for (const w of r.warnings) lines.push(`WARNING: ${w}`);
  const failed = (Object.entries(r.checks) as Array<[string, Check<unknown>]>).filter(([, c]) => c.status === 'FAIL').map(([k]) => k);
  const passed = (Object.entries(r.checks) as Array<[string, Check<unknown>]>).filter(([, c]) => c.status === 'PASS').map(([k]) => k);
  const skipped = (Object.entries(r.checks) as Array<[string, Check<unknown>]>).filter(([, c]) => c.status === 'NOT CHECKED').map(([k]) => k);
  lines.push(failed.length === 0 ? `Result: PASS (${passed.join(', ')})${skipped.length > 0 ? `; not checked: ${skipped.join(', ')}` : ''}` : `Result: FAIL (${failed.join(', ')})`);
  return lines.join('\n') + '\n';
}
