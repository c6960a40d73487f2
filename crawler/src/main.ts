/**
 * Entry point of the synthetic crawler: configuration from the environment,
 * metrics server, signal handling and exit codes (0 done, 1 runtime
 * failure, 2 bad configuration). It writes nothing to disk.
 */
import { CrawlerConfig, loadConfig } from './config';
import { Crawler } from './crawler';
import { CRAWLER_VERSION } from './defaults';
import { CrawlerMetrics } from './metrics';
import { PROXY_VARIABLES, parseProxyUrl } from './proxy';
import { EXIT_BAD_CONFIG, EXIT_FAILURE, EXIT_OK, logStop, onStopSignals, runProgram, startProgram } from '../../runtime/src/program';
import { Redactor } from '../../runtime/src/redact';

async function main(): Promise<number> {
  // A load generator keeps going: anything unexpected is logged, not fatal.
  const started = startProgram('crawler', () => loadConfig(process.env), () => redactorFor(process.env));
  if (!started) return EXIT_BAD_CONFIG;
  const { config, logger } = started;

  const metrics = new CrawlerMetrics(config.vendor);
  const server = await metrics.serve(logger, config);
  if (!server) return EXIT_FAILURE;

  const crawler = new Crawler(config, logger, metrics);
  const startedAt = performance.now();
  let reason = 'duration elapsed';
  onStopSignals(
    logger,
    (signal) => {
      reason = `received ${signal}`;
      logger.info('stopping', { signal, inFlight: crawler.inFlight });
      void crawler.stop();
    },
    { message: 'second signal, exiting without waiting for in-flight requests', inFlight: () => crawler.inFlight },
  );

  logger.info('start', describe(config));
  await crawler.run();
  server.close();
  logStop(logger, reason, startedAt, crawler.totals());
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
