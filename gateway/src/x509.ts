/**
 * Builds and signs X.509 v3 certificates (RFC 5280) with node:crypto keys.
 * Only what a demo CA and its TLS server certificates need: names with CN
 * and O, validity, and the extensions below.
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as der from './der';

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
export const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** A Name of at most a common name and an organization; empty when neither is given. */
export function name(parts: { commonName?: string; organization?: string }): Buffer {
  const rdns: Buffer[] = [];
  if (parts.organization) rdns.push(der.set(der.sequence(der.oid(OID.organization), der.utf8String(parts.organization))));
  if (parts.commonName) rdns.push(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(parts.commonName))));
  return der.sequence(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  // DER omits a BOOLEAN that equals its DEFAULT (FALSE).
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

export const extensions = {
  basicConstraints(ca: boolean, pathLength?: number): Buffer {
    const fields = ca ? [der.boolean(true), ...(pathLength === undefined ? [] : [der.smallInteger(pathLength)])] : [];
    return extension(OID.basicConstraints, true, der.sequence(...fields));
  },
  keyUsage(bits: number[]): Buffer {
    return extension(OID.keyUsage, true, der.namedBits(bits));
  },
  serverAuth(): Buffer {
    return extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth)));
  },
  /** DNS names and IP addresses; critical when the subject is empty (RFC 5280 4.2.1.6). */
  subjectAltName(names: string[], critical: boolean): Buffer {
    const general = names.map((n) => (net.isIP(n) ? der.implicit(7, ipBytes(n)) : der.implicit(2, Buffer.from(n, 'ascii'))));
    return extension(OID.subjectAltName, critical, der.sequence(...general));
  },
  subjectKeyIdentifier(keyId: Buffer): Buffer {
    return extension(OID.subjectKeyIdentifier, false, der.octetString(keyId));
  },
  authorityKeyIdentifier(keyId: Buffer): Buffer {
    return extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, keyId)));
  },
};

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // Expand `::` and an embedded IPv4 tail into eight 16-bit groups.
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  return bytes;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKey: crypto.KeyObject): Buffer {
  const spki = der.readElement(publicKey.export({ type: 'spki', format: 'der' }));
  const bits = der.children(spki)[1];
  return crypto.createHash('sha1').update(bits.content.subarray(1)).digest();
}

interface SignatureScheme {
  algorithm: Buffer;
  hash: string;
}

/** The signature algorithm a CA key signs with. */
export function signatureScheme(key: crypto.KeyObject): SignatureScheme {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return { algorithm: der.sequence(der.oid(OID.sha256WithRsa), der.nullValue()), hash: 'sha256' };
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { algorithm: der.sequence(der.oid(OID.ecdsaWithSha256)), hash: 'sha256' };
    if (curve === 'secp384r1') return { algorithm: der.sequence(der.oid(OID.ecdsaWithSha384)), hash: 'sha384' };
    throw new Error(`EC curve ${curve ?? 'unknown'} is not supported (use P-256 or P-384)`);
  }
  throw new Error(`key type ${type ?? 'unknown'} is not supported (use ECDSA P-256, P-384 or RSA)`);
}

export interface CertificateFields {
  /** Positive serial number bytes (at most 20). */
  serial: Buffer;
  /** DER Name of the issuer, byte for byte as in the issuer's own certificate. */
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  publicKey: crypto.KeyObject;
  extensions: Buffer[];
  signingKey: crypto.KeyObject;
}

/** A signed certificate in DER. */
export function buildCertificate(fields: CertificateFields): Buffer {
  const scheme = signatureScheme(fields.signingKey);
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.unsignedInteger(fields.serial),
    scheme.algorithm,
    fields.issuer,
    der.sequence(der.time(fields.notBefore), der.time(fields.notAfter)),
    fields.subject,
    fields.publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, der.sequence(...fields.extensions)),
  );
  // ECDSA signatures in DER (Ecdsa-Sig-Value), as X.509 wants them.
  const signature = crypto.sign(scheme.hash, tbs, { key: fields.signingKey, dsaEncoding: 'der' });
  return der.sequence(tbs, scheme.algorithm, der.bitString(signature));
}

/** A random positive 16-byte serial number. */
export function randomSerial(): Buffer {
  const serial = crypto.randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01;
  return serial;
}

export function toPem(derBytes: Buffer, label = 'CERTIFICATE'): string {
  const lines = derBytes.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The parts of an issuer certificate that its subordinates refer to. */
export interface IssuerFields {
  /** DER Name, byte for byte. */
  subject: Buffer;
  /** Its SubjectKeyIdentifier extension, if it has one. */
  subjectKeyId?: Buffer;
}

/** Reads a certificate's subject Name and SubjectKeyIdentifier from its DER. */
export function readIssuerFields(certificate: Buffer): IssuerFields {
  const [tbs] = der.children(der.readElement(certificate));
  const fields = der.children(tbs);
  // version [0] is optional; serial, signature, issuer, validity, subject follow.
  const base = fields[0].tag === 0xa0 ? 1 : 0;
  const subject = fields[base + 4].raw;
  let subjectKeyId: Buffer | undefined;
  const extensionsField = fields.find((f) => f.tag === 0xa3);
  if (extensionsField) {
    for (const ext of der.children(der.children(extensionsField)[0])) {
      const parts = der.children(ext);
      if (der.oidText(parts[0].content) === OID.subjectKeyIdentifier) {
        subjectKeyId = der.readElement(parts[parts.length - 1].content).content;
      }
    }
  }
  return { subject: Buffer.from(subject), subjectKeyId: subjectKeyId && Buffer.from(subjectKeyId) };
}
