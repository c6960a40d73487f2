/**
 * Timestamps in vendors' usage records, as milliseconds since the epoch:
 * ISO 8601 with an offset (exact), ISO-like wall times without one (read in
 * the source's IANA time zone, through Intl: no time-zone tables of our
 * own), and Unix seconds or milliseconds.
 */

/** Unix numbers above this are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973. */
export const MILLISECONDS_ABOVE = 1e11;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const UNSIGNED_NUMBER = /^[0-9]+(\.[0-9]+)?$/;
// Date, optional time (T or space), optional fraction, optional Z / UTC / offset.
const ISO_LIKE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?))?$/i;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether Intl knows `timeZone` (an IANA name such as `Europe/Berlin`, or `UTC`). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Offset of `timeZone` from UTC at the instant `epochMs`, in ms (east positive). */
export function zoneOffsetMs(timeZone: string, epochMs: number): number {
  const seconds = Math.floor(epochMs / 1000) * 1000;
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(seconds)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - seconds;
}

/**
 * The instant at which clocks in `timeZone` show `wallMs` (a wall time
 * written as if it were UTC). Like Temporal's `compatible`: a time that
 * occurs twice (clocks set back) is the earlier instant; a time that never
 * occurs (clocks set forward) is moved forward by the gap.
 */
export function zonedToEpochMs(wallMs: number, timeZone: string): number {
  if (timeZone === 'UTC') return wallMs;
  // Transitions are rare: the offsets a day either side are the candidates.
  const before = zoneOffsetMs(timeZone, wallMs - DAY_MS);
  const after = zoneOffsetMs(timeZone, wallMs + DAY_MS);
  const candidates = [wallMs - before, wallMs - after].filter((t) => t + zoneOffsetMs(timeZone, t) === wallMs);
  if (candidates.length > 0) return Math.min(...candidates);
  return wallMs - before;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * A record's timestamp as ms since the epoch, or undefined when it is not
 * one: a JSON number or numeric string is Unix seconds (ms above
 * MILLISECONDS_ABOVE); a string is ISO 8601, with its offset or, without
 * one, in `timeZone`. Negative and out-of-range values are not timestamps.
 */
export function parseTimestamp(value: unknown, timeZone: string): number | undefined {
  if (typeof value === 'number') return unixToMs(value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (UNSIGNED_NUMBER.test(text)) return unixToMs(Number(text));
  const m = ISO_LIKE.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0));
  const fraction = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  const wall = Date.UTC(year, month - 1, day, hour, minute, second) + fraction;
  const zone = m[8]?.toUpperCase();
  if (zone === undefined) return zonedToEpochMs(wall, timeZone);
  if (zone === 'Z' || zone === 'UTC') return wall;
  const digits = zone.slice(1).replace(':', '');
  const offsetHours = Number(digits.slice(0, 2));
  const offsetMinutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
  return zone.startsWith('-') ? wall + offset : wall - offset;
}

function unixToMs(value: number): number | undefined {
  if (!Number.isFinite(value) || value < 0) return undefined;
  return value > MILLISECONDS_ABOVE ? value : value * 1000;
}

export type TimeFormat = 'iso' | 'unix' | 'unix-ms';

/** An instant as a usage URL's `{from}` or `{to}`: ISO 8601 UTC to the second, Unix seconds, or Unix ms. */
export function formatInstant(epochMs: number, format: TimeFormat): string {
  const ms = Math.floor(epochMs);
  if (format === 'unix') return String(Math.floor(ms / 1000));
  if (format === 'unix-ms') return String(ms);
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}
