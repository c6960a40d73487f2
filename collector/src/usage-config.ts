/**
 * The usage configuration: which vendor usage sources to poll and how to
 * read them. Validated strictly, by the collector at start and by the
 * construct at synth time with this same code: every error names the JSON
 * path and the bad value, and unknown keys are errors. Pure: no I/O, no
 * environment (credentials are only named here, never given).
 */
import { COLLECTOR_ENV_VARIABLES, DEFAULT_INTERVAL_SECONDS, DEFAULT_LOOKBACK_HOURS, DEFAULT_TIMEOUT_SECONDS } from './defaults';
import { TimeFormat, formatInstant, isTimeZone } from './time';

export type { TimeFormat } from './time';

/** What a bucket's value going down means: a revision of what was billed, or the vendor's counter for it restarting. */
export type OnDecrease = 'revision' | 'reset';
/** Decimal (KB = 1000 B) or binary (KiB = 1024 B). */
export type BytesUnit = 'B' | 'KB' | 'MB' | 'GB' | 'TB' | 'KiB' | 'MiB' | 'GiB' | 'TiB';

export const BYTES_UNITS: Readonly<Record<BytesUnit, number>> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

const TIME_FORMATS: readonly TimeFormat[] = ['iso', 'unix', 'unix-ms'];
const ON_DECREASE: readonly OnDecrease[] = ['revision', 'reset'];
const KINDS = ['http', 'file'] as const;
const FORMATS = ['csv', 'json'] as const;
const AUTH_TYPES = ['bearer', 'basic', 'header'] as const;

/** Credentials, by the names of the environment variables that hold them (filled from Secrets). */
export type UsageAuth =
  | { type: 'bearer'; tokenEnv: string }
  | { type: 'basic'; usernameEnv: string; passwordEnv: string }
  | { type: 'header'; name: string; valueEnv: string };

/** Where the figures are in each record: dotted field paths (JSON) or column names (CSV). */
export interface UsageMapping {
  /** Dotted path of the records array in a JSON body; '' = the body is the array. Absent for CSV. */
  records?: string;
  /** Absent: every record is account `default`. */
  account?: string;
  /** Start of the bucket. Absent: each record is a cumulative counter per account. */
  start?: string;
  /** Summed (e.g. upload and download). */
  bytes: string[];
  requests?: string;
  bytesUnit: BytesUnit;
  /** IANA zone of timestamps written without an offset. */
  timeZone: string;
}

export interface SourceBase {
  /** The `proxy_vendor` label: a DNS label, unique across sources. */
  vendor: string;
  intervalSeconds: number;
  /** The window requested (http) and kept. */
  lookbackHours: number;
  onDecrease: OnDecrease;
  mapping: UsageMapping;
}

export interface HttpUsageSource extends SourceBase {
  kind: 'http';
  /** http(s) URL; `{from}` and `{to}` are replaced by the window, written as `timeFormat` says. */
  url: string;
  timeFormat: TimeFormat;
  auth?: UsageAuth;
  timeoutSeconds: number;
}

export interface FileUsageSource extends SourceBase {
  kind: 'file';
  /** Absolute path, e.g. a volume another container writes the vendor's export to. */
  path: string;
  format: 'csv' | 'json';
}

export type UsageSource = HttpUsageSource | FileUsageSource;

/** The parsed configuration: defaults filled in. Written back as JSON, it parses to itself. */
export interface UsageConfig {
  sources: UsageSource[];
}

/**
 * A bad configuration value: the JSON path (e.g. `sources[1].mapping.bytesUnit`),
 * the value as shown, and why. The message reads
 * `sources[1].mapping.bytesUnit="kB": must be one of ...`, as the
 * collector's ConfigError for an environment variable would.
 */
export class UsageConfigError extends Error {
  readonly value: string;
  constructor(
    readonly path: string,
    value: unknown,
    readonly reason: string,
  ) {
    const shown = show(value);
    super(`${path}=${JSON.stringify(shown)}: ${reason}`);
    this.name = 'UsageConfigError';
    this.value = shown;
  }
}

function show(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  const json = JSON.stringify(value);
  return json.length > 200 ? `${json.slice(0, 200)}...` : json;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PLACEHOLDER = /\{[^}]*\}/g;
// Headers the collector sets itself, or that only the transport may set.
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'user-agent', 'accept']);

type Json = Record<string, unknown>;

/** The path of the whole document in messages. */
const ROOT = '(root)';

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as an object, with only `allowed` keys when given. */
function object(path: string, value: unknown, allowed?: readonly string[]): Json {
  if (!isObject(value)) throw new UsageConfigError(path, value, value === undefined ? 'is required' : 'must be an object');
  if (!allowed) return value;
  for (const key of Object.keys(value)) {
    // JSON has no undefined: a key set to it (by a JavaScript caller) is absent.
    if (!allowed.includes(key) && value[key] !== undefined) throw new UsageConfigError(path === ROOT ? key : `${path}.${key}`, value[key], `is not a known property (known: ${allowed.join(', ')})`);
  }
  return value;
}

