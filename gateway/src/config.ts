import * as fs from 'node:fs';
import { ConfigError, Env, LogSettings, MetricsSettings, integer, logSettings, metricsSettings, portNumber, read } from '../../runtime/src/env';
import { CaError, CertificateAuthority, generateDemoCa } from './ca';
import { DEFAULT_MAX_SITES, DEFAULT_METRICS_PORT, DEFAULT_PAGE_SIZES, DEFAULT_PROXY_PORT, DEFAULT_USAGE_BUCKET_SECONDS } from './defaults';
import { PageSize, PageSizeSyntaxError, parsePageSizes } from './pages';
import { PARTS, parseShare } from './limiter';
import { bucketSecondsProblem } from './usage';

export { ConfigError } from '../../runtime/src/env';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** The usage API (USAGE_PORT, USAGE_TOKEN, USAGE_BUCKET_SECONDS). */
export interface UsageSettings {
  /** Bound on HOST; 0 = a free port. */
  port: number;
  token: string;
  bucketSeconds: number;
}

export interface GatewayConfig extends LogSettings, MetricsSettings {
  vendor: string;
  port: number;
  host?: string;
  /** The site port, where the gateway plays the sites themselves; unset = none, 0 = a free port. */
  sitePort?: number;
  siteHost?: string;
  /** The banner port (a server-first TCP service for the deploy probe, bound on HOST); unset = none, 0 = a free port. */
  bannerPort?: number;
  pageSizes: PageSize[];
  /** Share of requests answered 429, in parts per PARTS (a million). */
  rateLimitParts: number;
  /** Unset: no proxy authentication. */
  credentials?: Credentials;
  ca: CertificateAuthority;
  /** `files` from CA_CERT_FILE / CA_KEY_FILE, or `generated` in memory at start. */
  caSource: 'files' | 'generated';
  maxSites: number;
  /** Unset: no usage API. */
  usage?: UsageSettings;
}

function readCredentials(env: Env): Credentials | undefined {
  const username = read(env, 'PROXY_USERNAME');
  // The password is used exactly as given: spaces may be part of it.
  const password = env.PROXY_PASSWORD ? env.PROXY_PASSWORD : undefined;
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined) throw new ConfigError('PROXY_USERNAME', env.PROXY_USERNAME, 'is required when PROXY_PASSWORD is set');
  if (password === undefined) throw new ConfigError('PROXY_PASSWORD', env.PROXY_PASSWORD, 'is required when PROXY_USERNAME is set');
  if (username.includes(':') || /[\x00-\x1f\x7f]/.test(username)) {
    throw new ConfigError('PROXY_USERNAME', env.PROXY_USERNAME, 'must not contain \':\' or control characters (Basic authentication)');
  }
  if (/[\x00-\x1f\x7f]/.test(password)) {
    throw new ConfigError('PROXY_PASSWORD', password, 'must not contain control characters (a trailing newline from `echo` in the Secret?)');
  }
  return { username, password };
}

function readPem(variable: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(variable, file, `cannot be read: ${(err as Error).message}`);
  }
}

function certificateAuthority(env: Env): { ca: CertificateAuthority; caSource: GatewayConfig['caSource'] } {
  const certFile = read(env, 'CA_CERT_FILE');
  const keyFile = read(env, 'CA_KEY_FILE');
  if (certFile === undefined && keyFile === undefined) {
    // Handy for a local run; the CA certificate is then served at /ca.pem.
    const generated = generateDemoCa({ commonName: 'proxy-telemetry demo CA (ephemeral)', validityDays: 30 });
    return { ca: CertificateAuthority.fromPem(generated.certPem, generated.keyPem), caSource: 'generated' };
  }
  if (certFile === undefined) throw new ConfigError('CA_CERT_FILE', env.CA_CERT_FILE, 'is required when CA_KEY_FILE is set');
  if (keyFile === undefined) throw new ConfigError('CA_KEY_FILE', env.CA_KEY_FILE, 'is required when CA_CERT_FILE is set');
  const certPem = readPem('CA_CERT_FILE', certFile);
  const keyPem = readPem('CA_KEY_FILE', keyFile);
  try {
    return { ca: CertificateAuthority.fromPem(certPem, keyPem), caSource: 'files' };
  } catch (err) {
    if (!(err instanceof CaError)) throw err;
    throw err.part === 'certificate'
      ? new ConfigError('CA_CERT_FILE', certFile, err.message)
      : new ConfigError('CA_KEY_FILE', keyFile, `${err.message}${err.message.includes('belong') ? ` in ${certFile}` : ''}`);
  }
}

function sitePortOf(env: Env, port: number, metricsPort: number): { sitePort?: number; siteHost?: string } {
  const siteHost = read(env, 'SITE_HOST');
  if (read(env, 'SITE_PORT') === undefined) {
    if (siteHost !== undefined) throw new ConfigError('SITE_HOST', env.SITE_HOST, 'has no effect without SITE_PORT');
    return {};
  }
  const sitePort = portNumber(env, 'SITE_PORT', 0);
  // 0 picks a free port, which cannot clash.
  if (sitePort !== 0 && sitePort === port) throw new ConfigError('SITE_PORT', env.SITE_PORT, `must differ from PORT (${port})`);
  if (sitePort !== 0 && sitePort === metricsPort) throw new ConfigError('SITE_PORT', env.SITE_PORT, `must differ from METRICS_PORT (${metricsPort})`);
  return { sitePort, siteHost };
}

