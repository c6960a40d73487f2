/** Shared by the collector itself and the packaging exports in collector/index.ts. */
export const COLLECTOR_VERSION = '0.1.0';
export const DEFAULT_METRICS_PORT = 9466;

/** Per-source defaults of the usage configuration. */
export const DEFAULT_INTERVAL_SECONDS = 60;
export const DEFAULT_TIMEOUT_SECONDS = 10;
export const DEFAULT_LOOKBACK_HOURS = 48;

/** The variable that names the JSON configuration file. */
export const CONFIG_FILE_VARIABLE = 'USAGE_CONFIG_FILE';

/**
 * Every environment variable the collector reads by a fixed name. The
 * credentials come from further variables the configuration names
 * (`tokenEnv`, `usernameEnv`, `passwordEnv`, `valueEnv`).
 */
export const COLLECTOR_ENV_VARIABLES = [
  'USAGE_CONFIG_FILE',
  'METRICS_PORT',
  'METRICS_HOST',
  'LOG_LEVEL',
  'LOG_INTERVAL_SECONDS',
] as const;
