import { SHARD_LABEL } from '../../core/metric-contract';
import { CONTRACT_RULES_REGEX } from '../../core/rules';
import { PropertyError, checkDnsName, checkHttpUrl, checkNumber, parseDuration } from '../../core/validation';

/** Key of the password in a remote-write basic-auth Secret. */
export const DEFAULT_REMOTE_WRITE_PASSWORD_KEY = 'password';
/** Key of the token in a remote-write bearer-token Secret. */
export const DEFAULT_REMOTE_WRITE_TOKEN_KEY = 'token';

/** Basic auth for a remote-write endpoint; the password comes from a Secret mounted as a file. */
export interface RemoteWriteBasicAuth {
  /** Secret in the monitoring namespace holding the password. */
  readonly secretName: string;
  /** User name; it is written into the Prometheus configuration (a user name is not a credential). */
  readonly username: string;
  /**
   * Key of the password in the Secret.
   * @default DEFAULT_REMOTE_WRITE_PASSWORD_KEY ('password')
   */
  readonly passwordKey?: string;
}

/** A bearer token for a remote-write endpoint, from a Secret mounted as a file. */
export interface RemoteWriteBearerToken {
  /** Secret in the monitoring namespace holding the token. */
  readonly secretName: string;
  /**
   * Key of the token in the Secret.
   * @default DEFAULT_REMOTE_WRITE_TOKEN_KEY ('token')
   */
  readonly key?: string;
}

/** Tuning of the remote-write queue (Prometheus `queue_config`); unset fields keep Prometheus' defaults. */
export interface RemoteWriteQueueOptions {
  /**
   * Samples buffered per queue shard.
   * @default - Prometheus' default (10000)
   */
  readonly capacity?: number;
  /**
   * Most concurrent sending shards.
   * @default - Prometheus' default (50)
   */
  readonly maxShards?: number;
  /**
   * Fewest concurrent sending shards.
   * @default - Prometheus' default (1)
   */
  readonly minShards?: number;
  /**
   * Most samples per request.
   * @default - Prometheus' default (2000)
   */
  readonly maxSamplesPerSend?: number;
  /**
   * Longest wait before a partial batch is sent, e.g. '5s'.
   * @default - Prometheus' default ('5s')
   */
  readonly batchSendDeadline?: string;
  /**
   * First retry delay after a failed request.
   * @default - Prometheus' default ('30ms')
   */
  readonly minBackoff?: string;
  /**
   * Longest retry delay.
   * @default - Prometheus' default ('5s')
   */
  readonly maxBackoff?: string;
}

/** A horizontally scaled store that Prometheus sends samples to: Mimir, Thanos Receive, VictoriaMetrics, .... */
export interface RemoteWriteOptions {
  /**
   * Push endpoint, e.g. `http://mimir-distributor.mimir.svc:8080/api/v1/push`,
   * `http://thanos-receive.thanos.svc:19291/api/v1/receive` or `http://vminsert.vm.svc:8480/insert/0/prometheus/api/v1/write`.
   * Credentials never go into the URL.
   */
  readonly url: string;
  /**
   * Queue name in Prometheus' own metrics and logs.
   * @default - a hash of the entry, chosen by Prometheus
   */
  readonly name?: string;
  /**
   * Extra HTTP headers, e.g. `{ 'X-Scope-OrgID': 'crawlers' }` for a Mimir tenant. Not for credentials:
   * use `basicAuth` or `bearerToken`.
   * @default - none
   */
  readonly headers?: Record<string, string>;
  /**
   * Basic auth with the password from a Secret.
   * @default - none
   */
  readonly basicAuth?: RemoteWriteBasicAuth;
  /**
   * Bearer token from a Secret.
   * @default - none
   */
  readonly bearerToken?: RemoteWriteBearerToken;
  /**
   * Queue tuning.
   * @default - Prometheus' defaults
   */
  readonly queueConfig?: RemoteWriteQueueOptions;
  /**
   * Send only the contract: the recording rules (`proxy_vendor…:…`, `namespace:proxy_unattributed_bytes:rate5m`)
   * and the crawler job's `up` and `scrape_samples_post_metric_relabeling`, not the raw sidecar series.
   * @default false
   */
  readonly contractOnly?: boolean;
}

