/**
 * The ledger of one vendor: what its usage source said, bucket by bucket
 * (account, bucket start), and what became known since the collector's first
 * successful poll, as increments for Prometheus counters.
 *
 * - The first successful poll is the baseline: every bucket is stored,
 *   nothing is counted. A restarted collector starts its counters at 0 (a
 *   clean counter reset for Prometheus) and never counts history again.
 * - A bucket first seen later (a new hour, a late bucket) counts fully; a
 *   known bucket that rises counts the rise.
 * - A known bucket that falls: `revision` withdraws the fall, `reset` counts
 *   the new value (the vendor's counter for that bucket restarted).
 * - Cumulative sources (no bucket start) hold one running value per account:
 *   a fall is a vendor-side counter reset, counted as the new value.
 * - The same key twice in one export is summed; a key missing from a later
 *   export is kept (not a decrease). Buckets older than now − lookback are
 *   dropped, and the floor (it only moves forward) ignores records older
 *   than it, so a dropped bucket that reappears is never counted again.
 *
 * Pure: the caller passes the clock.
 */
import type { Observation } from './records';
import type { OnDecrease } from './usage-config';

export interface LedgerOptions {
  /** No bucket start: one running value per account. */
  cumulative: boolean;
  onDecrease: OnDecrease;
  /** How far back buckets are kept. */
  lookbackMs: number;
}

/** Increments for one account's counters (any of them may be 0). */
export interface AccountDelta {
  billedBytes: number;
  billedRequests: number;
  withdrawnBytes: number;
  withdrawnRequests: number;
}

/** What one export changed. */
export interface LedgerUpdate {
  /** This was the first successful poll: stored, nothing counted. */
  baseline: boolean;
  /** Every account with a record in the window, with its increments. */
  accounts: Map<string, AccountDelta>;
  /** Known buckets whose value rose / fell. */
  revisionsUp: number;
  revisionsDown: number;
  /** Cumulative values that fell: vendor-side counter resets. */
  resets: number;
  /** Buckets (or cumulative accounts) stored for the first time. */
  added: number;
  /** Records older than the floor, ignored. */
  ignored: number;
  /** Buckets dropped for age. */
  pruned: number;
  /** Buckets (or cumulative accounts) held now. */
  held: number;
  /** Start of the newest bucket with bytes or requests; undefined when none, or cumulative. */
  newestBucket?: number;
}

interface Value {
  bytes: number;
  requests?: number;
}

/** Cumulative values are stored under this start; no real bucket has it. */
const CUMULATIVE = Number.NEGATIVE_INFINITY;

function zeroDelta(): AccountDelta {
  return { billedBytes: 0, billedRequests: 0, withdrawnBytes: 0, withdrawnRequests: 0 };
}

export class Ledger {
  /** account → bucket start → value. */
  private readonly buckets = new Map<string, Map<number, Value>>();
  private floor = Number.NEGATIVE_INFINITY;
  private started = false;

  constructor(private readonly options: LedgerOptions) {}

  /** Whether a baseline is set (a successful poll happened). */
  get hasBaseline(): boolean {
    return this.started;
  }

  /** Applies a whole export, read at `nowMs`. */
  apply(observations: readonly Observation[], nowMs: number): LedgerUpdate {
    const baseline = !this.started;
    this.started = true;
    const { cumulative } = this.options;
    this.floor = Math.max(this.floor, nowMs - this.options.lookbackMs);
    const update: LedgerUpdate = { baseline, accounts: new Map(), revisionsUp: 0, revisionsDown: 0, resets: 0, added: 0, ignored: 0, pruned: 0, held: 0 };

    // Duplicate keys are parts of one bucket: summed before anything is compared.
    const incoming = new Map<string, Map<number, Value>>();
    for (const o of observations) {
      const start = cumulative ? CUMULATIVE : (o.start ?? CUMULATIVE);
      if (!cumulative && start < this.floor) {
        update.ignored++;
        continue;
      }
      if (!update.accounts.has(o.account)) update.accounts.set(o.account, zeroDelta());
      let byStart = incoming.get(o.account);
      if (!byStart) incoming.set(o.account, (byStart = new Map()));
      const sum = byStart.get(start);
      if (sum) {
        sum.bytes += o.bytes;
        if (o.requests !== undefined) sum.requests = (sum.requests ?? 0) + o.requests;
      } else {
        byStart.set(start, { bytes: o.bytes, requests: o.requests });
      }
    }

    for (const [account, byStart] of incoming) {
      let known = this.buckets.get(account);
      if (!known) this.buckets.set(account, (known = new Map()));
      const delta = update.accounts.get(account)!;
      for (const [start, value] of byStart) {
        const old = known.get(start);
        known.set(start, value);
        if (!old) {
          update.added++;
          if (!baseline) {
            delta.billedBytes += value.bytes;
            delta.billedRequests += value.requests ?? 0;
          }
          continue;
        }
        // The baseline poll stores only; later polls compare.
        if (baseline) continue;
        const bytes = this.change(old.bytes, value.bytes);
        const requests = this.change(old.requests ?? 0, value.requests ?? 0);
        delta.billedBytes += bytes.billed;
        delta.withdrawnBytes += bytes.withdrawn;
        delta.billedRequests += requests.billed;
        delta.withdrawnRequests += requests.withdrawn;
        if (cumulative) {
          if (bytes.fell || requests.fell) update.resets++;
        } else {
          if (bytes.rose || requests.rose) update.revisionsUp++;
          if (bytes.fell || requests.fell) update.revisionsDown++;
        }
      }
    }

    let newest: number | undefined;
    for (const [account, known] of this.buckets) {
      for (const [start, value] of known) {
        if (!cumulative && start < this.floor) {
          known.delete(start);
          update.pruned++;
          continue;
        }
        update.held++;
        if (!cumulative && (value.bytes > 0 || (value.requests ?? 0) > 0) && (newest === undefined || start > newest)) newest = start;
      }
      if (known.size === 0) this.buckets.delete(account);
    }
    if (newest !== undefined) update.newestBucket = newest;
    return update;
  }

  /** The counters' increments for one value going from `old` to `now`. */
  private change(old: number, now: number): { billed: number; withdrawn: number; rose: boolean; fell: boolean } {
    if (now > old) return { billed: now - old, withdrawn: 0, rose: true, fell: false };
    if (now === old) return { billed: 0, withdrawn: 0, rose: false, fell: false };
    // Cumulative: always a vendor-side reset.
    if (this.options.cumulative || this.options.onDecrease === 'reset') return { billed: now, withdrawn: 0, rose: false, fell: true };
    return { billed: 0, withdrawn: old - now, rose: false, fell: true };
  }
}
