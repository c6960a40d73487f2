import * as fs from 'node:fs';
import type * as http from 'node:http';
import {
  Answer,
  CollectorRun,
  cleanup,
  hasSeries,
  metricValue,
  removeBundle,
  spawnCollector,
  startCollector,
  startVendorApi,
  temporaryFile,
  unusedPort,
  writeUsageConfig,
} from './helpers';

afterEach(cleanup);
afterAll(removeBundle);

const HOUR = 3_600_000;
const TOKEN = 'usage-t0ken-of-vendor-a';
const KINDS = ['network', 'timeout', 'http', 'auth', 'malformed', 'file'];

/** Start of the current hour and the ones before it: inside every lookback window. */
const H = Math.floor(Date.now() / HOUR) * HOUR;
const iso = (t: number): string => new Date(t).toISOString();

interface Row {
  account: string;
  hour: number;
  up: number;
  down: number;
  requests: number;
}

/** A vendor that reports per account and hour, upload and download apart, as JSON. */
class Vendor {
  rows: Row[] = [
    { account: 'team-a', hour: H - 2 * HOUR, up: 100, down: 900, requests: 10 },
    { account: 'team-a', hour: H - HOUR, up: 200, down: 1800, requests: 20 },
    { account: 'team-a', hour: H, up: 10, down: 90, requests: 1 },
    { account: 'team-b', hour: H - HOUR, up: 0, down: 400, requests: 4 },
  ];
  /** Replaces the normal answer while set. */
  override?: Answer;
  token = TOKEN;

  answer(req: http.IncomingMessage): Answer {
    if (this.override) return this.override;
    if (req.headers.authorization !== `Bearer ${this.token}`) return { status: 401, body: '{"error":"invalid token"}' };
    return { status: 200, body: JSON.stringify({ usage: this.rows.map((r) => ({ ...r, hour: iso(r.hour) })) }) };
  }

  row(account: string, hour: number): Row {
    return this.rows.find((r) => r.account === account && r.hour === hour)!;
  }
}

function httpSource(url: string, extra: object = {}): object {
  return {
    vendor: 'vendor-a',
    kind: 'http',
    url,
    timeFormat: 'unix',
    auth: { type: 'bearer', tokenEnv: 'USAGE_TOKEN_VENDOR_A' },
    intervalSeconds: 1,
    timeoutSeconds: 5,
    mapping: { records: 'usage', account: 'account', start: 'hour', bytes: ['up', 'down'], requests: 'requests' },
    ...extra,
  };
}

const v = (vendor: string, more: Record<string, string> = {}): Record<string, string> => ({ proxy_vendor: vendor, ...more });
const billed = (m: string, account: string): number => metricValue(m, 'proxy_usage_billed_bytes_total', v('vendor-a', { account }));
const withdrawn = (m: string, account: string): number => metricValue(m, 'proxy_usage_withdrawn_bytes_total', v('vendor-a', { account }));
const polls = (m: string, vendor: string, result: string): number => metricValue(m, 'proxy_usage_polls_total', v(vendor, { result }));
const errors = (m: string, vendor: string, kind: string): number => metricValue(m, 'proxy_usage_errors_total', v(vendor, { kind }));

/** Waits for `more` successful polls after the one `m` shows: the collector has seen the vendor's data as it is now. */
async function nextSuccess(run: CollectorRun, m: string, vendor = 'vendor-a', more = 2): Promise<string> {
  const before = polls(m, vendor, 'success');
  return run.scrapeUntil((t) => polls(t, vendor, 'success') >= before + more, `${more} more successful polls of ${vendor}`);
}

