import type { IConstruct } from 'constructs';

/**
 * Synth-time input checks. Every error quotes the property path and the offending value,
 * in the style of cdk8s-plus: `'replicas' (-1) must be >= 0`.
 */

/**
 * The property checks of one construct, reported together: each check runs; one that fails records its error and
 * yields a fallback so that construction goes on, and the construct reports every recorded error when the app
 * synthesizes (`node.addValidation`: cdk8s lists them all, each with the construct's path, before writing anything).
 */
export class PropertyChecks {
  private readonly errors: string[] = [];

  constructor(scope: IConstruct) {
    scope.node.addValidation({ validate: () => [...this.errors] });
  }

  /** `check()`, or `fallback` when it throws a PropertyError (recorded); other errors are bugs and propagate. */
  public value<T>(check: () => T, fallback: T): T {
    try {
      return check();
    } catch (err) {
      if (!(err instanceof PropertyError)) throw err;
      this.errors.push(err.message);
      return fallback;
    }
  }

  /** Runs a check for its error only. */
  public run(check: () => unknown): void {
    this.value(check, undefined);
  }

  /** Records an error without a check function. */
  public fail(property: string, value: unknown, reason: string): void {
    this.errors.push(new PropertyError(property, value, reason).message);
  }

  /** Whether every check so far passed. */
  public get ok(): boolean {
    return this.errors.length === 0;
  }
}

/** Thrown for invalid construct properties, before anything is written. */
export class PropertyError extends Error {
  constructor(public readonly property: string, public readonly value: unknown, reason: string) {
    super(`'${property}' (${formatValue(value)}) ${reason}`);
    this.name = 'PropertyError';
  }
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** RFC 1123 label: what Kubernetes accepts for namespace names and label values we build names from. */
export function checkDnsLabel(property: string, value: string): string {
  if (typeof value !== 'string' || value.length > 63 || !DNS_LABEL.test(value)) {
    throw new PropertyError(property, value, 'must be a DNS label: at most 63 lower-case letters, digits or \'-\', starting and ending with a letter or digit');
  }
  return value;
}

/** RFC 1123 subdomain, e.g. a host name. */
export function checkDnsName(property: string, value: string): string {
  if (typeof value !== 'string' || !DNS_SUBDOMAIN.test(value)) {
    throw new PropertyError(property, value, 'must be a DNS name (lower-case RFC 1123 subdomain, at most 253 characters)');
  }
  return value;
}

export function checkNumber(property: string, value: number, opts: { min?: number; minExclusive?: number; max?: number; integer?: boolean }): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new PropertyError(property, value, 'must be a finite number');
  }
  if (opts.integer && !Number.isInteger(value)) {
    throw new PropertyError(property, value, 'must be a whole number');
  }
  if (opts.min !== undefined && value < opts.min) {
    throw new PropertyError(property, value, `must be >= ${opts.min}`);
  }
  if (opts.minExclusive !== undefined && value <= opts.minExclusive) {
    throw new PropertyError(property, value, `must be > ${opts.minExclusive}`);
  }
  if (opts.max !== undefined && value > opts.max) {
    throw new PropertyError(property, value, `must be <= ${opts.max}`);
  }
  return value;
}

export function checkNonEmpty<T>(property: string, value: readonly T[] | undefined): readonly T[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new PropertyError(property, value, 'must list at least one entry');
  }
  return value;
}

export function checkUnique(property: string, values: readonly string[]): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) {
      throw new PropertyError(`${property}[${i}]`, v, 'is a duplicate');
    }
    seen.add(v);
  });
}

const PROM_DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const PROM_DURATION_UNITS_MS = [365 * 86400e3, 7 * 86400e3, 86400e3, 3600e3, 60e3, 1e3, 1];

