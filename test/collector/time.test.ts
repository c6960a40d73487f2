import { MILLISECONDS_ABOVE, formatInstant, isTimeZone, parseTimestamp, zonedToEpochMs } from '../../collector/src/time';

const utc = (iso: string): number => Date.parse(iso);

describe('record timestamps', () => {
  test('ISO 8601 with Z or an offset is exact, whatever the source time zone', () => {
    for (const zone of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
      expect(parseTimestamp('2026-12-06T13:00:00Z', zone)).toBe(utc('2026-12-06T13:00:00Z'));
      expect(parseTimestamp('2026-12-06T13:00:00.250Z', zone)).toBe(utc('2026-12-06T13:00:00.250Z'));
      expect(parseTimestamp('2026-12-06T18:30:00+05:30', zone)).toBe(utc('2026-12-06T13:00:00Z'));
      expect(parseTimestamp('2026-12-06T08:00:00-0500', zone)).toBe(utc('2026-12-06T13:00:00Z'));
      expect(parseTimestamp('2026-12-06 15:00+02', zone)).toBe(utc('2026-12-06T13:00:00Z'));
      expect(parseTimestamp('2026-12-06 13:00:00 UTC', zone)).toBe(utc('2026-12-06T13:00:00Z'));
    }
  });

  test('without an offset: UTC by default; a date alone is midnight', () => {
    expect(parseTimestamp('2026-12-06T13:00', 'UTC')).toBe(utc('2026-12-06T13:00:00Z'));
    expect(parseTimestamp('2026-12-06 13:00:00', 'UTC')).toBe(utc('2026-12-06T13:00:00Z'));
    expect(parseTimestamp('2026-12-06', 'UTC')).toBe(utc('2026-12-06T00:00:00Z'));
    expect(parseTimestamp(' 2026-12-06T13:00:00 ', 'UTC')).toBe(utc('2026-12-06T13:00:00Z'));
  });

  test('Asia/Kolkata: +05:30 all year', () => {
    expect(parseTimestamp('2026-12-06T18:30', 'Asia/Kolkata')).toBe(utc('2026-12-06T13:00:00Z'));
    expect(parseTimestamp('2026-06-01 00:00:00', 'Asia/Kolkata')).toBe(utc('2026-05-31T18:30:00Z'));
  });

  test('America/New_York around the change to summer time (2026-03-08, 02:00 → 03:00)', () => {
    const ny = (wall: string): number | undefined => parseTimestamp(wall, 'America/New_York');
    expect(ny('2026-03-08T00:00')).toBe(utc('2026-03-08T05:00:00Z')); // EST
    expect(ny('2026-03-08T01:00')).toBe(utc('2026-03-08T06:00:00Z')); // EST
    expect(ny('2026-03-08T03:00')).toBe(utc('2026-03-08T07:00:00Z')); // EDT: one hour after 01:00
    expect(ny('2026-03-08T04:00')).toBe(utc('2026-03-08T08:00:00Z'));
    // 02:30 never happens: moved forward by the gap, like Temporal's `compatible`.
    expect(ny('2026-03-08T02:30')).toBe(utc('2026-03-08T07:30:00Z'));
    expect(ny('2026-03-07T12:00')).toBe(utc('2026-03-07T17:00:00Z'));
    expect(ny('2026-03-09T12:00')).toBe(utc('2026-03-09T16:00:00Z'));
  });

  test('America/New_York around the change back (2026-11-01, 02:00 → 01:00): the hour that happens twice is the first one', () => {
    const ny = (wall: string): number | undefined => parseTimestamp(wall, 'America/New_York');
    expect(ny('2026-11-01T00:00')).toBe(utc('2026-11-01T04:00:00Z')); // EDT
    expect(ny('2026-11-01T01:00')).toBe(utc('2026-11-01T05:00:00Z')); // EDT, the first 01:00
    expect(ny('2026-11-01T01:59:59')).toBe(utc('2026-11-01T05:59:59Z'));
    expect(ny('2026-11-01T02:00')).toBe(utc('2026-11-01T07:00:00Z')); // EST
    expect(ny('2026-11-02T00:00')).toBe(utc('2026-11-02T05:00:00Z'));
    // Wall hours 00:00 to 23:00 of that day span 24 real hours.
    const starts = Array.from({ length: 24 }, (_, h) => ny(`2026-11-01T${String(h).padStart(2, '0')}:00`)!);
    expect(new Set(starts).size).toBe(24);
    expect((starts[23] - starts[0]) / 3_600_000).toBe(24);
  });

  test('zonedToEpochMs agrees with Intl for every hour of 2026 in a zone with DST', () => {
    const zone = 'Europe/Berlin';
    const fmt = new Intl.DateTimeFormat('sv-SE', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    const mismatches: string[] = [];
    for (let t = utc('2026-01-01T00:00:00Z'); t < utc('2027-01-01T00:00:00Z'); t += 3_600_000) {
      const wall = Date.parse(`${fmt.format(t).replace(' ', 'T')}Z`);
      const back = zonedToEpochMs(wall, zone);
      if (back !== t) mismatches.push(`${new Date(t).toISOString()} -> ${new Date(back).toISOString()}`);
    }
    // Every hour round-trips but the second 02:00 of 25 October, which maps to the first.
    expect(mismatches).toEqual(['2026-10-25T01:00:00.000Z -> 2026-10-25T00:00:00.000Z']);
  });

  test('Unix seconds, or milliseconds above 1e11; numbers or numeric strings', () => {
    const t = utc('2026-12-06T13:00:00Z');
    expect(parseTimestamp(t / 1000, 'UTC')).toBe(t);
    expect(parseTimestamp(String(t / 1000), 'America/New_York')).toBe(t);
    expect(parseTimestamp(t, 'UTC')).toBe(t);
    expect(parseTimestamp(String(t), 'UTC')).toBe(t);
    expect(parseTimestamp(1765026000.5, 'UTC')).toBe(1765026000500);
    expect(parseTimestamp(MILLISECONDS_ABOVE, 'UTC')).toBe(MILLISECONDS_ABOVE * 1000);
    expect(parseTimestamp(MILLISECONDS_ABOVE + 1, 'UTC')).toBe(MILLISECONDS_ABOVE + 1);
  });

  test('anything else is not a timestamp', () => {
    for (const bad of [-1, '-1', NaN, Infinity, '', 'yesterday', '2026-13-01', '2026-02-30', '2026-12-06T24:00', '2026-12-06T13:60', '06/12/2026', '2026-12-06T13:00+25:00', null, true, {}, [], '1e9']) {
      expect({ bad, parsed: parseTimestamp(bad, 'UTC') }).toEqual({ bad, parsed: undefined });
    }
  });

  test('time zones are checked through Intl', () => {
    expect(['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'].map(isTimeZone)).toEqual([true, true, true, true]);
    expect(['Mars/Olympus', 'EST+5', ''].map(isTimeZone)).toEqual([false, false, false]);
  });

  test('{from} and {to} as ISO (UTC, to the second), Unix seconds or ms', () => {
    const t = utc('2026-12-06T13:05:09.789Z');
    expect(formatInstant(t, 'iso')).toBe('2026-12-06T13:05:09Z');
    expect(formatInstant(t, 'unix')).toBe(String(Math.floor(t / 1000)));
    expect(formatInstant(t, 'unix-ms')).toBe(String(t));
  });
});