/** A Bearer token (RFC 6750 b64token). */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** The token is a secret: a ConfigError shows it masked. */
const masked = (value: string | undefined): string | undefined => (value ? '***' : value);

function usageOf(env: Env, taken: ReadonlyArray<readonly [string, number | undefined]>): UsageSettings | undefined {
  if (read(env, 'USAGE_PORT') === undefined) {
    if (read(env, 'USAGE_TOKEN') !== undefined) throw new ConfigError('USAGE_TOKEN', masked(env.USAGE_TOKEN), 'has no effect without USAGE_PORT');
    if (read(env, 'USAGE_BUCKET_SECONDS') !== undefined) throw new ConfigError('USAGE_BUCKET_SECONDS', env.USAGE_BUCKET_SECONDS, 'has no effect without USAGE_PORT');
    return undefined;
  }
  const port = portNumber(env, 'USAGE_PORT', 0);
  // 0 picks a free port, which cannot clash.
  for (const [name, other] of taken) {
    if (port !== 0 && other !== undefined && port === other) throw new ConfigError('USAGE_PORT', env.USAGE_PORT, `must differ from ${name} (${other})`);
  }
  const token = read(env, 'USAGE_TOKEN');
  if (token === undefined) throw new ConfigError('USAGE_TOKEN', env.USAGE_TOKEN, 'is required when USAGE_PORT is set: the Bearer token of the usage API');
  if (!BEARER_TOKEN.test(token)) {
    throw new ConfigError('USAGE_TOKEN', masked(token), 'must be a Bearer token: letters, digits and - . _ ~ + /, then optional = padding');
  }
  const bucketSeconds = integer(env, 'USAGE_BUCKET_SECONDS', DEFAULT_USAGE_BUCKET_SECONDS, 1, 86_400);
  const problem = bucketSecondsProblem(bucketSeconds);
  if (problem) throw new ConfigError('USAGE_BUCKET_SECONDS', env.USAGE_BUCKET_SECONDS, problem);
  return { port, token, bucketSeconds };
}

/** Reads and validates the whole configuration; throws ConfigError. */
export function loadConfig(env: Env = process.env): GatewayConfig {
  const vendor = read(env, 'VENDOR');
  if (vendor === undefined) throw new ConfigError('VENDOR', env.VENDOR, 'is required: the vendor this gateway plays (the `vendor` metric label)');
  if (!/^[\x21-\x7e]+$/.test(vendor)) throw new ConfigError('VENDOR', env.VENDOR, 'must be printable ASCII without spaces');

  let pageSizes: PageSize[];
  const rawSizes = read(env, 'PAGE_SIZES') ?? DEFAULT_PAGE_SIZES;
  try {
    pageSizes = parsePageSizes(rawSizes);
  } catch (err) {
    if (err instanceof PageSizeSyntaxError) throw new ConfigError('PAGE_SIZES', rawSizes, err.message);
    throw err;
  }

  const rawShare = read(env, 'RATE_LIMIT_SHARE');
  const rateLimitParts = rawShare === undefined ? 0 : parseShare(rawShare);
  if (Number.isNaN(rateLimitParts)) {
    throw new ConfigError('RATE_LIMIT_SHARE', env.RATE_LIMIT_SHARE, `must be a number from 0 to 1 with at most ${Math.log10(PARTS)} decimals`);
  }

  const port = portNumber(env, 'PORT', DEFAULT_PROXY_PORT);
  const metrics = metricsSettings(env, DEFAULT_METRICS_PORT);
  const { metricsPort } = metrics;
  const { sitePort, siteHost } = sitePortOf(env, port, metricsPort);
  let bannerPort: number | undefined;
  if (read(env, 'BANNER_PORT') !== undefined) {
    bannerPort = portNumber(env, 'BANNER_PORT', 0);
    for (const [name, other] of [['PORT', port], ['METRICS_PORT', metricsPort], ['SITE_PORT', sitePort]] as const) {
      if (bannerPort !== 0 && other !== undefined && bannerPort === other) throw new ConfigError('BANNER_PORT', env.BANNER_PORT, `must differ from ${name} (${other})`);
    }
  }
  const usage = usageOf(env, [['PORT', port], ['METRICS_PORT', metricsPort], ['SITE_PORT', sitePort], ['BANNER_PORT', bannerPort]]);
  const maxSites = integer(env, 'MAX_SITES', DEFAULT_MAX_SITES, 1, 10_000);
  const log = logSettings(env);
  const credentials = readCredentials(env);
  // Last: the CA costs a file read and a key generation.
  const { ca, caSource } = certificateAuthority(env);

  return {
    vendor,
    port,
    host: read(env, 'HOST'),
    ...metrics,
    sitePort,
    siteHost,
    bannerPort,
    pageSizes,
    rateLimitParts,
    credentials,
    ca,
    caSource,
    maxSites,
    usage,
    ...log,
  };
}