/**
 * Where remote-write Secrets are mounted in a Prometheus container (`<dir>/<secret>/<key>`).
 * @internal
 */
export const REMOTE_WRITE_SECRETS_DIR = '/etc/prometheus-secrets';

/**
 * Name of the queue a shard sends to the global Prometheus through; not available to users.
 * @internal
 */
export const GLOBAL_QUEUE_NAME = 'proxy-telemetry-global';

/**
 * Push path of Prometheus' own remote-write receiver (`--web.enable-remote-write-receiver`).
 * @internal
 */
export const RECEIVER_PATH = '/api/v1/write';

// Headers Prometheus sets itself or refuses in `headers` (prometheus/config: reservedHeaders); credentials
// belong in basicAuth/bearerToken.
const RESERVED_HEADERS = new Set(['authorization', 'host', 'content-encoding', 'content-length', 'content-type',
  'user-agent', 'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'www-authenticate',
  'accept-encoding', 'x-prometheus-remote-write-version', 'x-prometheus-remote-read-version']);


const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Validates remote-write entries at construct time; errors name `<property>[i].<field>`.
 * @internal
 */
export function checkRemoteWrite(property: string, entries: readonly RemoteWriteOptions[]): RemoteWriteOptions[] {
  if (!Array.isArray(entries)) throw new PropertyError(property, entries, 'must be a list of remote-write targets');
  const names = new Set<string>([GLOBAL_QUEUE_NAME]);
  return entries.map((rw, i) => {
    const p = `${property}[${i}]`;
    checkHttpUrl(`${p}.url`, rw.url);
    if (rw.name !== undefined) {
      if (typeof rw.name !== 'string' || !/^[a-zA-Z0-9][-_.a-zA-Z0-9]{0,62}$/.test(rw.name)) {
        throw new PropertyError(`${p}.name`, rw.name, 'must be 1-63 letters, digits, \'-\', \'_\' or \'.\'');
      }
      if (names.has(rw.name)) throw new PropertyError(`${p}.name`, rw.name, 'is already used by another remote-write queue');
      names.add(rw.name);
    }
    for (const [header, value] of Object.entries(rw.headers ?? {})) {
      if (!HEADER_NAME.test(header)) throw new PropertyError(`${p}.headers`, header, 'must be an HTTP header name');
      if (RESERVED_HEADERS.has(header.toLowerCase())) {
        throw new PropertyError(`${p}.headers`, header, 'is set by Prometheus or carries credentials: use basicAuth or bearerToken');
      }
      if (typeof value !== 'string' || /[\r\n]/.test(value)) throw new PropertyError(`${p}.headers.${header}`, value, 'must be a one-line string');
    }
    if (rw.basicAuth && rw.bearerToken) {
      throw new PropertyError(`${p}.bearerToken`, rw.bearerToken.secretName, 'cannot be combined with basicAuth');
    }
    if (rw.basicAuth) {
      checkDnsName(`${p}.basicAuth.secretName`, rw.basicAuth.secretName);
      if (typeof rw.basicAuth.username !== 'string' || rw.basicAuth.username === '' || /[\r\n]/.test(rw.basicAuth.username)) {
        throw new PropertyError(`${p}.basicAuth.username`, rw.basicAuth.username, 'must be a non-empty one-line string');
      }
      checkSecretKey(`${p}.basicAuth.passwordKey`, rw.basicAuth.passwordKey);
    }
    if (rw.bearerToken) {
      checkDnsName(`${p}.bearerToken.secretName`, rw.bearerToken.secretName);
      checkSecretKey(`${p}.bearerToken.key`, rw.bearerToken.key);
    }
    const q = rw.queueConfig ?? {};
    for (const field of ['capacity', 'maxShards', 'minShards', 'maxSamplesPerSend'] as const) {
      if (q[field] !== undefined) checkNumber(`${p}.queueConfig.${field}`, q[field]!, { min: 1, integer: true });
    }
    for (const field of ['batchSendDeadline', 'minBackoff', 'maxBackoff'] as const) {
      if (q[field] !== undefined) parseDuration(`${p}.queueConfig.${field}`, q[field]!);
    }
    if (q.minShards !== undefined && q.maxShards !== undefined && q.minShards > q.maxShards) {
      throw new PropertyError(`${p}.queueConfig.minShards`, q.minShards, `must be <= maxShards (${q.maxShards})`);
    }
    return rw;
  });
}

