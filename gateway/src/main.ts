/**
 * Entry point of the demo gateway: configuration from the environment,
 * metrics server, signal handling and exit codes (0 drained, 1 runtime
 * failure, 2 bad configuration). It writes nothing to disk and never
 * connects anywhere: every answer is made up on the spot.
 */
import type { Logger } from '../../runtime/src/log';
import { EXIT_BAD_CONFIG, EXIT_FAILURE, EXIT_OK, logStop, onStopSignals, openOrLog, runProgram, startProgram } from '../../runtime/src/program';
import { Redactor } from '../../runtime/src/redact';
import { GatewayConfig, loadConfig } from './config';
import { GATEWAY_VERSION } from './defaults';
import { BannerServer } from './banner';
import { Gateway } from './gateway';
import { PARTS } from './limiter';
import { GatewayMetrics } from './metrics';
import { UsageApi, UsageStore } from './usage';

/** How long a SIGTERM waits for in-flight responses (Kubernetes grants 30 s by default). */
const DRAIN_TIMEOUT_MS = 20_000;

async function main(): Promise<number> {
  // One bad connection must not take the demo down: unexpected errors are logged, not fatal.
  const redactor = redactorFor(process.env);
  const started = startProgram('gateway', () => loadConfig(process.env), () => redactor, redactor);
  if (!started) return EXIT_BAD_CONFIG;
  const { config, logger } = started;

  const metrics = new GatewayMetrics(config.vendor, config.maxSites, (site) =>
    logger.warn('MAX_SITES distinct sites reached; further sites are counted as site="other"', { maxSites: config.maxSites, firstOther: site }),
  );
  metrics.setCaExpiry(config.ca.notAfter);
  const gateway = new Gateway(config, logger, metrics);
  // Listening for signals before the first port opens: a SIGTERM during start-up still drains.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) =>
    onStopSignals(logger, resolve, { message: 'second signal, exiting without draining', inFlight: () => gateway.inFlightRequests }),
  );

  const metricsServer = await metrics.serve(logger, config, { '/ca.pem': { contentType: 'application/x-pem-file', body: config.ca.certPem } });
  if (!metricsServer) return EXIT_FAILURE;
  const port = await openOrLog(logger, 'proxy port failed to open', config.port, () => gateway.listen(config.port, config.host));
  if (port === undefined) {
    metricsServer.close();
    return EXIT_FAILURE;
  }
  let sitePort: number | undefined;
  if (config.sitePort !== undefined) {
    const requested = config.sitePort;
    sitePort = await openOrLog(logger, 'site port failed to open', requested, () => gateway.listenSites(requested, config.siteHost));
    if (sitePort === undefined) {
      metricsServer.close();
      return EXIT_FAILURE;
    }
  }
  let banner: BannerServer | undefined;
  let bannerPort: number | undefined;
  if (config.bannerPort !== undefined) {
    const requested = config.bannerPort;
    banner = new BannerServer();
    bannerPort = await openOrLog(logger, 'banner port failed to open', requested, () => banner!.listen(requested, config.host));
    if (bannerPort === undefined) {
      metricsServer.close();
      return EXIT_FAILURE;
    }
  }
  let usageApi: UsageApi | undefined;
  let usagePort: number | undefined;
  if (config.usage !== undefined) {
    const { port: requested, token, bucketSeconds } = config.usage;
    const store = new UsageStore(bucketSeconds);
    metrics.attachUsage(store);
    usageApi = new UsageApi({ store, token, vendor: config.vendor, flush: () => metrics.flushWireBytes() });
    usagePort = await openOrLog(logger, 'usage port failed to open', requested, () => usageApi!.listen(requested, config.host));
    if (usagePort === undefined) {
      usageApi.close();
      metricsServer.close();
      return EXIT_FAILURE;
    }
  }
  const startedAt = performance.now();
  logger.info('start', { ...describe(config, port, sitePort), bannerPort: bannerPort ?? null, usagePort: usagePort ?? null });
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
  banner?.close();
  usageApi?.close();
  const draining = gateway.drain(DRAIN_TIMEOUT_MS);
  logger.info('stopping', { signal, inFlight: gateway.inFlightRequests, connections: gateway.openConnections });

  const drained = await draining;
  clearInterval(summary);
  logSummary(logger, gateway);
  metricsServer.close();
  logStop(logger, `received ${signal}`, startedAt, { ...drained, ...gateway.stats.totals() });
  return EXIT_OK;
}

function logSummary(logger: Logger, gateway: Gateway): void {
  const counts = gateway.stats.takeInterval();
  logger.info('summary', { ...counts, inFlight: gateway.inFlightRequests, connections: gateway.openConnections });
}

/** The proxy password (raw, user:password and base64 forms) and the usage token never reach a log line. */
function redactorFor(env: NodeJS.ProcessEnv): Redactor {
  const redactor = new Redactor();
  if (env.PROXY_PASSWORD) {
    const url = new URL('http://gateway.invalid/');
    url.username = env.PROXY_USERNAME?.trim() ?? '';
    url.password = env.PROXY_PASSWORD;
    redactor.addUrlCredentials(url);
  }
  const token = env.USAGE_TOKEN?.trim();
  if (token) {
    // The token as a URL password: the Redactor's way to register a secret.
    const url = new URL('http://usage.invalid/');
    url.username = 'usage';
    url.password = token;
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
    usageBucketSeconds: config.usage?.bucketSeconds ?? null,
  };
}

runProgram('gateway', main);
