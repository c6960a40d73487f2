/** Shared by the gateway itself and the packaging exports in gateway/index.ts. */
export const GATEWAY_VERSION = '0.1.0';
export const DEFAULT_PROXY_PORT = 8080;
export const DEFAULT_METRICS_PORT = 9102;
/** bytes=weight: mostly small and mid-sized pages, a few large ones (~25 KB on average). */
export const DEFAULT_PAGE_SIZES = '4096=3,16384=5,131072=1';
/** Distinct `site` label values before further sites are counted as `other`. */
export const DEFAULT_MAX_SITES = 200;
/** Path of the usage API (on USAGE_PORT). */
export const USAGE_PATH = '/v1/usage';
/** Length of a usage bucket: an hour, as vendors report usage. */
export const DEFAULT_USAGE_BUCKET_SECONDS = 3600;
/** The account of every request when no proxy credentials are configured. */
export const DEFAULT_ACCOUNT = 'default';

/** Every environment variable the gateway reads. */
export const GATEWAY_ENV_VARIABLES = [
  'VENDOR',
  'PORT',
  'HOST',
  'METRICS_PORT',
  'METRICS_HOST',
  'SITE_PORT',
  'SITE_HOST',
  'BANNER_PORT',
  'PAGE_SIZES',
  'RATE_LIMIT_SHARE',
  'PROXY_USERNAME',
  'PROXY_PASSWORD',
  'CA_CERT_FILE',
  'CA_KEY_FILE',
  'USAGE_PORT',
  'USAGE_TOKEN',
  'USAGE_BUCKET_SECONDS',
  'MAX_SITES',
  'LOG_LEVEL',
  'LOG_INTERVAL_SECONDS',
] as const;