function checkSecretKey(property: string, key: string | undefined): void {
  if (key !== undefined && (typeof key !== 'string' || !SECRET_KEY.test(key))) {
    throw new PropertyError(property, key, 'must be a Secret key (letters, digits, \'-\', \'_\' or \'.\')');
  }
}

/**
 * Secrets a Prometheus must mount for these entries.
 * @internal
 */
export function remoteWriteSecretNames(entries: readonly RemoteWriteOptions[]): string[] {
  return [...new Set(entries.flatMap(rw => [rw.basicAuth?.secretName, rw.bearerToken?.secretName].filter((s): s is string => !!s)))];
}

/**
 * One `remote_write` entry of the Prometheus configuration.
 * @internal
 */
export function renderRemoteWrite(rw: RemoteWriteOptions, writeRelabelConfigs: Record<string, unknown>[]): Record<string, unknown> {
  const q = rw.queueConfig;
  const queue = q && {
    capacity: q.capacity, max_shards: q.maxShards, min_shards: q.minShards, max_samples_per_send: q.maxSamplesPerSend,
    batch_send_deadline: q.batchSendDeadline, min_backoff: q.minBackoff, max_backoff: q.maxBackoff,
  };
  const entry: Record<string, unknown> = {
    url: rw.url,
    name: rw.name,
    headers: rw.headers && Object.keys(rw.headers).length > 0 ? rw.headers : undefined,
    basic_auth: rw.basicAuth && {
      username: rw.basicAuth.username,
      password_file: `${REMOTE_WRITE_SECRETS_DIR}/${rw.basicAuth.secretName}/${rw.basicAuth.passwordKey ?? DEFAULT_REMOTE_WRITE_PASSWORD_KEY}`,
    },
    authorization: rw.bearerToken && {
      type: 'Bearer',
      credentials_file: `${REMOTE_WRITE_SECRETS_DIR}/${rw.bearerToken.secretName}/${rw.bearerToken.key ?? DEFAULT_REMOTE_WRITE_TOKEN_KEY}`,
    },
    queue_config: queue && dropUndefined(queue),
    write_relabel_configs: writeRelabelConfigs.length > 0 ? writeRelabelConfigs : undefined,
  };
  return dropUndefined(entry);
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Per-target health of the crawler jobs: what target and sample-limit alerts and the health dashboard read. */
function crawlerJobSeries(jobs: readonly string[]): string {
  return `(?:up|scrape_samples_post_metric_relabeling|scrape_duration_seconds);(?:${jobs.map(escapeRegex).join('|')})`;
}

/**
 * Keeps the contract's recording rules and the crawler jobs' `up`/sample counts; drops raw series.
 * @internal
 */
export function contractWriteRelabelConfigs(jobs: readonly string[]): Record<string, unknown>[] {
  return [{ source_labels: ['__name__', 'job'], regex: `(?:${CONTRACT_RULES_REGEX});.*|${crawlerJobSeries(jobs)}`, action: 'keep' }];
}

/**
 * A shard sends the global Prometheus exactly what the global rules read: the shard rules' outputs and `up`.
 * @internal
 */
export function shardToGlobalWriteRelabelConfigs(recordedNames: readonly string[], jobs: readonly string[]): Record<string, unknown>[] {
  const names = [...new Set(recordedNames)].map(escapeRegex).join('|');
  return [{ source_labels: ['__name__', 'job'], regex: `(?:${names});.*|${crawlerJobSeries(jobs)}`, action: 'keep' }];
}

/**
 * Series a shard recorded as partials (`*_shard:*`); the global layer sends the totals instead.
 * @internal
 */
export const DROP_SHARD_PARTIALS = { source_labels: ['__name__'], regex: '[^:]*_shard:.+', action: 'drop' } as const;

/**
 * The global Prometheus forwards only what it computed: series received from shards carry the shard label.
 * @internal
 */
export const DROP_SHARD_SERIES = { source_labels: [SHARD_LABEL], regex: '.+', action: 'drop' } as const;
