/** The Prometheus side of our programs: a private registry, the metrics on it, and the server that exposes it. */
import * as http from 'node:http';
import { Counter, CounterConfiguration, Gauge, GaugeConfiguration, Histogram, HistogramConfiguration, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricsSettings } from './env';
import type { Logger } from './log';
import { listenOn, openOrLog } from './program';

/** What a cached counter child or a labelled counter offers. */
export interface Increment {
  inc(value?: number): void;
}

/** A private registry with prom-client's process metrics, named `<prefix>_process_*` and `<prefix>_nodejs_*`. */
export function programRegistry(prefix: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `${prefix}_` });
  return registry;
}

/** A fixed answer on the metrics port, such as the gateway's CA certificate. */
export interface StaticPage {
  contentType: string;
  body: string;
}

/**
 * Serves /metrics, /healthz (for probes) and the `pages` by path; 404
 * otherwise. Resolves once listening.
 */
export function startMetricsServer(registry: Registry, port: number, host?: string, pages: Record<string, StaticPage> = {}): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const page = Object.hasOwn(pages, path) ? pages[path] : undefined;
    if (path === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(err.message);
        },
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else if (page) {
      res.writeHead(200, { 'content-type': page.contentType });
      res.end(page.body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  return listenOn(server, port, host).then(() => server);
}

/** A program's metrics server once open, or none (METRICS_PORT=0): closing it drops its connections too. */
export interface MetricsEndpoint {
  close(): void;
}

/** The value cached under `key`, made by `make` the first time it is asked for. */
export function cached<K, V>(cache: Map<K, V>, key: K, make: () => V): V {
  let value = cache.get(key);
  if (value === undefined) {
    value = make();
    cache.set(key, value);
  }
  return value;
}

/**
 * Base of a program's own metrics (its definitions stay in the program's
 * metrics.ts): the private registry programRegistry(prefix) that every
 * metric made here is registered in, the program's `vendor` label, and the
 * server that exposes them. Label children are worth caching (with cached()):
 * hashing label sets on every request costs more than the rest of the
 * bookkeeping together.
 */
export abstract class ProgramMetrics {
  readonly registry: Registry;

  protected constructor(
    prefix: string,
    protected readonly vendor: string,
  ) {
    this.registry = programRegistry(prefix);
  }

  /**
   * Opens the metrics server on METRICS_PORT and METRICS_HOST, with the extra
   * `pages`. When the port fails to open, logs `metrics server failed to
   * start` and gives undefined: the program should exit with EXIT_FAILURE.
   */
  async serve(logger: Logger, settings: MetricsSettings, pages: Record<string, StaticPage> = {}): Promise<MetricsEndpoint | undefined> {
    const { metricsPort: port, metricsHost: host } = settings;
    if (port === 0) return { close: () => undefined };
    const server = await openOrLog(logger, 'metrics server failed to start', port, () => startMetricsServer(this.registry, port, host, pages));
    if (!server) return undefined;
    return {
      close: () => {
        server.closeAllConnections();
        server.close();
      },
    };
  }

  protected counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    return new Counter({ ...config, registers: [this.registry] });
  }

  protected gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    return new Gauge({ ...config, registers: [this.registry] });
  }

  protected histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
    return new Histogram({ ...config, registers: [this.registry] });
  }

  /** A counter labelled by `vendor` only: this program's child of it. */
  protected vendorCounter(name: string, help: string): Increment {
    return this.counter({ name, help, labelNames: ['vendor'] }).labels({ vendor: this.vendor });
  }

  /** A gauge labelled by `vendor` only: this program's child of it. */
  protected vendorGauge(name: string, help: string): Gauge.Internal<'vendor'> {
    return this.gauge({ name, help, labelNames: ['vendor'] }).labels({ vendor: this.vendor });
  }
}