describe('usage collector (bundled)', () => {
  test('an HTTP source: baseline, growth, a late bucket, a revision; errors that change nothing; a restart that starts at 0', async () => {
    const vendor = new Vendor();
    const api = await startVendorApi((req) => vendor.answer(req));
    const usage = { sources: [httpSource(api.url('/v1/usage?from={from}&to={to}'))] };
    const env = { USAGE_TOKEN_VENDOR_A: TOKEN };
    const run = await startCollector(usage, env);

    // Baseline: everything stored, nothing counted; each account shown at 0.
    let m = await run.scrapeUntil((t) => polls(t, 'vendor-a', 'success') >= 1, 'the first successful poll');
    expect([billed(m, 'team-a'), billed(m, 'team-b'), withdrawn(m, 'team-a')]).toEqual([0, 0, 0]);
    expect(hasSeries(m, 'proxy_usage_billed_bytes_total', v('vendor-a', { account: 'team-b' }))).toBe(true);
    expect(hasSeries(m, 'proxy_usage_billed_requests_total', v('vendor-a', { account: 'team-a' }))).toBe(true);
    expect(metricValue(m, 'proxy_usage_buckets', v('vendor-a'))).toBe(4);
    expect(metricValue(m, 'proxy_usage_newest_bucket_timestamp_seconds', v('vendor-a'))).toBe(H / 1000);
    expect(metricValue(m, 'proxy_usage_last_success_timestamp_seconds', v('vendor-a'))).toBeGreaterThan(Date.now() / 1000 - 60);
    for (const kind of KINDS) expect({ kind, errors: errors(m, 'vendor-a', kind) }).toEqual({ kind, errors: 0 });

    // What the vendor was asked: the lookback window in Unix seconds, with the token.
    const asked = new URL(api.requests[0].url, 'http://x');
    expect(asked.pathname).toBe('/v1/usage');
    const [from, to] = [Number(asked.searchParams.get('from')), Number(asked.searchParams.get('to'))];
    expect(to - from).toBe(48 * 3600);
    expect(Math.abs(to - Date.now() / 1000)).toBeLessThan(120);
    expect(api.requests[0].headers.authorization).toBe(`Bearer ${TOKEN}`);

    // The open hour grows, and a late bucket appears.
    vendor.row('team-a', H).down += 500;
    vendor.row('team-a', H).requests += 2;
    vendor.rows.push({ account: 'team-b', hour: H - 3 * HOUR, up: 5, down: 45, requests: 1 });
    m = await run.scrapeUntil((t) => billed(t, 'team-a') === 500 && billed(t, 'team-b') === 50, 'growth and the late bucket');
    expect(metricValue(m, 'proxy_usage_billed_requests_total', v('vendor-a', { account: 'team-a' }))).toBe(2);
    expect(metricValue(m, 'proxy_usage_revisions_total', v('vendor-a', { direction: 'up' }))).toBe(1);
    expect(metricValue(m, 'proxy_usage_buckets', v('vendor-a'))).toBe(5);
    // Polled again and again: the same data adds nothing.
    m = await nextSuccess(run, m);
    expect([billed(m, 'team-a'), billed(m, 'team-b')]).toEqual([500, 50]);

    // The vendor revises a past hour down.
    vendor.row('team-a', H - HOUR).down -= 300;
    m = await run.scrapeUntil((t) => withdrawn(t, 'team-a') === 300, 'the downward revision');
    expect(billed(m, 'team-a')).toBe(500);
    expect(metricValue(m, 'proxy_usage_revisions_total', v('vendor-a', { direction: 'down' }))).toBe(1);

    // Errors change no counter and not the last success: a 500...
    vendor.override = { status: 500, body: 'upstream broke' };
    m = await run.scrapeUntil((t) => errors(t, 'vendor-a', 'http') >= 1, 'an http error');
    const lastSuccess = metricValue(m, 'proxy_usage_last_success_timestamp_seconds', v('vendor-a'));
    m = await run.scrapeUntil((t) => errors(t, 'vendor-a', 'http') >= 2, 'a second http error');
    expect(metricValue(m, 'proxy_usage_last_success_timestamp_seconds', v('vendor-a'))).toBe(lastSuccess);
    expect(polls(m, 'vendor-a', 'error')).toBeGreaterThanOrEqual(2);
    // ... a body that is not JSON...
    vendor.override = { status: 200, body: '{"usage": [' };
    m = await run.scrapeUntil((t) => errors(t, 'vendor-a', 'malformed') >= 1, 'a malformed answer');
    // ... new usage beside one bad record: the whole answer is refused...
    vendor.override = undefined;
    vendor.row('team-a', H).down += 1000;
    vendor.rows.push({ account: 'team-c', hour: H, up: -1, down: 0, requests: 0 });
    m = await run.scrapeUntil((t) => errors(t, 'vendor-a', 'malformed') >= 2, 'a malformed record');
    // ... a revoked token: 401 is `auth`.
    vendor.rows.pop();
    vendor.token = 'rotated';
    m = await run.scrapeUntil((t) => errors(t, 'vendor-a', 'auth') >= 1, 'an auth error');
    expect([billed(m, 'team-a'), billed(m, 'team-b'), withdrawn(m, 'team-a')]).toEqual([500, 50, 300]);
    expect(hasSeries(m, 'proxy_usage_billed_bytes_total', v('vendor-a', { account: 'team-c' }))).toBe(false);
    expect(metricValue(m, 'proxy_usage_last_success_timestamp_seconds', v('vendor-a'))).toBe(lastSuccess);
    expect(errors(m, 'vendor-a', 'network') + errors(m, 'vendor-a', 'timeout') + errors(m, 'vendor-a', 'file')).toBe(0);

    // Back to normal: what grew meanwhile counts once.
    vendor.token = TOKEN;
    m = await run.scrapeUntil((t) => billed(t, 'team-a') === 1500, 'the growth after the errors');
    m = await nextSuccess(run, m);
    expect(billed(m, 'team-a')).toBe(1500);
    expect(metricValue(m, 'proxy_usage_last_success_timestamp_seconds', v('vendor-a'))).toBeGreaterThanOrEqual(lastSuccess);

    expect(await run.stop()).toEqual({ code: 0, signal: null });
    expect(run.stopLine()).toMatchObject({ reason: 'received SIGTERM', sources: { 'vendor-a': { billedBytes: 1500 + 50, withdrawnBytes: 300 } } });
    const warnings = run.lines().filter((l) => l.msg === 'poll failed');
    expect(new Set(warnings.map((l) => l.kind))).toEqual(new Set(['http', 'malformed', 'auth']));
    // The token never reaches a log line.
    expect(run.stdout + run.stderr).not.toContain(TOKEN);

    // A restart starts every counter at 0 and does not count the history again.
    const again = await startCollector(usage, env);
    m = await again.scrapeUntil((t) => polls(t, 'vendor-a', 'success') >= 1, 'the first poll after the restart');
    m = await nextSuccess(again, m);
    expect([billed(m, 'team-a'), billed(m, 'team-b'), withdrawn(m, 'team-a')]).toEqual([0, 0, 0]);
    vendor.row('team-b', H - HOUR).up += 70;
    await again.scrapeUntil((t) => billed(t, 'team-b') === 70, 'growth after the restart');
    expect(await again.stop()).toEqual({ code: 0, signal: null });
  }, 180_000);

  test('file sources: a CSV export and a cumulative JSON file, read as they change; a missing file is a `file` error', async () => {
    const hour = (t: number): string => new Date(t).toISOString().slice(0, 16).replace('T', ' ');
    const csvRows = [
      ['"Sub-user"', '"Hour (UTC)"', '"Traffic (GB)"', 'Requests'],
      ['"crawl, eu"', hour(H - HOUR), '0.5', '100'],
      ['crawl-us', hour(H - HOUR), '"1.25"', '200'],
    ];
    const csvText = (): string => `${csvRows.map((r) => r.join(',')).join('\r\n')}\r\n`;
    const csvFile = temporaryFile('vendor-c.csv', csvText());
    let totals = { accounts: [{ name: 'main', total_mb: 10 }] };
    const jsonFile = temporaryFile('vendor-d.json', JSON.stringify(totals));
    const usage = {
      sources: [
        { vendor: 'vendor-c', kind: 'file', path: csvFile, format: 'csv', intervalSeconds: 1, mapping: { account: 'Sub-user', start: 'Hour (UTC)', bytes: 'Traffic (GB)', bytesUnit: 'GB', requests: 'Requests' } },
        { vendor: 'vendor-d', kind: 'file', path: jsonFile, format: 'json', intervalSeconds: 1, mapping: { records: 'accounts', account: 'name', bytes: 'total_mb', bytesUnit: 'MB' } },
      ],
    };
    const run = await startCollector(usage);
    const c = (m: string, account: string): number => metricValue(m, 'proxy_usage_billed_bytes_total', v('vendor-c', { account }));
    const d = (m: string): number => metricValue(m, 'proxy_usage_billed_bytes_total', v('vendor-d', { account: 'main' }));

    let m = await run.scrapeUntil((t) => polls(t, 'vendor-c', 'success') >= 1 && polls(t, 'vendor-d', 'success') >= 1, 'both baselines');
    expect([c(m, 'crawl, eu'), c(m, 'crawl-us'), d(m)]).toEqual([0, 0, 0]);
    expect(metricValue(m, 'proxy_usage_newest_bucket_timestamp_seconds', v('vendor-c'))).toBe((H - HOUR) / 1000);
    // A cumulative source has no buckets: no newest-bucket series, and no requests series when none are mapped.
    expect(hasSeries(m, 'proxy_usage_newest_bucket_timestamp_seconds', v('vendor-d'))).toBe(false);
    expect(hasSeries(m, 'proxy_usage_billed_requests_total', v('vendor-d'))).toBe(false);
    expect(metricValue(m, 'proxy_usage_buckets', v('vendor-d'))).toBe(1);

    // A new hour in the CSV, written the way an exporter replaces a file.
    csvRows.push(['"crawl, eu"', hour(H), '0.001', '3']);
    fs.writeFileSync(`${csvFile}.tmp`, csvText());
    fs.renameSync(`${csvFile}.tmp`, csvFile);
    m = await run.scrapeUntil((t) => c(t, 'crawl, eu') === 1_000_000, 'the new CSV hour');
    expect(metricValue(m, 'proxy_usage_billed_requests_total', v('vendor-c', { account: 'crawl, eu' }))).toBe(3);

    // The cumulative total grows, then the vendor resets it: the new value is billed.
    totals = { accounts: [{ name: 'main', total_mb: 12.5 }] };
    fs.writeFileSync(jsonFile, JSON.stringify(totals));
    await run.scrapeUntil((t) => d(t) === 2_500_000, 'the cumulative growth');
    totals = { accounts: [{ name: 'main', total_mb: 1 }] };
    fs.writeFileSync(jsonFile, JSON.stringify(totals));
    m = await run.scrapeUntil((t) => d(t) === 3_500_000, 'the cumulative reset');
    expect(metricValue(m, 'proxy_usage_withdrawn_bytes_total', v('vendor-d', { account: 'main' }))).toBe(0);

    // The export disappears: `file` errors, counters kept.
    fs.rmSync(csvFile);
    m = await run.scrapeUntil((t) => errors(t, 'vendor-c', 'file') >= 1, 'a file error');
    expect(c(m, 'crawl, eu')).toBe(1_000_000);
    expect(errors(m, 'vendor-d', 'file')).toBe(0);
    expect(await run.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  test('network and timeout errors; every error kind is shown at 0 from the start; SIGTERM does not wait for a hanging poll', async () => {
    const hanging = await startVendorApi(() => ({ status: 200, body: '', hang: true }));
    const closed = await unusedPort();
    const source = (vendor: string, url: string, extra: object = {}): object => ({ vendor, kind: 'http', url, intervalSeconds: 1, mapping: { bytes: 'b' }, ...extra });
    const usage = { sources: [source('down', `http://127.0.0.1:${closed}/usage`), source('slow', hanging.url('/usage'), { timeoutSeconds: 0.5 }), source('idle', hanging.url('/idle'), { intervalSeconds: 3600, timeoutSeconds: 300 })] };
    const run = await startCollector(usage);
    let m = await run.metrics();
    for (const vendor of ['down', 'slow', 'idle']) {
      for (const kind of KINDS) expect({ vendor, kind, shown: hasSeries(m, 'proxy_usage_errors_total', v(vendor, { kind })) }).toEqual({ vendor, kind, shown: true });
      expect(hasSeries(m, 'proxy_usage_last_success_timestamp_seconds', v(vendor))).toBe(true);
      expect(hasSeries(m, 'proxy_usage_revisions_total', v(vendor, { direction: 'down' }))).toBe(true);
    }
    m = await run.scrapeUntil((t) => errors(t, 'down', 'network') >= 2 && errors(t, 'slow', 'timeout') >= 2, 'network and timeout errors');
    expect(polls(m, 'down', 'success') + polls(m, 'slow', 'success')).toBe(0);
    expect(metricValue(m, 'proxy_usage_last_success_timestamp_seconds', v('down'))).toBe(0);
    expect(errors(m, 'idle', 'timeout') + polls(m, 'idle', 'error')).toBe(0);
    // `idle` is waiting on an answer that never comes (300 s): SIGTERM abandons it.
    const stopping = Date.now();
    expect(await run.stop()).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopping).toBeLessThan(5_000);
    expect(run.lines().some((l) => l.level === 'error')).toBe(false);
  });

  test('bad configuration: exit 2, and a message naming the property and the value', async () => {
    const badUnit = writeUsageConfig({ sources: [{ vendor: 'v', kind: 'file', path: '/x.csv', format: 'csv', mapping: { bytes: 'GB', bytesUnit: 'gigabytes' } }] });
    const noToken = writeUsageConfig({ sources: [httpSource('http://127.0.0.1:1/')] });
    const cases: Array<[Record<string, string>, string]> = [
      [{ USAGE_CONFIG_FILE: badUnit }, 'collector: invalid configuration: sources[0].mapping.bytesUnit="gigabytes": must be one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB'],
      [{ USAGE_CONFIG_FILE: noToken }, 'collector: invalid configuration: USAGE_TOKEN_VENDOR_A="": is required: sources[0].auth.tokenEnv names it'],
      [{}, 'collector: invalid configuration: USAGE_CONFIG_FILE="": is required'],
      [{ USAGE_CONFIG_FILE: badUnit, METRICS_PORT: '99999' }, 'collector: invalid configuration: METRICS_PORT="99999": must be an integer from 0 to 65535'],
    ];
    for (const [env, message] of cases) {
      const run = spawnCollector(env);
      expect(await run.waitForExit()).toEqual({ code: 2, signal: null });
      expect(run.stderr).toContain(message);
      expect(run.lines()).toEqual([expect.objectContaining({ level: 'error', msg: 'invalid configuration' })]);
    }
  });
});
