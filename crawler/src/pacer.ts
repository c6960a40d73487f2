export interface PacerOptions {
  requestsPerSecond: number;
  concurrency: number;
  /** Stop scheduling after this long; undefined = until stop(). */
  durationMs?: number;
  /** Milliseconds on a monotonic clock. */
  now?: () => number;
}

export interface PacerHooks {
  /** Starts one request; must not reject (failures are the caller's to count). */
  launch(): Promise<void>;
  /** Called per timer tick with the slots that came due. */
  onSlots?(started: number, skipped: number): void;
  onInFlight?(count: number): void;
}

/**
 * Open-loop pacing: slot i is due at start + i / rate, whatever happened to
 * earlier requests, so a slow target cannot slow the offered load down. A
 * slot that comes due while CONCURRENCY requests are in flight is skipped
 * (counted), never queued, so backlog cannot grow without bound.
 */
export class Pacer {
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly totalSlots: number;
  private startedAt = 0;
  private slotsDue = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private resolveDone!: () => void;
  /** Resolves when scheduling has ended and every request has finished. */
  readonly done: Promise<void>;

  constructor(
    private readonly opts: PacerOptions,
    private readonly hooks: PacerHooks,
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.intervalMs = 1000 / opts.requestsPerSecond;
    this.totalSlots = opts.durationMs === undefined ? Infinity : Math.ceil(opts.durationMs / this.intervalMs);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  start(): void {
    this.startedAt = this.now();
    this.tick();
  }

  /** No new requests start; `done` resolves when in-flight ones finish. */
  stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      clearTimeout(this.timer);
      this.timer = undefined;
      this.finishIfIdle();
    }
    return this.done;
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const elapsed = this.now() - this.startedAt;
    const due = Math.min(this.totalSlots, Math.floor(elapsed / this.intervalMs) + 1);
    const fresh = due - this.slotsDue;
    this.slotsDue = due;
    if (fresh > 0) {
      const started = Math.min(fresh, this.opts.concurrency - this.inFlight);
      for (let i = 0; i < started; i++) this.launchOne();
      this.hooks.onSlots?.(started, fresh - started);
      if (started > 0) this.hooks.onInFlight?.(this.inFlight);
    }
    if (this.slotsDue >= this.totalSlots) {
      this.stop();
      return;
    }
    const nextAt = this.slotsDue * this.intervalMs;
    this.timer = setTimeout(() => this.tick(), Math.max(0, nextAt - (this.now() - this.startedAt)));
  }

  private launchOne(): void {
    this.inFlight++;
    const finished = (): void => {
      this.inFlight--;
      this.hooks.onInFlight?.(this.inFlight);
      this.finishIfIdle();
    };
    let pending: Promise<void>;
    try {
      pending = this.hooks.launch();
    } catch {
      pending = Promise.resolve();
    }
    pending.then(finished, finished);
  }

  private finishIfIdle(): void {
    if (this.stopped && this.inFlight === 0) this.resolveDone();
  }
}
