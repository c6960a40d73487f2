import type { Counter, Gauge } from 'prom-client';
import { Increment, ProgramMetrics, cached } from '../../runtime/src/metrics';
import type { LedgerUpdate } from './ledger';
import type { UsageSource } from './usage-config';

/** Why a poll failed. */
export const ERROR_KINDS = ['network', 'timeout', 'http', 'auth', 'malformed', 'file'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** The project's metric-contract label for the vendor (core/metric-contract.ts LABEL.vendor). */
const VENDOR = 'proxy_vendor';
const ACCOUNT = 'account';

type AccountLabels = typeof VENDOR | typeof ACCOUNT;

/** One source's series. */
export interface SourceMetrics {
  /** A successful poll: the ledger's increments and gauges, at `nowMs`. */
  recordSuccess(update: LedgerUpdate, nowMs: number): void;
  /** A failed poll: nothing else changes. */
  recordError(kind: ErrorKind): void;
}

/**
 * The collector's Prometheus metrics, on a private registry: what each
 * vendor's usage source says it billed, by account, and the source's health.
 * One process serves many vendors, so every series carries `proxy_vendor`
 * itself (the base's single-vendor helpers are not used).
 */
export class CollectorMetrics extends ProgramMetrics {
  private readonly billedBytes: Counter<AccountLabels>;
  private readonly billedRequests: Counter<AccountLabels>;
  private readonly withdrawnBytes: Counter<AccountLabels>;
  private readonly withdrawnRequests: Counter<AccountLabels>;
  private readonly lastSuccess: Gauge<typeof VENDOR>;
  private readonly newestBucket: Gauge<typeof VENDOR>;
  private readonly polls: Counter<typeof VENDOR | 'result'>;
  private readonly errors: Counter<typeof VENDOR | 'kind'>;
  private readonly revisions: Counter<typeof VENDOR | 'direction'>;
  private readonly buckets: Gauge<typeof VENDOR>;

  constructor() {
    super('collector', '');
    const perAccount = (name: string, help: string): Counter<AccountLabels> => this.counter({ name, help, labelNames: [VENDOR, ACCOUNT] });
    this.billedBytes = perAccount('proxy_usage_billed_bytes_total', 'Bytes the vendor billed that became known since the collector\'s first successful poll of the source (net of proxy_usage_withdrawn_bytes_total).');
    this.billedRequests = perAccount('proxy_usage_billed_requests_total', 'Requests the vendor billed that became known since the collector\'s first successful poll of the source (only when the source reports requests).');
    this.withdrawnBytes = perAccount('proxy_usage_withdrawn_bytes_total', 'Bytes that downward revisions took back from buckets already counted.');
    this.withdrawnRequests = perAccount('proxy_usage_withdrawn_requests_total', 'Requests that downward revisions took back from buckets already counted.');
    this.lastSuccess = this.gauge({ name: 'proxy_usage_last_success_timestamp_seconds', help: 'Unix time of the source\'s last successful poll; 0 before the first.', labelNames: [VENDOR] });
    this.newestBucket = this.gauge({ name: 'proxy_usage_newest_bucket_timestamp_seconds', help: 'Start of the newest bucket with data (Unix time); 0 before any. Absent for cumulative sources.', labelNames: [VENDOR] });
    this.polls = this.counter({ name: 'proxy_usage_polls_total', help: 'Polls of the source, by result: success or error.', labelNames: [VENDOR, 'result'] });
    this.errors = this.counter({ name: 'proxy_usage_errors_total', help: 'Failed polls, by kind: network, timeout, http, auth (401/403), malformed, file.', labelNames: [VENDOR, 'kind'] });
    this.revisions = this.counter({ name: 'proxy_usage_revisions_total', help: 'Known buckets whose value changed, by direction (up includes the growth of the open bucket).', labelNames: [VENDOR, 'direction'] });
    this.buckets = this.gauge({ name: 'proxy_usage_buckets', help: 'Buckets the collector holds for the source (accounts, for a cumulative source).', labelNames: [VENDOR] });
  }

  /** The series of `source`, shown at 0 from now on. */
  source(source: UsageSource): SourceMetrics {
    const vendor = source.vendor;
    const requests = source.mapping.requests !== undefined;
    const bucketed = source.mapping.start !== undefined;
    const success = this.polls.labels({ [VENDOR]: vendor, result: 'success' });
    const failure = this.polls.labels({ [VENDOR]: vendor, result: 'error' });
    const errors = new Map(ERROR_KINDS.map((kind) => [kind, this.errors.labels({ [VENDOR]: vendor, kind })]));
    const up = this.revisions.labels({ [VENDOR]: vendor, direction: 'up' });
    const down = this.revisions.labels({ [VENDOR]: vendor, direction: 'down' });
    const lastSuccess = this.lastSuccess.labels({ [VENDOR]: vendor });
    const buckets = this.buckets.labels({ [VENDOR]: vendor });
    const newest = bucketed ? this.newestBucket.labels({ [VENDOR]: vendor }) : undefined;
    for (const c of [success, failure, up, down, ...errors.values()]) c.inc(0);
    lastSuccess.set(0);
    buckets.set(0);
    newest?.set(0);

    interface AccountSeries {
      billedBytes: Increment;
      withdrawnBytes: Increment;
      billedRequests?: Increment;
      withdrawnRequests?: Increment;
    }
    const accounts = new Map<string, AccountSeries>();
    const accountSeries = (account: string): AccountSeries =>
      cached(accounts, account, () => {
        const labels = { [VENDOR]: vendor, [ACCOUNT]: account };
        const series: AccountSeries = { billedBytes: this.billedBytes.labels(labels), withdrawnBytes: this.withdrawnBytes.labels(labels) };
        if (requests) {
          series.billedRequests = this.billedRequests.labels(labels);
          series.withdrawnRequests = this.withdrawnRequests.labels(labels);
        }
        // Shown at 0 once the account is seen, so rate() has a start.
        for (const c of Object.values(series)) c.inc(0);
        return series;
      });

    return {
      recordSuccess: (update, nowMs) => {
        for (const [account, d] of update.accounts) {
          const s = accountSeries(account);
          s.billedBytes.inc(d.billedBytes);
          s.withdrawnBytes.inc(d.withdrawnBytes);
          s.billedRequests?.inc(d.billedRequests);
          s.withdrawnRequests?.inc(d.withdrawnRequests);
        }
        up.inc(update.revisionsUp);
        down.inc(update.revisionsDown);
        buckets.set(update.held);
        if (update.newestBucket !== undefined) newest?.set(Math.floor(update.newestBucket / 1000));
        lastSuccess.set(Math.floor(nowMs / 1000));
        success.inc();
      },
      recordError: (kind) => {
        errors.get(kind)!.inc();
        failure.inc();
      },
    };
  }
}
