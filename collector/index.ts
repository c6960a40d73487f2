/**
 * The vendor usage collector, packaged for a ConfigMap in a stock Node image,
 * and the validation of its usage configuration, so that a construct checks
 * at synth time exactly what the collector checks at start.
 */
import { CRAWLER_IMAGE } from '../crawler';

export { bundleCollector } from './bundle';
export {
  COLLECTOR_ENV_VARIABLES,
  COLLECTOR_VERSION,
  CONFIG_FILE_VARIABLE as COLLECTOR_CONFIG_FILE_VARIABLE,
  DEFAULT_INTERVAL_SECONDS as COLLECTOR_DEFAULT_INTERVAL_SECONDS,
  DEFAULT_LOOKBACK_HOURS as COLLECTOR_DEFAULT_LOOKBACK_HOURS,
  DEFAULT_METRICS_PORT as COLLECTOR_METRICS_PORT,
  DEFAULT_TIMEOUT_SECONDS as COLLECTOR_DEFAULT_TIMEOUT_SECONDS,
} from './src/defaults';
export { BYTES_UNITS, UsageConfigError, credentialVariables, parseUsageConfig } from './src/usage-config';
export type {
  BytesUnit,
  FileUsageSource,
  SourceBase as UsageSourceBase,
  HttpUsageSource,
  OnDecrease,
  TimeFormat,
  UsageAuth,
  UsageConfig,
  UsageMapping,
  UsageSource,
} from './src/usage-config';

/** Pinned public image the bundle runs in: the crawler's (non-root, read-only root filesystem). */
export const COLLECTOR_IMAGE = CRAWLER_IMAGE;

/** Where the bundle is mounted; the container runs `node COLLECTOR_SCRIPT_PATH`. */
export const COLLECTOR_SCRIPT_PATH = '/opt/collector/collector.js';

/** uid of the `node` user in the official image. */
export const COLLECTOR_RUN_AS_USER = 1000;

/** Path of the collector's Prometheus metrics (on COLLECTOR_METRICS_PORT). */
export const COLLECTOR_METRICS_PATH = '/metrics';
