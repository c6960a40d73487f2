/**
 * Start-up and shutdown of our long-running programs (the crawler, the demo
 * gateway): exit codes, bad configuration, listeners that fail to open,
 * unexpected errors, SIGTERM/SIGINT, and the figures of the `stop` line.
 */
import type * as net from 'node:net';
import { ConfigError } from './env';
import { errorMessage } from './errors';
import { LogLevel, Logger, createLogger } from './log';
import { Redactor, redactUrlString } from './redact';

/** Done, or drained after a signal. */
export const EXIT_OK = 0;
/** Runtime failure, e.g. a port in use, or a second signal. */
export const EXIT_FAILURE = 1;
/** Bad configuration. */
export const EXIT_BAD_CONFIG = 2;

/**
 * Runs `main` and exits with the code it returns. A throw is a fatal error:
 * `<name>: fatal error: <message>` on stderr (URL credentials masked), exit 1.
 */
export function runProgram(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${name}: fatal error: ${redactUrlString(errorMessage(err))}\n`);
      process.exit(EXIT_FAILURE);
    },
  );
}

/**
 * The configuration `load` reads, or undefined when it is bad: then the
 * ConfigError is reported as an `invalid configuration` JSON line on stdout and
 * `<name>: invalid configuration: <message>` on stderr, both through the
 * redactor, and the program should exit with EXIT_BAD_CONFIG. Other errors are
 * thrown on.
 */
export function loadConfigOrReport<T>(name: string, load: () => T, redactor: Redactor): T | undefined {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger('error', redactor).error('invalid configuration', {
      variable: err.variable,
      value: err.value,
      reason: err.reason,
    });
    process.stderr.write(redactor.redact(`${name}: invalid configuration: ${err.message}\n`));
    return undefined;
  }
}

/** A long-running program keeps going: anything unexpected is logged, not fatal. */
export function logUnexpectedErrors(logger: Logger): void {
  process.on('uncaughtException', (err) => logger.error('unexpected error', { error: errorMessage(err) }));
  process.on('unhandledRejection', (err) => logger.error('unexpected rejection', { error: errorMessage(err) }));
}

/** Opens `server` on `port` (0: a free one) and `host`; resolves with the bound port, rejects when it cannot open. */
export function listenOn(server: net.Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/**
 * Opens a listener with `open`; when that fails, logs `message` with the port
 * and the error and gives undefined (the program should exit with EXIT_FAILURE).
 */
export async function openOrLog<T>(logger: Logger, message: string, port: number, open: () => Promise<T>): Promise<T | undefined> {
  try {
    return await open();
  } catch (err) {
    logger.error(message, { port, error: errorMessage(err) });
    return undefined;
  }
}

/**
 * The start of a long-running program: the configuration `load` reads, or
 * undefined when it is bad (reported by loadConfigOrReport through
 * `configRedactor`; exit with EXIT_BAD_CONFIG); then the program's logger, at
 * the configured level, through the redactor `redactor` makes once the
 * configuration is good, and unexpected errors logged from then on.
 */
export function startProgram<C extends { logLevel: LogLevel }>(
  name: string,
  load: () => C,
  redactor: () => Redactor,
  configRedactor: Redactor = new Redactor(),
): { config: C; logger: Logger } | undefined {
  const config = loadConfigOrReport(name, load, configRedactor);
  if (!config) return undefined;
  const logger = createLogger(config.logLevel, redactor());
  logUnexpectedErrors(logger);
  return { config, logger };
}

/** What a program says when a second stop signal cuts its draining short. */
export interface SecondSignal {
  /** The warning, e.g. `second signal, exiting without draining`. */
  message: string;
  /** Requests still in flight, for the warning. */
  inFlight(): number;
}

/**
 * SIGTERM and SIGINT: the first one calls `first` (the program stops taking
 * work and drains); a later one logs `second.message` as a warning with the
 * signal and the requests in flight, and exits with EXIT_FAILURE.
 */
export function onStopSignals(logger: Logger, first: (signal: NodeJS.Signals) => void, second: SecondSignal): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn(second.message, { signal, inFlight: second.inFlight() });
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    first(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Seconds since `startedAt` (a performance.now() value), to 10 ms. */
export function elapsedSeconds(startedAt: number): number {
  return Math.round((performance.now() - startedAt) / 10) / 100;
}

/**
 * The `stop` line: `reason`, the seconds since `startedAt` (a
 * performance.now() value), the program's `totals`, then CPU time and peak memory.
 */
export function logStop(logger: Logger, reason: string, startedAt: number, totals: object): void {
  logger.info('stop', { reason, elapsedSeconds: elapsedSeconds(startedAt), ...totals, ...resourceFields() });
}

/** CPU time and peak memory of the process, for the `stop` line. */
export function resourceFields(): Record<string, number> {
  const usage = process.resourceUsage();
  return {
    cpuSeconds: Math.round((usage.userCPUTime + usage.systemCPUTime) / 10_000) / 100,
    maxRssBytes: usage.maxRSS * 1024,
  };
}
