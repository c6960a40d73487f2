/**
 * The few DER (ASN.1 Distinguished Encoding Rules) encodings and the minimal
 * reader that building X.509 certificates needs. Signing and keys are left to
 * node:crypto; this module only lays out bytes.
 *
 * Why not a library: every X.509 library measured (@peculiar/x509, pkijs,
 * node-forge's x509 modules) is larger on its own than the 230 KB the whole
 * gateway bundle may take; see gateway/README.md.
 */

/** Universal tags used here. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One tag-length-value element. */
export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(TAG.SEQUENCE, ...items);

/** SET OF: DER wants the elements sorted by their encodings. */
export const set = (...items: Buffer[]): Buffer => tlv(TAG.SET, ...[...items].sort(Buffer.compare));

/** Context-specific, constructed: `[n] EXPLICIT`. */
export const explicit = (n: number, ...content: Buffer[]): Buffer => tlv(0xa0 | n, ...content);

/** Context-specific, primitive: `[n] IMPLICIT` over a primitive type. */
export const implicit = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);

export const nullValue = (): Buffer => tlv(TAG.NULL);
export const boolean = (value: boolean): Buffer => tlv(TAG.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
export const octetString = (bytes: Buffer): Buffer => tlv(TAG.OCTET_STRING, bytes);
export const utf8String = (text: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(text, 'utf8'));

/** BIT STRING of whole bytes (keys, signatures): no unused bits. */
export const bitString = (bytes: Buffer): Buffer => tlv(TAG.BIT_STRING, Buffer.from([0]), bytes);

/**
 * A named-bit-list BIT STRING such as KeyUsage: `bits` are bit numbers
 * (0 = most significant bit of the first byte); DER drops trailing zero bits.
 */
export function namedBits(bits: number[]): Buffer {
  if (bits.length === 0) return tlv(TAG.BIT_STRING, Buffer.from([0]));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)] |= 0x80 >> bit % 8;
  return tlv(TAG.BIT_STRING, Buffer.from([7 - (highest % 8)]), bytes);
}

/** INTEGER from unsigned big-endian bytes (serial numbers). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  const value = trimmed.length === 0 ? Buffer.from([0]) : trimmed;
  // A set high bit would read as negative: prefix a zero byte.
  return tlv(TAG.INTEGER, value[0] & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
}

export function smallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`smallInteger: ${value} out of range`);
  const bytes: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return unsignedInteger(Buffer.from(bytes));
}

/** OBJECT IDENTIFIER from dotted text, e.g. `2.5.4.3`. */
export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  if (parts.length < 2 || parts.some((p) => !Number.isInteger(p) || p < 0)) throw new Error(`oid: ${JSON.stringify(dotted)} is not a dotted OID`);
  const bytes: number[] = [parts[0] * 40 + parts[1]];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let n = Math.floor(part / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(TAG.OID, Buffer.from(bytes));
}

/**
 * X.509 Time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime from
 * 2050, both in whole seconds of UTC.
 */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new RangeError(`time: year ${year} cannot be encoded`);
  return year < 2050 ? tlv(TAG.UTC_TIME, Buffer.from(`${digits.slice(2)}Z`)) : tlv(TAG.GENERALIZED_TIME, Buffer.from(`${digits}Z`));
}

/** One element found by `readElement`. */
export interface Element {
  tag: number;
  /** The whole element: tag, length and content. */
  raw: Buffer;
  content: Buffer;
}

/** Reads the element at `offset` (definite lengths only, as DER has). */
export function readElement(buffer: Buffer, offset = 0): Element {
  const fail = (why: string): never => {
    throw new Error(`DER: ${why} at offset ${offset}`);
  };
  if (offset + 2 > buffer.length) fail('truncated header');
  const tag = buffer[offset];
  if ((tag & 0x1f) === 0x1f) fail('multi-byte tags are not supported');
  let length = buffer[offset + 1];
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) fail('unsupported length encoding');
    if (offset + 2 + count > buffer.length) fail('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buffer[offset + 2 + i];
    header += count;
  }
  const end = offset + header + length;
  if (end > buffer.length) fail('content runs past the end');
  return { tag, raw: buffer.subarray(offset, end), content: buffer.subarray(offset + header, end) };
}

/** The elements inside a constructed element. */
export function children(element: Element): Element[] {
  const result: Element[] = [];
  for (let offset = 0; offset < element.content.length; ) {
    const child = readElement(element.content, offset);
    result.push(child);
    offset += child.raw.length;
  }
  return result;
}

/** Dotted text of an OBJECT IDENTIFIER element's content. */
export function oidText(content: Buffer): string {
  if (content.length === 0) return '';
  const parts = [Math.min(2, Math.floor(content[0] / 40)), content[0] - 40 * Math.min(2, Math.floor(content[0] / 40))];
  let value = 0;
  for (const byte of content.subarray(1)) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}