function string(path: string, value: unknown, options: { allowEmpty?: boolean } = {}): string {
  if (typeof value !== 'string') throw new UsageConfigError(path, value, value === undefined ? 'is required' : 'must be a string');
  if (!options.allowEmpty && value.trim() === '') throw new UsageConfigError(path, value, 'must not be empty');
  return value;
}

function oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new UsageConfigError(path, value, `must be one of ${allowed.join(', ')}`);
  return found;
}

function integer(path: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageConfigError(path, value, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function seconds(path: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new UsageConfigError(path, value, `must be a number greater than 0, at most ${max}`);
  }
  return value;
}

function envName(path: string, value: unknown): string {
  const name = string(path, value);
  if (!ENV_NAME.test(name)) throw new UsageConfigError(path, value, 'must be an environment variable name (letters, digits, _; not starting with a digit)');
  if ((COLLECTOR_ENV_VARIABLES as readonly string[]).includes(name)) throw new UsageConfigError(path, value, 'must not be one of the collector\'s own variables');
  return name;
}

/** A dotted field path: non-empty segments. */
function fieldPath(path: string, value: unknown): string {
  const field = string(path, value);
  if (field.split('.').some((s) => s === '')) throw new UsageConfigError(path, value, 'must be a dotted field path without empty segments, e.g. traffic.bytes');
  return field;
}

function column(path: string, value: unknown): string {
  return string(path, value);
}

function parseAuth(path: string, value: unknown): UsageAuth {
  const type = oneOf(`${path}.type`, object(path, value).type, AUTH_TYPES);
  if (type === 'bearer') {
    const a = object(path, value, ['type', 'tokenEnv']);
    return { type, tokenEnv: envName(`${path}.tokenEnv`, a.tokenEnv) };
  }
  if (type === 'basic') {
    const a = object(path, value, ['type', 'usernameEnv', 'passwordEnv']);
    return { type, usernameEnv: envName(`${path}.usernameEnv`, a.usernameEnv), passwordEnv: envName(`${path}.passwordEnv`, a.passwordEnv) };
  }
  const a = object(path, value, ['type', 'name', 'valueEnv']);
  const name = string(`${path}.name`, a.name);
  if (!HTTP_TOKEN.test(name)) throw new UsageConfigError(`${path}.name`, name, 'must be an HTTP header name');
  if (RESERVED_HEADERS.has(name.toLowerCase())) throw new UsageConfigError(`${path}.name`, name, 'is set by the collector or the transport');
  return { type, name, valueEnv: envName(`${path}.valueEnv`, a.valueEnv) };
}

function parseUrl(path: string, value: unknown): string {
  const url = string(path, value);
  for (const placeholder of url.match(PLACEHOLDER) ?? []) {
    if (placeholder !== '{from}' && placeholder !== '{to}') throw new UsageConfigError(path, url, `has an unknown placeholder ${placeholder} (known: {from}, {to})`);
  }
  let parsed: URL;
  try {
    parsed = new URL(expandUrl(url, 0, 0, 'iso'));
  } catch {
    throw new UsageConfigError(path, url, 'is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageConfigError(path, url, 'must be an http:// or https:// URL');
  // Credentials come from Secrets through auth, never from the configuration.
  if (parsed.username || parsed.password) throw new UsageConfigError(path, url.replace(/\/\/[^/?#]*@/, '//***@'), 'must not contain credentials: use auth');
  return url;
}

/** The source's URL for the window [from, to]. */
export function expandUrl(url: string, fromMs: number, toMs: number, format: TimeFormat): string {
  return url.replaceAll('{from}', formatInstant(fromMs, format)).replaceAll('{to}', formatInstant(toMs, format));
}

const MAPPING_KEYS = ['records', 'account', 'start', 'bytes', 'requests', 'bytesUnit', 'timeZone'];

function parseMapping(path: string, value: unknown, csv: boolean): UsageMapping {
  const m = object(path, value, csv ? MAPPING_KEYS.filter((k) => k !== 'records') : MAPPING_KEYS);
  const field = csv ? column : fieldPath;
  const mapping: UsageMapping = {
    bytes: [],
    bytesUnit: oneOf(`${path}.bytesUnit`, m.bytesUnit, Object.keys(BYTES_UNITS) as BytesUnit[], 'B'),
    timeZone: 'UTC',
  };
  if (!csv) {
    const records = m.records === undefined ? '' : string(`${path}.records`, m.records, { allowEmpty: true });
    if (records !== '') fieldPath(`${path}.records`, records);
    mapping.records = records;
  }
  if (m.account !== undefined) mapping.account = field(`${path}.account`, m.account);
  if (m.start !== undefined) mapping.start = field(`${path}.start`, m.start);
  if (Array.isArray(m.bytes)) {
    if (m.bytes.length === 0) throw new UsageConfigError(`${path}.bytes`, m.bytes, 'must name at least one field');
    mapping.bytes = m.bytes.map((b, i) => field(`${path}.bytes[${i}]`, b));
  } else {
    mapping.bytes = [field(`${path}.bytes`, m.bytes)];
  }
  if (m.requests !== undefined) mapping.requests = field(`${path}.requests`, m.requests);
  if (m.timeZone !== undefined) {
    const zone = string(`${path}.timeZone`, m.timeZone);
    if (!isTimeZone(zone)) throw new UsageConfigError(`${path}.timeZone`, zone, 'must be an IANA time zone, e.g. UTC or Europe/Berlin');
    mapping.timeZone = zone;
  }
  return mapping;
}

const COMMON_KEYS = ['vendor', 'kind', 'intervalSeconds', 'lookbackHours', 'onDecrease', 'mapping'];

function parseSource(path: string, value: unknown): UsageSource {
  const kind = oneOf(`${path}.kind`, object(path, value).kind, KINDS);
  const s = object(path, value, kind === 'http' ? [...COMMON_KEYS, 'url', 'timeFormat', 'auth', 'timeoutSeconds'] : [...COMMON_KEYS, 'path', 'format']);
  const vendor = string(`${path}.vendor`, s.vendor);
  if (!DNS_LABEL.test(vendor)) throw new UsageConfigError(`${path}.vendor`, vendor, 'must be a DNS label: lower-case letters, digits and -, at most 63');
  const base = {
    vendor,
    intervalSeconds: integer(`${path}.intervalSeconds`, s.intervalSeconds, DEFAULT_INTERVAL_SECONDS, 1, 86_400),
    lookbackHours: integer(`${path}.lookbackHours`, s.lookbackHours, DEFAULT_LOOKBACK_HOURS, 1, 24 * 366),
    onDecrease: oneOf(`${path}.onDecrease`, s.onDecrease, ON_DECREASE, 'revision'),
  };
  if (kind === 'http') {
    const url = parseUrl(`${path}.url`, s.url);
    const timeFormat = oneOf(`${path}.timeFormat`, s.timeFormat, TIME_FORMATS, 'iso');
    const auth = s.auth === undefined ? undefined : parseAuth(`${path}.auth`, s.auth);
    const timeoutSeconds = seconds(`${path}.timeoutSeconds`, s.timeoutSeconds, DEFAULT_TIMEOUT_SECONDS, 300);
    const mapping = parseMapping(`${path}.mapping`, s.mapping, false);
    return { ...base, kind, url, timeFormat, ...(auth ? { auth } : {}), timeoutSeconds, mapping };
  }
  const file = string(`${path}.path`, s.path);
  if (!file.startsWith('/')) throw new UsageConfigError(`${path}.path`, file, 'must be an absolute path');
  const format = oneOf(`${path}.format`, s.format, FORMATS);
  return { ...base, kind, path: file, format, mapping: parseMapping(`${path}.mapping`, s.mapping, format === 'csv') };
}

/** Validates a usage configuration (the parsed JSON) and fills in the defaults; throws UsageConfigError. */
export function parseUsageConfig(json: unknown): UsageConfig {
  const root = object(ROOT, json, ['sources']);
  if (!Array.isArray(root.sources) || root.sources.length === 0) throw new UsageConfigError('sources', root.sources, 'must be a non-empty array');
  const sources = root.sources.map((s, i) => parseSource(`sources[${i}]`, s));
  const seen = new Map<string, number>();
  sources.forEach((s, i) => {
    const first = seen.get(s.vendor);
    if (first !== undefined) throw new UsageConfigError(`sources[${i}].vendor`, s.vendor, `is already the vendor of sources[${first}]`);
    seen.set(s.vendor, i);
  });
  return { sources };
}

/** The environment variables a configuration names for credentials: the pod must set each (from a Secret). */
export function credentialVariables(config: UsageConfig): string[] {
  const names = new Set<string>();
  for (const s of config.sources) {
    if (s.kind !== 'http' || !s.auth) continue;
    const a = s.auth;
    const found = a.type === 'bearer' ? [a.tokenEnv] : a.type === 'basic' ? [a.usernameEnv, a.passwordEnv] : [a.valueEnv];
    found.forEach((n) => names.add(n));
  }
  return [...names];
}
