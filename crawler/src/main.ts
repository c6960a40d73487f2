/**
 * Entry point of the synthetic crawler: configuration from the environment,
 * metrics server, signal handling and exit codes (0 done, 1 runtime
 * failure, 2 bad configuration). It writes nothing to disk.
 */
import type { Server } from 'node:http';
import { CrawlerConfig, loadConfig } from './config';
import { Crawler } from './crawler';
import { CRAWLER_VERSION } from './defaults';
import { CrawlerMetrics } from './metrics';
import { PROXY_VARIABLES, parseProxyUrl } from './proxy';
import { createLogger } from './shared/log';
import { startMetricsServer } from './shared/metrics';
import {
  EXIT_BAD_CONFIG,
  EXIT_FAILURE,
  EXIT_OK,
  elapsedSeconds,
  loadConfigOrReport,
  logUnexpectedErrors,
  onStopSignals,
  openOrLog,
  resourceFields,
  runProgram,
} from './shared/program';
import { Redactor } from './shared/redact';

async function main(): Promise<number> {
  const config = loadConfigOrReport('crawler', () => loadConfig(process.env), new Redactor());
  if (!config) return EXIT_BAD_CONFIG;

  const logger = createLogger(config.logLevel, redactorFor(process.env));
  // A load generator keeps going: anything unexpected is logged, not fatal.
  logUnexpectedErrors(logger);

  const metrics = new CrawlerMetrics(config.vendor);
  let server: Server | undefined;
  if (config.metricsPort > 0) {
    server = await openOrLog(logger, 'metrics server failed to start', config.metricsPort, () =>
      startMetricsServer(metrics.registry, config.metricsPort, config.metricsHost),
    );
    if (!server) return EXIT_FAILURE;
  }

  const crawler = new Crawler(config, logger, metrics);
  const startedAt = performance.now();
  let reason = 'duration elapsed';
  onStopSignals(
    (signal) => {
      reason = `received ${signal}`;
      logger.info('stopping', { signal, inFlight: crawler.inFlight });
      void crawler.stop();
    },
    (signal) => {
      logger.warn('second signal, exiting without waiting for in-flight requests', { signal, inFlight: crawler.inFlight });
      process.exit(EXIT_FAILURE);
    },
  );

  logger.info('start', describe(config));
  await crawler.run();
  if (server) {
    server.closeAllConnections();
    server.close();
  }
  logger.info('stop', {
    reason,
    elapsedSeconds: elapsedSeconds(startedAt),
    ...crawler.totals(),
    ...resourceFields(),
  });
  return EXIT_OK;
}

/** Every configured proxy's credentials are secrets, used by a target or not. */
function redactorFor(env: NodeJS.ProcessEnv): Redactor {
  const redactor = new Redactor();
  for (const name of PROXY_VARIABLES) {
    const raw = env[name]?.trim();
    if (raw) redactor.addUrlCredentials(parseProxyUrl(raw).url);
  }
  return redactor;
}

function describe(config: CrawlerConfig): Record<string, unknown> {
  return {
    version: CRAWLER_VERSION,
    node: process.version,
    vendor: config.vendor,
    targets: config.targets.map((t) => ({
      url: t.url.href,
      weight: t.weight,
      protocol: t.mode,
      proxy: t.proxy?.display ?? 'direct',
    })),
    requestsPerSecond: config.requestsPerSecond,
    concurrency: config.concurrency,
    durationSeconds: config.durationSeconds ?? null,
    requestTimeoutMs: config.requestTimeoutMs,
    metricsPort: config.metricsPort,
    tlsVerify: config.tls.rejectUnauthorized,
    extraCa: config.tls.ca !== undefined,
  };
}

runProgram('crawler', main);
