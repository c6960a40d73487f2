/** Counts kept for the periodic summary log lines (Prometheus has its own). */
export interface Counts {
  /** Requests answered, CONNECTs included. */
  requests: number;
  /** Response body bytes sent. */
  responseBytes: number;
  /** By status code (`aborted` when the client left before the end). */
  codes: Record<string, number>;
  /** By protocol: http1.1, h2, h2c, connect. */
  protocols: Record<string, number>;
  /** By path: proxy, or direct (the site port). */
  paths: Record<string, number>;
  tunnels: number;
  tlsFailures: number;
}

function emptyCounts(): Counts {
  return { requests: 0, responseBytes: 0, codes: {}, protocols: {}, paths: {}, tunnels: 0, tlsFailures: 0 };
}

export class SummaryStats {
  private total = emptyCounts();
  private interval = emptyCounts();

  recordRequest(path: string, protocol: string, code: string, bytes: number): void {
    for (const c of [this.total, this.interval]) {
      c.requests++;
      c.responseBytes += bytes;
      c.codes[code] = (c.codes[code] ?? 0) + 1;
      c.protocols[protocol] = (c.protocols[protocol] ?? 0) + 1;
      c.paths[path] = (c.paths[path] ?? 0) + 1;
    }
  }

  recordTunnel(): void {
    this.total.tunnels++;
    this.interval.tunnels++;
  }

  recordTlsFailure(): void {
    this.total.tlsFailures++;
    this.interval.tlsFailures++;
  }

  totals(): Counts {
    return structuredClone(this.total);
  }

  /** Returns the interval's counts and starts a new interval. */
  takeInterval(): Counts {
    const result = this.interval;
    this.interval = emptyCounts();
    return result;
  }
}
