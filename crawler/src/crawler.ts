import { Client } from './client';
import type { CrawlerConfig, Target } from './config';
import { classifyError } from './errors';
import type { CrawlerMetrics } from './metrics';
import { Pacer } from './pacer';
import { errorMessage } from '../../runtime/src/errors';
import type { Logger } from '../../runtime/src/log';
import { WeightedPicker } from '../../runtime/src/weighted-picker';
import { Counts, SummaryStats } from './stats';

/** Ties pacing, target choice, the HTTP client, metrics and summary logs together. */
export class Crawler {
  private readonly client: Client;
  private readonly picker: WeightedPicker<Target>;
  private readonly pacer: Pacer;
  private readonly stats = new SummaryStats();
  private summaryTimer: NodeJS.Timeout | undefined;
  private lastSummaryAt = 0;

  constructor(
    private readonly config: CrawlerConfig,
    private readonly logger: Logger,
    private readonly metrics: CrawlerMetrics,
  ) {
    this.client = new Client({
      vendor: config.vendor,
      userAgent: config.userAgent,
      timeoutMs: config.requestTimeoutMs,
      tls: config.tls,
    });
    this.picker = new WeightedPicker(config.targets);
    this.pacer = new Pacer(
      {
        requestsPerSecond: config.requestsPerSecond,
        concurrency: config.concurrency,
        durationMs: config.durationSeconds === undefined ? undefined : config.durationSeconds * 1000,
      },
      {
        launch: () => this.launch(),
        onSlots: (started, skipped) => {
          metrics.recordSlots(started, skipped);
          if (skipped > 0) this.stats.recordSkipped(skipped);
        },
        onInFlight: (count) => metrics.setInFlight(count),
      },
    );
  }

  /** Runs until DURATION_SECONDS passes or stop() is called, then drains. */
  async run(): Promise<void> {
    this.lastSummaryAt = performance.now();
    this.summaryTimer = setInterval(() => this.logSummary(), this.config.logIntervalSeconds * 1000);
    this.summaryTimer.unref();
    this.pacer.start();
    await this.pacer.done;
    clearInterval(this.summaryTimer);
    this.logSummary();
    this.client.close();
  }

  /** No new requests start; resolves once in-flight ones have finished. */
  stop(): Promise<void> {
    return this.pacer.stop();
  }

  get inFlight(): number {
    return this.pacer.inFlightCount;
  }

  totals(): Counts {
    return this.stats.totals();
  }

  private async launch(): Promise<void> {
    const target = this.picker.next();
    const outcome = await this.client.fetch(target);
    let code: string;
    if (outcome.status !== undefined) {
      code = String(outcome.status);
      this.stats.recordResponse(outcome.status, outcome.requestBytes, outcome.responseBytes);
    } else {
      code = classifyError(outcome.error);
      this.stats.recordError(code, `${target.url.origin}: ${errorMessage(outcome.error)}`);
    }
    this.metrics.recordRequest({
      target,
      protocol: outcome.protocol,
      code,
      requestBytes: outcome.requestBytes,
      responseBytes: outcome.responseBytes,
      seconds: outcome.seconds,
    });
  }

  private logSummary(): void {
    const now = performance.now();
    const seconds = (now - this.lastSummaryAt) / 1000;
    this.lastSummaryAt = now;
    const { errorSamples, ...counts } = this.stats.takeInterval();
    const hasErrors = Object.keys(counts.errors).length > 0;
    const fields = {
      intervalSeconds: round(seconds),
      requestsPerSecond: round(seconds > 0 ? counts.requests / seconds : 0),
      inFlight: this.pacer.inFlightCount,
      ...counts,
      ...(hasErrors ? { errorSamples } : {}),
    };
    if (hasErrors) this.logger.warn('summary', fields);
    else this.logger.info('summary', fields);
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
