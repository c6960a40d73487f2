/**
 * Entry point of the demo gateway: configuration from the environment,
 * metrics server, signal handling and exit codes (0 drained, 1 runtime
 * failure, 2 bad configuration). It writes nothing to disk and never
 * connects anywhere: every answer is made up on the spot.
 */
import type { Server } from 'node:http';
import { errorMessage } from '../../crawler/src/errors';
import { Logger, createLogger } from '../../crawler/src/log';
import { Redactor } from '../../crawler/src/redact';
import { ConfigError, GatewayConfig, loadConfig } from './config';
import { GATEWAY_VERSION } from './defaults';
import { Gateway } from './gateway';
import { PARTS } from './limiter';
import { GatewayMetrics, startMetricsServer } from './metrics';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_BAD_CONFIG = 2;
/** How long a SIGTERM waits for in-flight responses (Kubernetes grants 30 s by default). */
const DRAIN_TIMEOUT_MS = 20_000;

async function main(): Promise<number> {
  let config: GatewayConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger('error', redactorFor(process.env)).error('invalid configuration', {
      variable: err.variable,
      value: err.value,
      reason: err.reason,
    });
    process.stderr.write(`gateway: invalid configuration: ${err.message}\n`);
    return EXIT_BAD_CONFIG;
  }

  const logger = createLogger(config.logLevel, redactorFor(process.env));
  // Listening for signals from here on: a SIGTERM during start-up still drains.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // One bad connection must not take the demo down: log and go on.
  process.on('uncaughtException', (err) => logger.error('unexpected error', { error: errorMessage(err) }));
  process.on('unhandledRejection', (err) => logger.error('unexpected rejection', { error: errorMessage(err) }));

  const metrics = new GatewayMetrics(config.vendor, config.maxSites, (site) =>
    logger.warn('MAX_SITES distinct sites reached; further sites are counted as site="other"', { maxSites: config.maxSites, firstOther: site }),
  );
  metrics.setCaExpiry(config.ca.notAfter);
  let metricsServer: Server | undefined;
  if (config.metricsPort > 0) {
    try {
      metricsServer = await startMetricsServer(metrics.registry, config.ca.certPem, config.metricsPort, config.metricsHost);
    } catch (err) {
      logger.error('metrics server failed to start', { port: config.metricsPort, error: errorMessage(err) });
      return EXIT_FAILURE;
    }
  }

  const gateway = new Gateway(config, logger, metrics);
  let port: number;
  try {
    port = await gateway.listen(config.port, config.host);
  } catch (err) {
    logger.error('proxy port failed to open', { port: config.port, error: errorMessage(err) });
    metricsServer?.close();
    return EXIT_FAILURE;
  }
  let sitePort: number | undefined;
  if (config.sitePort !== undefined) {
    try {
      sitePort = await gateway.listenSites(config.sitePort, config.siteHost);
    } catch (err) {
      logger.error('site port failed to open', { port: config.sitePort, error: errorMessage(err) });
      metricsServer?.close();
      return EXIT_FAILURE;
    }
  }
  const startedAt = performance.now();
  logger.info('start', describe(config, port, sitePort));
  if (config.caSource === 'generated') {
    logger.warn('CA_CERT_FILE and CA_KEY_FILE are unset: signing with a CA generated in memory for this process; clients can fetch it from /ca.pem on the metrics port', {
      ca: config.ca.subject,
    });
  }

  const summary = setInterval(() => logSummary(logger, gateway), config.logIntervalSeconds * 1000);
  summary.unref();

  const signal = await stopSignal;
  // drain() closes the listener before its first await: once `stopping` is
  // logged, new connections are refused.
  const draining = gateway.drain(DRAIN_TIMEOUT_MS);
  logger.info('stopping', { signal, inFlight: gateway.inFlightRequests, connections: gateway.openConnections });
  const onSecondSignal = (second: NodeJS.Signals): void => {
    logger.warn('second signal, exiting without draining', { signal: second, inFlight: gateway.inFlightRequests });
    process.exit(EXIT_FAILURE);
  };
  process.on('SIGTERM', onSecondSignal);
  process.on('SIGINT', onSecondSignal);

  const drained = await draining;
  clearInterval(summary);
  logSummary(logger, gateway);
  if (metricsServer) {
    metricsServer.closeAllConnections();
    metricsServer.close();
  }
  logger.info('stop', {
    reason: `received ${signal}`,
    elapsedSeconds: Math.round((performance.now() - startedAt) / 10) / 100,
    ...drained,
    ...gateway.stats.totals(),
    ...resourceFields(),
  });
  return EXIT_OK;
}

function logSummary(logger: Logger, gateway: Gateway): void {
  const counts = gateway.stats.takeInterval();
  logger.info('summary', { ...counts, inFlight: gateway.inFlightRequests, connections: gateway.openConnections });
}

function resourceFields(): Record<string, number> {
  const usage = process.resourceUsage();
  return {
    cpuSeconds: Math.round((usage.userCPUTime + usage.systemCPUTime) / 10_000) / 100,
    maxRssBytes: usage.maxRSS * 1024,
  };
}

/** The proxy password (raw, user:password and base64 forms) never reaches a log line. */
function redactorFor(env: NodeJS.ProcessEnv): Redactor {
  const redactor = new Redactor();
  if (env.PROXY_PASSWORD) {
    const url = new URL('http://gateway.invalid/');
    url.username = env.PROXY_USERNAME?.trim() ?? '';
    url.password = env.PROXY_PASSWORD;
    redactor.addUrlCredentials(url);
  }
  return redactor;
}

function describe(config: GatewayConfig, port: number, sitePort: number | undefined): Record<string, unknown> {
  return {
    version: GATEWAY_VERSION,
    node: process.version,
    vendor: config.vendor,
    port,
    host: config.host ?? null,
    metricsPort: config.metricsPort,
    sitePort: sitePort ?? null,
    siteHost: config.siteHost ?? null,
    pageSizes: config.pageSizes,
    rateLimitShare: config.rateLimitParts / PARTS,
    proxyAuth: config.credentials !== undefined,
    ca: config.ca.subject,
    caSource: config.caSource,
    caNotAfter: config.ca.notAfter.toISOString(),
    maxSites: config.maxSites,
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`gateway: fatal error: ${errorMessage(err)}\n`);
    process.exit(EXIT_FAILURE);
  },
);
