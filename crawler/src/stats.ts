/** Counts kept for the periodic summary log lines (Prometheus has its own). */
export interface Counts {
  requests: number;
  skipped: number;
  requestBytes: number;
  responseBytes: number;
  /** By HTTP status code. */
  codes: Record<string, number>;
  /** By error kind. */
  errors: Record<string, number>;
}

function emptyCounts(): Counts {
  return { requests: 0, skipped: 0, requestBytes: 0, responseBytes: 0, codes: {}, errors: {} };
}

export class SummaryStats {
  private total = emptyCounts();
  private interval = emptyCounts();
  /** Latest message per error kind in the current interval. */
  private samples: Record<string, string> = {};

  recordResponse(status: number, requestBytes: number, responseBytes: number): void {
    for (const c of [this.total, this.interval]) {
      c.requests++;
      c.requestBytes += requestBytes;
      c.responseBytes += responseBytes;
      c.codes[status] = (c.codes[status] ?? 0) + 1;
    }
  }

  recordError(kind: string, message: string): void {
    for (const c of [this.total, this.interval]) {
      c.requests++;
      c.errors[kind] = (c.errors[kind] ?? 0) + 1;
    }
    this.samples[kind] = message;
  }

  recordSkipped(count: number): void {
    this.total.skipped += count;
    this.interval.skipped += count;
  }

  totals(): Counts {
    return structuredClone(this.total);
  }

  /** Returns the interval's counts and error samples, and starts a new interval. */
  takeInterval(): Counts & { errorSamples: Record<string, string> } {
    const result = { ...this.interval, errorSamples: this.samples };
    this.interval = emptyCounts();
    this.samples = {};
    return result;
  }
}
