/**
 * The demo certificate authority: generating a new one (for the Secret a
 * deploy command creates), loading one from PEM, and issuing TLS server
 * certificates per server name with it.
 */
import * as crypto from 'node:crypto';
import { KEY_USAGE, buildCertificate, extensions, keyIdentifier, name, randomSerial, readIssuerFields, signatureScheme, toPem } from './x509';

/** Organization of every generated CA, so nobody takes it for a real one. */
export const DEMO_CA_ORGANIZATION = 'proxy-telemetry demo gateway - NOT a real CA - demos only';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Server certificates are short-lived; the gateway re-issues them as needed. */
export const LEAF_VALIDITY_MS = 7 * DAY_MS;
/** Tolerated clock difference between the gateway and its clients. */
const BACKDATE_MS = HOUR_MS;

/** A CA certificate and its private key, both PEM. */
export interface DemoCa {
  certPem: string;
  /** PKCS#8 PEM. Belongs in a Secret, never in a repository or a manifest. */
  keyPem: string;
}

export interface DemoCaOptions {
  /**
   * Common name of the CA.
   * @default 'proxy-telemetry demo CA <8 random hex digits>'
   */
  commonName?: string;
  /**
   * Validity in days, from one hour before `now`.
   * @default 365
   */
  validityDays?: number;
  /** @default the current time */
  now?: Date;
}

/**
 * Generates a new demo CA: an ECDSA P-256 key and a self-signed CA
 * certificate (path length 0: it can only sign server certificates) that
 * says in its name that it is a demo CA.
 */
export function generateDemoCa(options: DemoCaOptions = {}): DemoCa {
  const validityDays = options.validityDays ?? 365;
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 3650) {
    throw new RangeError(`generateDemoCa: validityDays=${validityDays} must be an integer from 1 to 3650`);
  }
  const commonName = options.commonName ?? `proxy-telemetry demo CA ${crypto.randomBytes(4).toString('hex')}`;
  if (!commonName.trim() || commonName.length > 64) {
    throw new RangeError(`generateDemoCa: commonName=${JSON.stringify(commonName)} must be 1 to 64 characters`);
  }
  const now = options.now ?? new Date();
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const subject = name({ commonName, organization: DEMO_CA_ORGANIZATION });
  const certificate = buildCertificate({
    serial: randomSerial(),
    issuer: subject,
    subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + validityDays * DAY_MS),
    publicKey,
    signingKey: privateKey,
    extensions: [
      extensions.basicConstraints(true, 0),
      extensions.keyUsage([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
      extensions.subjectKeyIdentifier(keyIdentifier(publicKey)),
    ],
  });
  return { certPem: toPem(certificate), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** A CA certificate or key that cannot be used; `part` says which. */
export class CaError extends Error {
  constructor(
    readonly part: 'certificate' | 'key',
    reason: string,
  ) {
    super(reason);
    this.name = 'CaError';
  }
}

/** A server certificate issued for one name, with the key it certifies. */
export interface ServerCertificate {
  name: string;
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

/**
 * Issues TLS server certificates signed by a loaded CA. All of them
 * certify one ECDSA P-256 key generated at start and kept in memory only:
 * a fresh key per name would cost time and buys nothing in a demo.
 */
export class CertificateAuthority {
  readonly certPem: string;
  /** The CA's subject as text, for logs. */
  readonly subject: string;
  readonly notAfter: Date;
  private readonly issuer: Buffer;
  private readonly authorityKeyId?: Buffer;
  private readonly leafPublicKey: crypto.KeyObject;
  private readonly leafKeyId: Buffer;
  private readonly leafKeyPem: string;

  private constructor(
    certificate: crypto.X509Certificate,
    private readonly signingKey: crypto.KeyObject,
  ) {
    this.certPem = certificate.toString();
    this.subject = certificate.subject.replace(/\n/g, ', ');
    this.notAfter = new Date(certificate.validTo);
    const fields = readIssuerFields(certificate.raw);
    this.issuer = fields.subject;
    // An authority key id the CA itself does not carry could only confuse
    // chain building; without one, clients match by name.
    this.authorityKeyId = fields.subjectKeyId;
    const leaf = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.leafPublicKey = leaf.publicKey;
    this.leafKeyId = keyIdentifier(leaf.publicKey);
    this.leafKeyPem = leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  /** Loads and checks a CA; throws CaError naming the part that is wrong. */
  static fromPem(certPem: string, keyPem: string, now = new Date()): CertificateAuthority {
    let certificate: crypto.X509Certificate;
    try {
      certificate = new crypto.X509Certificate(certPem);
    } catch (err) {
      throw new CaError('certificate', `is not a PEM certificate (${(err as Error).message})`);
    }
    if (!certificate.ca) throw new CaError('certificate', `is not a CA certificate (no basicConstraints CA:TRUE): ${certificate.subject.replace(/\n/g, ', ')}`);
    const notBefore = new Date(certificate.validFrom);
    const notAfter = new Date(certificate.validTo);
    if (notAfter.getTime() <= now.getTime()) throw new CaError('certificate', `expired on ${notAfter.toISOString()}`);
    if (notBefore.getTime() > now.getTime()) throw new CaError('certificate', `is not valid before ${notBefore.toISOString()}`);
    let key: crypto.KeyObject;
    try {
      key = crypto.createPrivateKey(keyPem);
    } catch (err) {
      throw new CaError('key', `is not a PEM private key (${(err as Error).message})`);
    }
    try {
      signatureScheme(key);
    } catch (err) {
      throw new CaError('key', (err as Error).message);
    }
    if (!certificate.checkPrivateKey(key)) throw new CaError('key', 'does not belong to the CA certificate');
    return new CertificateAuthority(certificate, key);
  }

  /**
   * A server certificate for a DNS name or IP address: valid from an hour
   * ago for LEAF_VALIDITY_MS, never past the CA's own end.
   */
  issue(serverName: string, now = new Date()): ServerCertificate {
    const notAfter = new Date(Math.min(now.getTime() + LEAF_VALIDITY_MS, this.notAfter.getTime()));
    // A common name holds at most 64 characters; the SAN is what clients check.
    const subject = serverName.length <= 64 ? name({ commonName: serverName }) : name({});
    const certificate = buildCertificate({
      serial: randomSerial(),
      issuer: this.issuer,
      subject,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter,
      publicKey: this.leafPublicKey,
      signingKey: this.signingKey,
      extensions: [
        extensions.basicConstraints(false),
        extensions.keyUsage([KEY_USAGE.digitalSignature]),
        extensions.serverAuth(),
        extensions.subjectAltName([serverName], serverName.length > 64),
        extensions.subjectKeyIdentifier(this.leafKeyId),
        ...(this.authorityKeyId ? [extensions.authorityKeyIdentifier(this.authorityKeyId)] : []),
      ],
    });
    return { name: serverName, certPem: `${toPem(certificate)}`, keyPem: this.leafKeyPem, notAfter };
  }
}
