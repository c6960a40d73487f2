/**
 * A vendor's usage export (a JSON body or file, a CSV file) read into
 * observations: account, bucket start, bytes and requests. One bad record
 * makes the whole export malformed: a partial export applied would look like
 * withdrawn usage nowhere and missing usage everywhere else.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { parseTimestamp } from './time';
import { BYTES_UNITS, UsageMapping } from './usage-config';

/** What one record says, in bytes and requests. */
export interface Observation {
  account: string;
  /** Start of the bucket, ms since the epoch; undefined for a cumulative source. */
  start?: number;
  bytes: number;
  /** Only when the mapping names `requests`. */
  requests?: number;
}

/** The account of records when the mapping names none. */
export const DEFAULT_ACCOUNT = 'default';

/** The export cannot be read as the mapping says; nothing of it is applied. */
export class MalformedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedError';
  }
}

const DECIMAL = /^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/;

/** A JSON number or numeric string, finite and not negative; undefined otherwise. */
export function amount(value: unknown): number | undefined {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && DECIMAL.test(value.trim())) n = Number(value.trim());
  else return undefined;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** The value at a dotted path (`traffic.bytes`, `items.0`) of a JSON value. */
export function atPath(value: unknown, path: string): unknown {
  let current = value;
  for (const segment of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

type Getter = (record: unknown, field: string) => unknown;

function observation(record: unknown, get: Getter, mapping: UsageMapping, where: string): Observation {
  const field = (name: string): unknown => {
    const value = get(record, name);
    if (value === undefined || value === null || value === '') throw new MalformedError(`${where}: ${JSON.stringify(name)} is missing`);
    return value;
  };
  const number = (name: string): number => {
    const value = field(name);
    const n = amount(value);
    if (n === undefined) throw new MalformedError(`${where}: ${JSON.stringify(name)} is ${JSON.stringify(value)}, not a number >= 0`);
    return n;
  };

  let account = DEFAULT_ACCOUNT;
  if (mapping.account !== undefined) {
    const value = field(mapping.account);
    if (typeof value !== 'string' && typeof value !== 'number') throw new MalformedError(`${where}: ${JSON.stringify(mapping.account)} is ${JSON.stringify(value)}, not a name`);
    account = String(value);
  }
  const out: Observation = { account, bytes: 0 };
  if (mapping.start !== undefined) {
    const value = field(mapping.start);
    const start = parseTimestamp(value, mapping.timeZone);
    if (start === undefined) throw new MalformedError(`${where}: ${JSON.stringify(mapping.start)} is ${JSON.stringify(value)}, not a timestamp`);
    out.start = start;
  }
  // Vendors report fractions of a unit; usage is counted in whole bytes.
  const unit = BYTES_UNITS[mapping.bytesUnit];
  out.bytes = Math.round(mapping.bytes.reduce((sum, name) => sum + number(name) * unit, 0));
  if (mapping.requests !== undefined) out.requests = Math.round(number(mapping.requests));
  return out;
}

/** Observations from a parsed JSON export: the records array at `mapping.records`. */
export function jsonObservations(body: unknown, mapping: UsageMapping): Observation[] {
  const path = mapping.records ?? '';
  const records = path === '' ? body : atPath(body, path);
  if (!Array.isArray(records)) throw new MalformedError(path === '' ? 'the body is not an array of records' : `${JSON.stringify(path)} is not an array of records`);
  return records.map((record, i) => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new MalformedError(`record ${i}: not an object`);
    return observation(record, atPath, mapping, `record ${i}`);
  });
}

/** Observations from the text of a JSON export. */
export function readJson(text: string, mapping: UsageMapping): Observation[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new MalformedError(`not JSON: ${(err as Error).message}`);
  }
  return jsonObservations(body, mapping);
}

/** Observations from a CSV export with a header row naming the mapped columns. */
export function readCsv(text: string, mapping: UsageMapping): Observation[] {
  const wanted = [mapping.account, mapping.start, ...mapping.bytes, mapping.requests].filter((c): c is string => c !== undefined);
  let rows: Array<Record<string, string>>;
  try {
    rows = parseCsv(text, {
      bom: true,
      columns: (header: string[]) => {
        const names = header.map((h) => h.trim());
        const missing = wanted.filter((c) => !names.includes(c));
        if (missing.length > 0) throw new MalformedError(`the header lacks ${missing.map((c) => JSON.stringify(c)).join(', ')}`);
        return names;
      },
      skip_empty_lines: true,
      trim: true,
    }) as Array<Record<string, string>>;
  } catch (err) {
    if (err instanceof MalformedError) throw err;
    throw new MalformedError(`not CSV: ${(err as Error).message}`);
  }
  const get: Getter = (row, column) => (row as Record<string, string>)[column];
  return rows.map((row, i) => observation(row, get, mapping, `row ${i + 1}`));
}