/** Parses a Prometheus duration (`30d`, `1h30m`, `15s`) into milliseconds. */
export function parseDuration(property: string, value: string): number {
  const m = typeof value === 'string' && value !== '' ? PROM_DURATION.exec(value) : null;
  if (!m) {
    throw new PropertyError(property, value, 'must be a Prometheus duration such as \'30d\', \'12h\' or \'15s\'');
  }
  const ms = m.slice(1).reduce((sum, part, i) => sum + (part ? Number(part) * PROM_DURATION_UNITS_MS[i] : 0), 0);
  if (ms <= 0) {
    throw new PropertyError(property, value, 'must be longer than zero');
  }
  return ms;
}

const QUANTITY = /^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const QUANTITY_FACTORS: Record<string, number> = {
  '': 1, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'P': 1e15, 'E': 1e18,
  'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'Pi': 2 ** 50, 'Ei': 2 ** 60,
};

/** Parses a Kubernetes storage quantity (`50Gi`, `500M`) into bytes. */
export function parseStorageQuantity(property: string, value: string): number {
  const m = typeof value === 'string' ? QUANTITY.exec(value) : null;
  if (!m || Number(m[1]) <= 0) {
    throw new PropertyError(property, value, 'must be a positive Kubernetes quantity such as \'50Gi\' or \'500Mi\'');
  }
  return Number(m[1]) * QUANTITY_FACTORS[m[3] ?? ''];
}

/** Prometheus storage size for --storage.tsdb.retention.size (`512MB`, `50GB`). */
export function checkRetentionSize(property: string, value: string): string {
  if (typeof value !== 'string' || !/^\d+(\.\d+)?(B|KB|MB|GB|TB|PB|EB)$/.test(value)) {
    throw new PropertyError(property, value, 'must be a Prometheus byte size such as \'45GB\' or \'512MB\'');
  }
  return value;
}

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Kubernetes label keys (`[prefix/]name`) and values; returns a copy. */
export function checkLabels(property: string, labels: Record<string, string>): Record<string, string> {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new PropertyError(property, labels, 'must be a map of label keys to values');
  }
  for (const [key, value] of Object.entries(labels)) {
    checkLabelKey(`${property} key`, key);
    checkLabelValue(`${property}.${key}`, value);
  }
  return { ...labels };
}

export function checkLabelKey(property: string, key: string): string {
  const slash = typeof key === 'string' ? key.lastIndexOf('/') : -1;
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (typeof key !== 'string' || !LABEL_NAME.test(name) || (prefix !== undefined && !DNS_SUBDOMAIN.test(prefix))) {
    throw new PropertyError(property, key, 'must be a Kubernetes label key: [DNS prefix/]name of at most 63 letters, digits, \'-\', \'_\' or \'.\'');
  }
  return key;
}

export function checkLabelValue(property: string, value: string): string {
  if (typeof value !== 'string' || (value !== '' && !LABEL_NAME.test(value))) {
    throw new PropertyError(property, value, 'must be a Kubernetes label value: at most 63 letters, digits, \'-\', \'_\' or \'.\'');
  }
  return value;
}

/** Checks an absolute http(s) URL without credentials (those belong in a Secret); returns it. */
export function checkHttpUrl(property: string, url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || /\s/.test(url)) {
    throw new PropertyError(property, url, 'must be an http(s) URL');
  }
  if (parsed.username || parsed.password) {
    throw new PropertyError(property, url.replace(/\/\/[^@/]*@/, '//***@'), 'must not contain credentials: keep them in a Secret');
  }
  return url;
}

/** The TCP port of an absolute http(s) URL without credentials. */
export function urlPort(property: string, value: string): number {
  const url = new URL(checkHttpUrl(property, value));
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** Checks a Grafana unit id of a currency ('currencyUSD', 'currency:CHF'). */
export function checkCurrencyUnit(property: string, unit: string): string {
  if (typeof unit !== 'string' || !/^currency([A-Z]{3}|:[^"\\]{1,8})$/.test(unit)) {
    throw new PropertyError(property, unit, "must be a Grafana currency unit such as 'currencyUSD', 'currencyEUR' or 'currency:CHF'");
  }
  return unit;
}
