import * as fs from 'node:fs';
import { CRAWLER_VERSION, DEFAULT_METRICS_PORT } from './defaults';
import { PROXY_VARIABLES, ProxyRoute, ProxyUrlError, parseProxyUrl, proxyFor } from './proxy';
import { ConfigError, Env, LogSettings, MetricsSettings, boolean, integer, logSettings, metricsSettings, oneOf, positiveNumber, read } from '../../runtime/src/env';
import { TargetSyntaxError, parseTargets } from './targets';

export { ConfigError } from '../../runtime/src/env';

export type HttpVersion = 'auto' | '1.1' | '2';
/** How a target is spoken to: fixed, or `auto` = ALPN decides (https only). */
export type TargetMode = 'http1.1' | 'h2' | 'h2c' | 'auto';

export interface Target {
  url: URL;
  weight: number;
  scheme: 'http' | 'https';
  /** host[:port] as in the URL, used as the `host` metric label and :authority. */
  host: string;
  /** Host name without IPv6 brackets, for sockets and SNI. */
  hostname: string;
  port: number;
  /** Path plus query. */
  path: string;
  mode: TargetMode;
  proxy?: ProxyRoute;
}

export interface TlsSettings {
  /** Extra trusted CA certificates (PEM) from CA_FILE, added to Node's defaults. */
  ca?: string;
  rejectUnauthorized: boolean;
}

export interface CrawlerConfig extends LogSettings, MetricsSettings {
  vendor: string;
  targets: Target[];
  requestsPerSecond: number;
  concurrency: number;
  durationSeconds?: number;
  requestTimeoutMs: number;
  httpVersion: HttpVersion;
  h2c: boolean;
  tls: TlsSettings;
  userAgent: string;
}

/** proxy-from-env reads process.env; point it at `env` for the lookup. */
function withProcessEnv<T>(env: Env, fn: () => T): T {
  if (env === process.env) return fn();
  const saved = process.env;
  process.env = env;
  try {
    return fn();
  } finally {
    process.env = saved;
  }
}

function targetMode(scheme: 'http' | 'https', httpVersion: HttpVersion, h2c: boolean): TargetMode {
  if (scheme === 'https') return httpVersion === '1.1' ? 'http1.1' : httpVersion === '2' ? 'h2' : 'auto';
  return h2c || httpVersion === '2' ? 'h2c' : 'http1.1';
}

/** Reads and validates the whole configuration; throws ConfigError. */
export function loadConfig(env: Env = process.env): CrawlerConfig {
  const vendor = read(env, 'PROXY_VENDOR');
  if (vendor === undefined) throw new ConfigError('PROXY_VENDOR', env.PROXY_VENDOR, 'is required');
  if (!/^[\x21-\x7e]+$/.test(vendor)) {
    throw new ConfigError('PROXY_VENDOR', env.PROXY_VENDOR, 'must be printable ASCII without spaces (it is sent as a header)');
  }

  const httpVersion = oneOf(env, 'HTTP_VERSION', ['auto', '1.1', '2'] as const, 'auto');
  const h2c = boolean(env, 'H2C');
  if (h2c && httpVersion === '1.1') throw new ConfigError('H2C', env.H2C, 'conflicts with HTTP_VERSION=1.1');

  for (const name of PROXY_VARIABLES) {
    const raw = read(env, name);
    if (raw === undefined) continue;
    try {
      parseProxyUrl(raw);
    } catch (err) {
      if (err instanceof ProxyUrlError) throw new ConfigError(name, raw, `is not a usable proxy URL: it ${err.message}`);
      throw err;
    }
  }

  const rawTargets = read(env, 'TARGETS');
  if (rawTargets === undefined) {
    throw new ConfigError('TARGETS', env.TARGETS, 'is required: comma-separated URL or URL=weight entries');
  }
  let specs;
  try {
    specs = parseTargets(rawTargets);
  } catch (err) {
    if (err instanceof TargetSyntaxError) throw new ConfigError('TARGETS', rawTargets, err.message);
    throw err;
  }
  const targets: Target[] = withProcessEnv(env, () =>
    specs.map(({ url, weight }) => {
      const scheme = url.protocol === 'https:' ? 'https' : 'http';
      return {
        url,
        weight,
        scheme,
        host: url.host,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port ? Number(url.port) : scheme === 'https' ? 443 : 80,
        path: `${url.pathname}${url.search}`,
        mode: targetMode(scheme, httpVersion, h2c),
        proxy: proxyFor(url),
      };
    }),
  );

  const caFile = read(env, 'CA_FILE');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = fs.readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new ConfigError('CA_FILE', caFile, `cannot be read: ${(err as Error).message}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError('CA_FILE', caFile, 'contains no PEM certificate');
    }
  }

  const userAgent = read(env, 'USER_AGENT') ?? `proxy-telemetry-crawler/${CRAWLER_VERSION}`;
  if (!/^[\x20-\x7e]+$/.test(userAgent)) throw new ConfigError('USER_AGENT', env.USER_AGENT, 'must be printable ASCII');

  const durationSeconds = read(env, 'DURATION_SECONDS') === undefined ? undefined : positiveNumber(env, 'DURATION_SECONDS', 0);

  return {
    vendor,
    targets,
    requestsPerSecond: positiveNumber(env, 'REQUESTS_PER_SECOND', 1),
    concurrency: integer(env, 'CONCURRENCY', 8, 1, 100_000),
    durationSeconds,
    requestTimeoutMs: integer(env, 'REQUEST_TIMEOUT_MS', 10_000, 1, 3_600_000),
    httpVersion,
    h2c,
    tls: { ca, rejectUnauthorized: !boolean(env, 'INSECURE_SKIP_VERIFY') },
    userAgent,
    ...metricsSettings(env, DEFAULT_METRICS_PORT),
    ...logSettings(env),
  };
}
