import { DEFAULT_ACCOUNT, MalformedError, amount, atPath, jsonObservations, readCsv, readJson } from '../../collector/src/records';
import { BYTES_UNITS, BytesUnit, UsageMapping } from '../../collector/src/usage-config';

const H13 = Date.parse('2026-12-06T13:00:00Z');

function mapping(m: Partial<UsageMapping> = {}): UsageMapping {
  return { records: '', bytes: ['bytes'], bytesUnit: 'B', timeZone: 'UTC', ...m };
}

function malformed(read: () => unknown): string {
  try {
    read();
  } catch (err) {
    if (err instanceof MalformedError) return err.message;
    throw err;
  }
  throw new Error('expected a MalformedError');
}

describe('usage exports', () => {
  test('units: decimal and binary multiples, rounded to whole bytes', () => {
    expect(BYTES_UNITS).toEqual({ B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 });
    const bytes = (value: unknown, bytesUnit: BytesUnit): number => jsonObservations([{ bytes: value }], mapping({ bytesUnit }))[0].bytes;
    expect(bytes(1.5, 'KB')).toBe(1500);
    expect(bytes('1.5', 'KiB')).toBe(1536);
    expect(bytes(0.1, 'GB')).toBe(100_000_000);
    expect(bytes('0.000001', 'GB')).toBe(1000);
    expect(bytes(2, 'TiB')).toBe(2 * 1024 ** 4);
    expect(bytes(1e-7, 'KB')).toBe(0);
    expect(bytes(12.4, 'B')).toBe(12);
  });

  test('amounts: JSON numbers or numeric strings, finite and not negative', () => {
    expect([0, 12, 1.5, '7', ' 7.25 ', '1e3', '.5'].map(amount)).toEqual([0, 12, 1.5, 7, 7.25, 1000, 0.5]);
    for (const bad of [-1, '-1', NaN, Infinity, '1,5', '12 GB', '', 'x', null, true, [], {}, '0x10']) expect({ bad, n: amount(bad) }).toEqual({ bad, n: undefined });
  });

  test('JSON: records at a dotted path, nested fields, summed byte fields, requests', () => {
    const body = {
      data: {
        usage: [
          { user: { name: 'team-a' }, hour: '2026-12-06T13:00:00Z', traffic: { up: 100, down: '900' }, requests: 4 },
          { user: { name: 'team-b' }, hour: H13 / 1000, traffic: { up: 0, down: 50 }, requests: '2' },
        ],
      },
    };
    const m = mapping({ records: 'data.usage', account: 'user.name', start: 'hour', bytes: ['traffic.up', 'traffic.down'], requests: 'requests' });
    expect(jsonObservations(body, m)).toEqual([
      { account: 'team-a', start: H13, bytes: 1000, requests: 4 },
      { account: 'team-b', start: H13, bytes: 50, requests: 2 },
    ]);
  });

  test('JSON: the body as the array; no account mapped is account "default"; numeric accounts are names; no start is cumulative', () => {
    expect(readJson('[{"bytes": 5}, {"bytes": 6}]', mapping())).toEqual([
      { account: DEFAULT_ACCOUNT, bytes: 5 },
      { account: DEFAULT_ACCOUNT, bytes: 6 },
    ]);
    expect(readJson('[{"id": 42, "bytes": 5}]', mapping({ account: 'id' }))[0].account).toBe('42');
    expect(readJson('{"usage": []}', mapping({ records: 'usage' }))).toEqual([]);
  });

  test('JSON: any bad record makes the whole export malformed, naming the record and field', () => {
    const m = mapping({ records: 'usage', account: 'account', start: 'hour', requests: 'requests' });
    const ok = { account: 'a', hour: '2026-12-06T13:00:00Z', bytes: 1, requests: 1 };
    const bad = (record: object): string => malformed(() => jsonObservations({ usage: [ok, record] }, m));
    expect(bad({ ...ok, bytes: -5 })).toBe('record 1: "bytes" is -5, not a number >= 0');
    expect(bad({ ...ok, bytes: 'lots' })).toBe('record 1: "bytes" is "lots", not a number >= 0');
    expect(bad({ ...ok, bytes: undefined })).toBe('record 1: "bytes" is missing');
    expect(bad({ ...ok, bytes: null })).toBe('record 1: "bytes" is missing');
    expect(bad({ ...ok, requests: undefined })).toBe('record 1: "requests" is missing');
    expect(bad({ ...ok, hour: 'yesterday' })).toBe('record 1: "hour" is "yesterday", not a timestamp');
    expect(bad({ ...ok, hour: -3600 })).toBe('record 1: "hour" is -3600, not a timestamp');
    expect(bad({ ...ok, account: '' })).toBe('record 1: "account" is missing');
    expect(bad({ ...ok, account: { id: 1 } })).toBe('record 1: "account" is {"id":1}, not a name');
    expect(malformed(() => jsonObservations({ usage: [ok, 'x'] }, m))).toBe('record 1: not an object');
    expect(malformed(() => jsonObservations({ usage: { a: 1 } }, m))).toBe('"usage" is not an array of records');
    expect(malformed(() => jsonObservations({ data: [] }, m))).toBe('"usage" is not an array of records');
    expect(malformed(() => jsonObservations({}, mapping()))).toBe('the body is not an array of records');
    expect(malformed(() => readJson('{"usage": [', m))).toMatch(/^not JSON: /);
  });

  test('JSON: timestamps without an offset are read in the mapping\'s time zone', () => {
    const m = mapping({ start: 'hour', timeZone: 'Asia/Kolkata' });
    expect(readJson('[{"hour": "2026-12-06 18:30", "bytes": 1}]', m)[0].start).toBe(H13);
  });

  test('atPath: own properties only, array indexes by number', () => {
    expect(atPath({ a: { b: [10, 20] } }, 'a.b.1')).toBe(20);
    expect(atPath({ a: 1 }, 'a.b')).toBeUndefined();
    expect(atPath({}, 'constructor')).toBeUndefined();
    expect(atPath({}, 'toString')).toBeUndefined();
  });

  test('CSV: header names the columns; quoted fields with commas, quotes and line breaks; BOM; CRLF', () => {
    const csv = [
      '\uFEFFSub-user,Hour (UTC),"Traffic (GB)",Requests,Note',
      '"team, a",2026-12-06 13:00,1.5,10,"said ""hi"""',
      'team-b,2026-12-06T13:00:00Z,"0.25",3,"two',
      'lines"',
      '',
    ].join('\r\n');
    const m: UsageMapping = { account: 'Sub-user', start: 'Hour (UTC)', bytes: ['Traffic (GB)'], bytesUnit: 'GB', requests: 'Requests', timeZone: 'UTC' };
    expect(readCsv(csv, m)).toEqual([
      { account: 'team, a', start: H13, bytes: 1_500_000_000, requests: 10 },
      { account: 'team-b', start: H13, bytes: 250_000_000, requests: 3 },
    ]);
  });

  test('CSV: a header without a mapped column, a ragged row, a bad cell or an unclosed quote is malformed', () => {
    const m: UsageMapping = { account: 'user', start: 'hour', bytes: ['up', 'down'], bytesUnit: 'B', timeZone: 'UTC' };
    expect(readCsv('user,hour,up,down\nu,2026-12-06T13:00Z,1,2\n', m)).toEqual([{ account: 'u', start: H13, bytes: 3 }]);
    expect(malformed(() => readCsv('user,hour,up\nu,2026-12-06T13:00Z,1\n', m))).toBe('the header lacks "down"');
    expect(malformed(() => readCsv('user,hour,up,down\nu,2026-12-06T13:00Z,1\n', m))).toMatch(/^not CSV: /);
    expect(malformed(() => readCsv('user,hour,up,down\nu,2026-12-06T13:00Z,1,-2\n', m))).toBe('row 1: "down" is "-2", not a number >= 0');
    expect(malformed(() => readCsv('user,hour,up,down\nu,2026-12-06T13:00Z,1,2\nv,,1,2\n', m))).toBe('row 2: "hour" is missing');
    expect(malformed(() => readCsv('user,hour,up,down\n"u,2026-12-06T13:00Z,1,2\n', m))).toMatch(/^not CSV: /);
    // A header alone is an export with no records.
    expect(readCsv('user,hour,up,down\n', m)).toEqual([]);
  });
});
