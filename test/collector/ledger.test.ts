import { AccountDelta, Ledger, LedgerOptions, LedgerUpdate } from '../../collector/src/ledger';
import type { Observation } from '../../collector/src/records';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-12-06T12:00:00Z');
const h = (n: number): number => T0 + n * HOUR;

function ledger(options: Partial<LedgerOptions> = {}): Ledger {
  return new Ledger({ cumulative: false, onDecrease: 'revision', lookbackMs: 48 * HOUR, ...options });
}

const obs = (account: string, hour: number | undefined, bytes: number, requests?: number): Observation => ({
  account,
  ...(hour === undefined ? {} : { start: h(hour) }),
  bytes,
  ...(requests === undefined ? {} : { requests }),
});

function delta(update: LedgerUpdate, account: string): AccountDelta | undefined {
  return update.accounts.get(account);
}

/** Totals of an update's increments over all accounts. */
function sums(update: LedgerUpdate): AccountDelta {
  const total = { billedBytes: 0, billedRequests: 0, withdrawnBytes: 0, withdrawnRequests: 0 };
  for (const d of update.accounts.values()) for (const k of Object.keys(total) as Array<keyof AccountDelta>) total[k] += d[k];
  return total;
}

const none = { billedBytes: 0, billedRequests: 0, withdrawnBytes: 0, withdrawnRequests: 0 };

