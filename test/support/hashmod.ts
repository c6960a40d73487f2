import { createHash } from 'crypto';

/** Prometheus' `hashmod` relabel action: the last 8 bytes of md5(value), big-endian, modulo n (model/relabel/relabel.go). */
export function hashmod(value: string, n: number): number {
  return Number(createHash('md5').update(value).digest().readBigUInt64BE(8) % BigInt(n));
}
