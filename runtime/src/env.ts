/**
 * Configuration from environment variables, for the crawler and the demo
 * gateway alike: blank is unset, values are validated strictly, and a bad one
 * is a ConfigError that names the variable and shows the value safely.
 */
import { LOG_LEVELS, LogLevel } from './log';
import { redactUrlString } from './redact';

export type Env = NodeJS.ProcessEnv;

/**
 * Bad configuration: names the variable and its value as it may be shown:
 * URL credentials masked (a proxy URL's user:password), and the value of a
 * `*_PASSWORD` variable never shown at all.
 */
export class ConfigError extends Error {
  readonly value: string;
  constructor(
    readonly variable: string,
    value: string | undefined,
    readonly reason: string,
  ) {
    const shown = variable.endsWith('_PASSWORD') && value ? '***' : redactUrlString(value ?? '');
    super(`${variable}=${JSON.stringify(shown)}: ${reason}`);
    this.name = 'ConfigError';
    this.value = shown;
  }
}

/** The variable's value, trimmed; unset when blank. */
export function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

const DECIMAL = /^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/;
const INTEGER = /^[0-9]+$/;

/** A plain decimal number greater than 0 (no units, no sign, no hex). */
export function positiveNumber(env: Env, name: string, fallback: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!DECIMAL.test(raw) || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(name, env[name], 'must be a number greater than 0');
  }
  return value;
}

/** Decimal digits only, from min to max. */
export function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!INTEGER.test(raw) || value < min || value > max) {
    throw new ConfigError(name, env[name], `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** A TCP port; 0 is the caller's to give a meaning (off, or a free port). */
export function portNumber(env: Env, name: string, fallback: number): number {
  return integer(env, name, fallback, 0, 65_535);
}

/** true/1/yes or false/0/no, any case; unset is false. */
export function boolean(env: Env, name: string): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined || raw === 'false' || raw === '0' || raw === 'no') return false;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  throw new ConfigError(name, env[name], 'must be true or false');
}

/** One of `allowed`, any case. */
export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = allowed.find((a) => a === raw.toLowerCase());
  if (!value) throw new ConfigError(name, env[name], `must be one of ${allowed.join(', ')}`);
  return value;
}

export interface LogSettings {
  logLevel: LogLevel;
  logIntervalSeconds: number;
}

/** LOG_LEVEL (default info) and LOG_INTERVAL_SECONDS (period of the summary line, default 10). */
export function logSettings(env: Env): LogSettings {
  return {
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    logIntervalSeconds: positiveNumber(env, 'LOG_INTERVAL_SECONDS', 10),
  };
}

export interface MetricsSettings {
  /** 0 = no metrics server. */
  metricsPort: number;
  metricsHost?: string;
}

/** METRICS_PORT (the program's default; 0 for none) and METRICS_HOST (unset: every address). */
export function metricsSettings(env: Env, defaultPort: number): MetricsSettings {
  return {
    metricsPort: portNumber(env, 'METRICS_PORT', defaultPort),
    metricsHost: read(env, 'METRICS_HOST'),
  };
}
