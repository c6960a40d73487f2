/**
 * Entry point of the synthetic crawler: configuration from the environment,
 * metrics server, signal handling and exit codes (0 done, 1 runtime
 * failure, 2 bad configuration). It writes nothing to disk.
 */
import type { Server } from 'node:http';
import { ConfigError, CrawlerConfig, loadConfig } from './config';
import { Crawler } from './crawler';
import { CRAWLER_VERSION } from './defaults';
import { errorMessage } from './errors';
import { createLogger } from './log';
import { CrawlerMetrics, startMetricsServer } from './metrics';
import { PROXY_VARIABLES, parseProxyUrl } from './proxy';
import { Redactor, redactUrlString } from './redact';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_BAD_CONFIG = 2;

async function main(): Promise<number> {
  let config: CrawlerConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger('error', new Redactor()).error('invalid configuration', {
      variable: err.variable,
      value: err.value,
      reason: err.reason,
    });
    process.stderr.write(`crawler: invalid configuration: ${err.message}\n`);
    return EXIT_BAD_CONFIG;
  }

  const logger = createLogger(config.logLevel, redactorFor(process.env));
  // A load generator keeps going: anything unexpected is logged, not fatal.
  process.on('uncaughtException', (err) => logger.error('unexpected error', { error: errorMessage(err) }));
  process.on('unhandledRejection', (err) => logger.error('unexpected rejection', { error: errorMessage(err) }));

  const metrics = new CrawlerMetrics(config.vendor);
  let server: Server | undefined;
  if (config.metricsPort > 0) {
    try {
      server = await startMetricsServer(metrics.registry, config.metricsPort, config.metricsHost);
    } catch (err) {
      logger.error('metrics server failed to start', { port: config.metricsPort, error: errorMessage(err) });
      return EXIT_FAILURE;
    }
  }

  const crawler = new Crawler(config, logger, metrics);
  const startedAt = performance.now();
  let reason = 'duration elapsed';
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn('second signal, exiting without waiting for in-flight requests', { signal, inFlight: crawler.inFlight });
      process.exit(EXIT_FAILURE);
    }
    signalled = true;
    reason = `received ${signal}`;
    logger.info('stopping', { signal, inFlight: crawler.inFlight });
    void crawler.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  logger.info('start', describe(config));
  await crawler.run();
  if (server) {
    server.closeAllConnections();
    server.close();
  }
  logger.info('stop', {
    reason,
    elapsedSeconds: Math.round((performance.now() - startedAt) / 10) / 100,
    ...crawler.totals(),
    ...resourceFields(),
  });
  return EXIT_OK;
}

function resourceFields(): Record<string, number> {
  const usage = process.resourceUsage();
  return {
    cpuSeconds: Math.round((usage.userCPUTime + usage.systemCPUTime) / 10_000) / 100,
    maxRssBytes: usage.maxRSS * 1024,
  };
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

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`crawler: fatal error: ${redactUrlString(errorMessage(err))}\n`);
    process.exit(EXIT_FAILURE);
  },
);
