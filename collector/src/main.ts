/**
 * Entry point of the vendor usage collector: configuration from the
 * environment and the usage file it names, metrics server, one poller per
 * source, signal handling and exit codes (0 stopped, 1 runtime failure,
 * 2 bad configuration). It writes nothing to disk.
 */
import type { Logger } from '../../runtime/src/log';
import { EXIT_BAD_CONFIG, EXIT_FAILURE, EXIT_OK, logStop, onStopSignals, runProgram, startProgram } from '../../runtime/src/program';
import { Redactor } from '../../runtime/src/redact';
import { CollectorConfig, loadConfig } from './config';
import { COLLECTOR_VERSION } from './defaults';
import { CollectorMetrics } from './metrics';
import { PollTotals, SourcePoller } from './poller';

async function main(): Promise<number> {
  // A vendor's bad answer must not stop the others: unexpected errors are logged, not fatal.
  let loaded: CollectorConfig | undefined;
  const started = startProgram('collector', () => (loaded = loadConfig(process.env)), () => redactorFor(loaded!));
  if (!started) return EXIT_BAD_CONFIG;
  const { config, logger } = started;

  const metrics = new CollectorMetrics();
  const pollers = config.sources.map((s) => new SourcePoller(s, config.credentials.get(s.vendor), metrics.source(s), logger));
  const inFlight = (): number => pollers.filter((p) => p.inFlight).length;
  // Listening for signals before the port opens: a SIGTERM during start-up still stops cleanly.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) =>
    onStopSignals(logger, resolve, { message: 'second signal, exiting without waiting for polls', inFlight }),
  );

  const server = await metrics.serve(logger, config);
  if (!server) return EXIT_FAILURE;
  const startedAt = performance.now();
  logger.info('start', describe(config));
  for (const p of pollers) p.start();

  let last = pollers.map((p) => ({ ...p.totals }));
  const summary = setInterval(() => (last = logSummary(logger, pollers, last)), config.logIntervalSeconds * 1000);
  summary.unref();

  const signal = await stopSignal;
  logger.info('stopping', { signal, inFlight: inFlight() });
  await Promise.all(pollers.map((p) => p.stop()));
  clearInterval(summary);
  server.close();
  logStop(logger, `received ${signal}`, startedAt, { sources: Object.fromEntries(pollers.map((p, i) => [config.sources[i].vendor, p.totals])) });
  return EXIT_OK;
}

/** Per source, what happened since the last summary; nothing when no poll finished. */
function logSummary(logger: Logger, pollers: SourcePoller[], last: PollTotals[]): PollTotals[] {
  const now = pollers.map((p) => ({ ...p.totals }));
  const sources: Record<string, PollTotals> = {};
  pollers.forEach((p, i) => {
    const before = last[i];
    const t = now[i];
    if (t.polls === before.polls) return;
    sources[p.vendor] = {
      polls: t.polls - before.polls,
      errors: t.errors - before.errors,
      billedBytes: t.billedBytes - before.billedBytes,
      withdrawnBytes: t.withdrawnBytes - before.withdrawnBytes,
    };
  });
  if (Object.keys(sources).length > 0) logger.info('summary', { sources });
  return now;
}

/** Every credential the configuration names never reaches a log line, in any form the redactor knows. */
function redactorFor(config: CollectorConfig): Redactor {
  const redactor = new Redactor();
  for (const { secrets } of config.credentials.values()) {
    for (const secret of secrets) {
      const url = new URL('http://collector.invalid/');
      url.username = secret.username;
      url.password = secret.password;
      redactor.addUrlCredentials(url);
    }
  }
  return redactor;
}

function describe(config: CollectorConfig): Record<string, unknown> {
  return {
    version: COLLECTOR_VERSION,
    node: process.version,
    configFile: config.configFile,
    metricsPort: config.metricsPort,
    sources: config.sources.map((s) => ({
      vendor: s.vendor,
      kind: s.kind,
      ...(s.kind === 'http' ? { url: s.url, auth: s.auth?.type ?? 'none', timeoutSeconds: s.timeoutSeconds } : { path: s.path, format: s.format }),
      intervalSeconds: s.intervalSeconds,
      lookbackHours: s.lookbackHours,
      onDecrease: s.onDecrease,
      cumulative: s.mapping.start === undefined,
      requests: s.mapping.requests !== undefined,
    })),
  };
}

runProgram('collector', main);
