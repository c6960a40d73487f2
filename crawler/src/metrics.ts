import type { Counter, Histogram } from 'prom-client';
import type { Target } from './config';
import { Increment, ProgramMetrics, cached } from '../../runtime/src/metrics';

type RequestLabels = 'vendor' | 'host' | 'protocol' | 'scheme' | 'code';
type ByteLabels = 'vendor' | 'host' | 'protocol' | 'scheme';

interface Observe {
  observe(value: number): void;
}

export interface RequestRecord {
  target: Target;
  protocol: string;
  /** HTTP status code or error kind. */
  code: string;
  requestBytes: number;
  responseBytes: number;
  seconds: number;
}

/** The crawler's own Prometheus metrics, on a private registry. */
export class CrawlerMetrics extends ProgramMetrics {
  private readonly requests: Counter<RequestLabels>;
  private readonly requestBytes: Counter<ByteLabels>;
  private readonly responseBytes: Counter<ByteLabels>;
  private readonly duration: Histogram<ByteLabels>;
  private readonly skipped: Increment;
  private readonly slots: Increment;
  private readonly inFlight: { set(value: number): void };
  private readonly children = new Map<string, { requests: Increment; requestBytes: Increment; responseBytes: Increment; duration: Observe }>();

  constructor(vendor: string) {
    super('crawler', vendor);
    this.requests = this.counter({
      name: 'crawler_requests_total',
      help: 'Requests finished, by destination, protocol and HTTP status code or error kind.',
      labelNames: ['vendor', 'host', 'protocol', 'scheme', 'code'],
    });
    this.requestBytes = this.counter({
      name: 'crawler_request_bytes_total',
      help: 'Request head bytes (request line and headers as HTTP/1.1 text) of completed requests.',
      labelNames: ['vendor', 'host', 'protocol', 'scheme'],
    });
    this.responseBytes = this.counter({
      name: 'crawler_response_bytes_total',
      help: 'Response body bytes read (bodies are always read to the end).',
      labelNames: ['vendor', 'host', 'protocol', 'scheme'],
    });
    this.duration = this.histogram({
      name: 'crawler_request_duration_seconds',
      help: 'Time from request start to the end of the response body (or the error).',
      labelNames: ['vendor', 'host', 'protocol', 'scheme'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    this.skipped = this.vendorCounter('crawler_skipped_slots_total', 'Scheduled request slots not used because CONCURRENCY requests were already in flight.');
    this.slots = this.vendorCounter('crawler_scheduled_slots_total', 'Request slots of the open-loop timetable that came due (started plus skipped).');
    this.inFlight = this.vendorGauge('crawler_in_flight_requests', 'Requests currently in flight.');
    this.inFlight.set(0);
  }

  recordSlots(started: number, skipped: number): void {
    this.slots.inc(started + skipped);
    if (skipped > 0) this.skipped.inc(skipped);
  }

  setInFlight(count: number): void {
    this.inFlight.set(count);
  }

  recordRequest(r: RequestRecord): void {
    const key = `${r.target.scheme}|${r.target.host}|${r.protocol}|${r.code}`;
    const child = cached(this.children, key, () => {
      const labels = { vendor: this.vendor, host: r.target.host, protocol: r.protocol, scheme: r.target.scheme };
      return {
        requests: this.requests.labels({ ...labels, code: r.code }),
        requestBytes: this.requestBytes.labels(labels),
        responseBytes: this.responseBytes.labels(labels),
        duration: this.duration.labels(labels),
      };
    });
    child.requests.inc();
    if (r.requestBytes > 0) child.requestBytes.inc(r.requestBytes);
    if (r.responseBytes > 0) child.responseBytes.inc(r.responseBytes);
    child.duration.observe(r.seconds);
  }
}
