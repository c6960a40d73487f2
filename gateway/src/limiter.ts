/** Shares are exact to a millionth. */
export const PARTS = 1_000_000;

const SHARE = /^(?:0?\.[0-9]{1,6}|[01](?:\.[0-9]{0,6})?)$/;

/** A share from 0 to 1 (at most six decimals) in parts per PARTS; NaN when invalid. */
export function parseShare(raw: string): number {
  if (!SHARE.test(raw.trim())) return NaN;
  const value = Number(raw);
  return value > 1 ? NaN : Math.round(value * PARTS);
}

/**
 * Refuses a fixed share of requests, deterministically: of the first n
 * requests exactly floor(n * share) are refused, spread evenly (share 0.25
 * refuses the 4th, 8th, 12th...), so tests and demos can count exactly.
 */
export class RateLimiter {
  /** Requests seen in the current cycle of PARTS; the pattern repeats after that. */
  private seen = 0;
  private refusedTotal = 0;

  constructor(private readonly parts: number) {
    if (!Number.isInteger(parts) || parts < 0 || parts > PARTS) throw new RangeError(`RateLimiter: parts=${parts} must be an integer from 0 to ${PARTS}`);
  }

  /** Counts one request; true when it is to be refused. */
  refuse(): boolean {
    if (this.parts === 0) return false;
    const index = this.seen + 1;
    const refused = Math.floor((index * this.parts) / PARTS) > Math.floor((this.seen * this.parts) / PARTS);
    this.seen = index % PARTS;
    if (refused) this.refusedTotal++;
    return refused;
  }

  get refused(): number {
    return this.refusedTotal;
  }
}