describe('the usage ledger', () => {
  test('the first poll is the baseline: everything stored, nothing counted, every account shown', () => {
    const l = ledger();
    expect(l.hasBaseline).toBe(false);
    const u = l.apply([obs('a', 0, 1000, 10), obs('a', 1, 2000, 20), obs('b', 1, 500, 5)], h(1.5));
    expect(u).toMatchObject({ baseline: true, added: 3, held: 3, revisionsUp: 0, revisionsDown: 0, newestBucket: h(1) });
    expect([...u.accounts.keys()].sort()).toEqual(['a', 'b']);
    expect(sums(u)).toEqual(none);
    expect(l.hasBaseline).toBe(true);
  });

  test('an empty first poll is a baseline too: what comes after counts', () => {
    const l = ledger();
    const empty = l.apply([], h(0));
    expect(empty).toMatchObject({ baseline: true, held: 0 });
    expect(empty.newestBucket).toBeUndefined();
    expect(sums(l.apply([obs('a', 0, 700)], h(0.5)))).toEqual({ ...none, billedBytes: 700 });
  });

  test('growth of the open bucket counts the rise; re-polling the same data adds 0', () => {
    const l = ledger();
    l.apply([obs('a', 0, 1000, 10)], h(0.2));
    const grown = l.apply([obs('a', 0, 1600, 13)], h(0.5));
    expect(delta(grown, 'a')).toEqual({ billedBytes: 600, billedRequests: 3, withdrawnBytes: 0, withdrawnRequests: 0 });
    expect(grown).toMatchObject({ baseline: false, revisionsUp: 1, revisionsDown: 0, added: 0 });
    for (let i = 0; i < 3; i++) {
      const same = l.apply([obs('a', 0, 1600, 13)], h(0.6 + i / 10));
      expect(sums(same)).toEqual(none);
      expect(same).toMatchObject({ revisionsUp: 0, revisionsDown: 0 });
    }
  });

  test('a new hour and a late bucket (older, first seen now) count fully', () => {
    const l = ledger();
    l.apply([obs('a', 0, 1000), obs('a', 2, 3000)], h(2.5));
    const u = l.apply([obs('a', 0, 1000), obs('a', 1, 1500), obs('a', 2, 3000), obs('a', 3, 40), obs('c', 1, 9)], h(3.1));
    expect(delta(u, 'a')).toEqual({ ...none, billedBytes: 1540 });
    expect(delta(u, 'c')).toEqual({ ...none, billedBytes: 9 });
    expect(u).toMatchObject({ added: 3, held: 5, newestBucket: h(3), revisionsUp: 0 });
  });

  test('revision mode: a fall is withdrawn and stored; a later rise counts from the new value', () => {
    const l = ledger({ onDecrease: 'revision' });
    l.apply([obs('a', 0, 1000, 10)], h(1));
    const down = l.apply([obs('a', 0, 800, 7)], h(1.1));
    expect(delta(down, 'a')).toEqual({ billedBytes: 0, billedRequests: 0, withdrawnBytes: 200, withdrawnRequests: 3 });
    expect(down).toMatchObject({ revisionsUp: 0, revisionsDown: 1 });
    const up = l.apply([obs('a', 0, 900, 7)], h(1.2));
    expect(delta(up, 'a')).toEqual({ ...none, billedBytes: 100 });
    expect(up).toMatchObject({ revisionsUp: 1, revisionsDown: 0 });
  });

  test('reset mode: a fall means the vendor restarted that bucket: the new value is billed', () => {
    const l = ledger({ onDecrease: 'reset' });
    l.apply([obs('a', 0, 1000, 10)], h(1));
    const u = l.apply([obs('a', 0, 300, 4)], h(1.1));
    expect(delta(u, 'a')).toEqual({ billedBytes: 300, billedRequests: 4, withdrawnBytes: 0, withdrawnRequests: 0 });
    expect(u).toMatchObject({ revisionsDown: 1 });
    expect(sums(l.apply([obs('a', 0, 350, 4)], h(1.2)))).toEqual({ ...none, billedBytes: 50 });
  });

  test('bytes and requests moving apart: one bucket revised both ways', () => {
    const l = ledger();
    l.apply([obs('a', 0, 1000, 10)], h(1));
    const u = l.apply([obs('a', 0, 1200, 8)], h(1.1));
    expect(delta(u, 'a')).toEqual({ billedBytes: 200, billedRequests: 0, withdrawnBytes: 0, withdrawnRequests: 2 });
    expect(u).toMatchObject({ revisionsUp: 1, revisionsDown: 1 });
  });

  test('cumulative sources: one running value per account; a fall is a vendor-side reset, billed as the new value', () => {
    const l = ledger({ cumulative: true });
    const base = l.apply([obs('a', undefined, 5000, 50), obs('b', undefined, 10)], T0);
    expect(base).toMatchObject({ baseline: true, held: 2 });
    expect(base.newestBucket).toBeUndefined();
    expect(sums(base)).toEqual(none);
    expect(delta(l.apply([obs('a', undefined, 5600, 55), obs('b', undefined, 10)], T0 + 60_000), 'a')).toEqual({ ...none, billedBytes: 600, billedRequests: 5 });
    const reset = l.apply([obs('a', undefined, 250, 2), obs('b', undefined, 10)], T0 + 120_000);
    expect(delta(reset, 'a')).toEqual({ ...none, billedBytes: 250, billedRequests: 2 });
    expect(reset).toMatchObject({ resets: 1, revisionsUp: 0, revisionsDown: 0 });
    // Never pruned, however old: a cumulative value has no bucket start.
    expect(l.apply([obs('a', undefined, 250, 2)], T0 + 1000 * HOUR)).toMatchObject({ held: 2, pruned: 0 });
  });

  test('the same key twice in one export is summed, at the baseline and after', () => {
    const l = ledger();
    const base = l.apply([obs('a', 0, 100, 1), obs('a', 0, 200, 2)], h(0.5));
    expect(base).toMatchObject({ held: 1, added: 1 });
    expect(sums(l.apply([obs('a', 0, 300, 3)], h(0.6)))).toEqual(none);
    expect(sums(l.apply([obs('a', 0, 150, 1), obs('a', 0, 250, 3)], h(0.7)))).toEqual({ ...none, billedBytes: 100, billedRequests: 1 });
    const cumulative = ledger({ cumulative: true });
    cumulative.apply([obs('x', undefined, 1), obs('x', undefined, 2)], T0);
    expect(sums(cumulative.apply([obs('x', undefined, 3)], T0))).toEqual(none);
  });

  test('a bucket missing from a later export is kept, not a decrease; when it comes back unchanged it adds 0', () => {
    const l = ledger();
    l.apply([obs('a', 0, 1000), obs('a', 1, 500)], h(1.5));
    const without = l.apply([obs('a', 1, 500)], h(1.6));
    expect(sums(without)).toEqual(none);
    expect(without).toMatchObject({ held: 2, revisionsDown: 0, newestBucket: h(1) });
    expect(sums(l.apply([obs('a', 0, 1000), obs('a', 1, 500)], h(1.7)))).toEqual(none);
  });

  test('buckets older than now − lookback are dropped; the floor ignores them if they come back', () => {
    const l = ledger({ lookbackMs: 2 * HOUR });
    expect(l.apply([obs('a', 0, 100), obs('a', 1, 200), obs('a', 2, 300)], h(2))).toMatchObject({ held: 3, ignored: 0 });
    // Now h(3.5): the floor is h(1.5); bucket 0 and 1 go.
    const u = l.apply([obs('a', 2, 300), obs('a', 3, 40)], h(3.5));
    expect(u).toMatchObject({ pruned: 2, held: 2, added: 1 });
    expect(sums(u)).toEqual({ ...none, billedBytes: 40 });
    // The vendor still reports the old buckets (even revised): never counted again.
    const again = l.apply([obs('a', 0, 999), obs('a', 1, 999), obs('a', 2, 300), obs('a', 3, 40)], h(3.6));
    expect(sums(again)).toEqual(none);
    expect(again).toMatchObject({ ignored: 2, added: 0, held: 2 });
    // Accounts only in ignored records are not shown.
    expect(l.apply([obs('old', 0, 5)], h(3.7)).accounts.has('old')).toBe(false);
  });

  test('the floor never moves back, even when the clock does', () => {
    const l = ledger({ lookbackMs: 2 * HOUR });
    l.apply([obs('a', 3, 100)], h(4));
    // The clock steps back an hour: a bucket between the old floor and the new now − lookback stays ignored.
    const u = l.apply([obs('a', 1.5, 50), obs('a', 3, 100)], h(3));
    expect(u).toMatchObject({ ignored: 1 });
    expect(sums(u)).toEqual(none);
  });

  test('a late bucket older than the baseline window is ignored at the baseline and after', () => {
    const l = ledger({ lookbackMs: 2 * HOUR });
    expect(l.apply([obs('a', -5, 100), obs('a', 0, 10)], h(1))).toMatchObject({ ignored: 1, held: 1 });
    expect(sums(l.apply([obs('a', -5, 100), obs('a', 0, 10)], h(1.1)))).toEqual(none);
  });

  test('the newest bucket is the newest with data: zero-filled future hours do not count', () => {
    const l = ledger();
    expect(l.apply([obs('a', 0, 10), obs('a', 1, 0, 0), obs('b', 2, 0)], h(1)).newestBucket).toBe(h(0));
    expect(l.apply([obs('a', 1, 0, 1)], h(1.2)).newestBucket).toBe(h(1));
  });

  test('requests are left alone when the source does not report them', () => {
    const l = ledger();
    l.apply([obs('a', 0, 10)], h(1));
    expect(delta(l.apply([obs('a', 0, 15), obs('a', 1, 5)], h(1.1)), 'a')).toEqual({ ...none, billedBytes: 10 });
  });

  test('over a day of polls the counters add up to what became known after the baseline, however the vendor revised', () => {
    // A vendor that fills hours as they pass, revises now and then, and reports late.
    const truth = new Map<number, number>();
    const l = ledger();
    let billed = 0;
    let withdrawn = 0;
    let baselineTotal = 0;
    let revised = 0;
    for (let minute = 0; minute < 24 * 60; minute += 5) {
      const now = T0 + minute * 60_000;
      const hour = Math.floor(minute / 60);
      truth.set(hour, (truth.get(hour) ?? 0) + 100);
      if (minute % 180 === 90 && truth.has(hour - 2)) {
        truth.set(hour - 2, truth.get(hour - 2)! - 30);
        revised++;
      }
      const u = l.apply([...truth].map(([hr, bytes]) => obs('a', hr, bytes)), now);
      if (u.baseline) baselineTotal = [...truth.values()].reduce((a, b) => a + b, 0);
      billed += sums(u).billedBytes;
      withdrawn += sums(u).withdrawnBytes;
    }
    const total = [...truth.values()].reduce((a, b) => a + b, 0);
    expect(billed - withdrawn).toBe(total - baselineTotal);
    expect(revised).toBe(7);
    expect(withdrawn).toBe(30 * revised);
  });
});
