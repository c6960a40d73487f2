/**
 * One usage source, polled on its own interval: read, parse, apply to the
 * ledger, count. Polls of a source never overlap: the next one is due an
 * interval after the previous one started, or at once if that is past.
 */
import type { Logger } from '../../runtime/src/log';
import { errorMessage } from '../../runtime/src/errors';
import type { Credentials } from './config';
import { PollError, readFileSource, readHttp } from './fetch';
import { Ledger } from './ledger';
import type { ErrorKind, SourceMetrics } from './metrics';
import { MalformedError, Observation, readCsv, readJson } from './records';
import { UsageSource, expandUrl } from './usage-config';

const HOUR_MS = 3_600_000;

/** Figures of a source since start, for the summary and `stop` lines. */
export interface PollTotals {
  polls: number;
  errors: number;
  billedBytes: number;
  withdrawnBytes: number;
}

export class SourcePoller {
  private readonly ledger: Ledger;
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private wake?: () => void;
  readonly totals: PollTotals = { polls: 0, errors: 0, billedBytes: 0, withdrawnBytes: 0 };
  inFlight = false;

  constructor(
    private readonly source: UsageSource,
    private readonly credentials: Credentials | undefined,
    private readonly metrics: SourceMetrics,
    private readonly logger: Logger,
  ) {
    this.ledger = new Ledger({ cumulative: source.mapping.start === undefined, onDecrease: source.onDecrease, lookbackMs: source.lookbackHours * HOUR_MS });
  }

  get vendor(): string {
    return this.source.vendor;
  }

  /** Polls now, then every intervalSeconds until stop(). */
  start(): void {
    this.loop ??= this.run();
  }

  /** Ends the loop; a poll in flight is abandoned, and counted nowhere. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const intervalMs = this.source.intervalSeconds * 1000;
    let due = performance.now();
    while (!this.stopping.signal.aborted) {
      await this.pollOnce();
      due = Math.max(due + intervalMs, performance.now());
      await this.sleep(due - performance.now());
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One poll; never throws. */
  async pollOnce(): Promise<void> {
    const { vendor } = this.source;
    this.inFlight = true;
    try {
      const observations = await this.read();
      if (this.stopping.signal.aborted) return;
      const now = Date.now();
      const update = this.ledger.apply(observations, now);
      this.metrics.recordSuccess(update, now);
      this.totals.polls++;
      let billedBytes = 0;
      let withdrawnBytes = 0;
      for (const d of update.accounts.values()) {
        billedBytes += d.billedBytes;
        withdrawnBytes += d.withdrawnBytes;
      }
      this.totals.billedBytes += billedBytes;
      this.totals.withdrawnBytes += withdrawnBytes;
      const fields = { vendor, records: observations.length, accounts: update.accounts.size, buckets: update.held, added: update.added, ignored: update.ignored, pruned: update.pruned };
      if (update.baseline) {
        this.logger.info('baseline', fields);
      } else {
        this.logger.debug('poll', { ...fields, billedBytes, withdrawnBytes, revisionsUp: update.revisionsUp, revisionsDown: update.revisionsDown, resets: update.resets });
      }
      if (update.revisionsDown > 0 || update.resets > 0) {
        this.logger.info('usage went down', { vendor, revisionsDown: update.revisionsDown, resets: update.resets, withdrawnBytes, onDecrease: this.source.onDecrease });
      }
    } catch (err) {
      if (this.stopping.signal.aborted) return;
      const known = err instanceof PollError || err instanceof MalformedError;
      const kind: ErrorKind = err instanceof PollError ? err.kind : err instanceof MalformedError ? 'malformed' : 'network';
      this.metrics.recordError(kind);
      this.totals.polls++;
      this.totals.errors++;
      // Anything else is a fault of ours: still a failed poll, and the loop goes on.
      if (known) this.logger.warn('poll failed', { vendor, kind, error: errorMessage(err) });
      else this.logger.error('poll failed unexpectedly', { vendor, kind, error: errorMessage(err) });
    } finally {
      this.inFlight = false;
    }
  }

  private async read(): Promise<Observation[]> {
    const s = this.source;
    const signal = this.stopping.signal;
    if (s.kind === 'file') {
      const text = await readFileSource(s.path, signal);
      return s.format === 'csv' ? readCsv(text, s.mapping) : readJson(text, s.mapping);
    }
    const now = Date.now();
    const url = expandUrl(s.url, now - s.lookbackHours * HOUR_MS, now, s.timeFormat);
    const text = await readHttp({ url, headers: this.credentials?.headers ?? {}, timeoutMs: s.timeoutSeconds * 1000, signal });
    return readJson(text, s.mapping);
  }
}
