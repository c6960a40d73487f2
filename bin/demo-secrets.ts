/**
 * The demo gateways' CA, proxy credentials and usage tokens, made at deploy time: keys, passwords and tokens never go
 * into dist/ or a repository. Each demo gateway Deployment lists what it, its crawlers and its usage clients need in an
 * annotation (DEMO_SECRETS_ANNOTATION); this module makes the missing objects, reusing what the cluster already has so
 * that a second deploy never rotates a CA, a password or a token under running pods.
 */
import * as crypto from 'crypto';
import { generateDemoCa } from '../gateway';
import { DEMO_CA_CERTIFICATE_KEY, DEMO_SECRETS_ANNOTATION, DEMO_USAGE_TOKEN_KEY, DemoSecret } from '../lib/demo-gateway';

/** What the cluster already holds, read before anything is made. */
export interface ExistingDemoSecrets {
  /** `<namespace>/<kind>/<name>` of every needed object that exists. */
  readonly present: ReadonlySet<string>;
  /** The CA certificate and key of an existing CA Secret, if any. */
  readonly ca?: { certPem: string; keyPem: string };
  /** Username and password of existing credentials Secrets, by name. */
  readonly credentials: ReadonlyMap<string, { username: string; password: string }>;
  /** The token of existing usage-token Secrets, by name. */
  readonly usageTokens?: ReadonlyMap<string, string>;
}

export const NOTHING_EXISTS: ExistingDemoSecrets = { present: new Set(), credentials: new Map() };

export const key = (s: Pick<DemoSecret, 'kind' | 'namespace' | 'name'>) => `${s.namespace}/${s.kind}/${s.name}`;

/** Every object the demo gateways in `objects` (synthesized manifests) ask for, once each. */
export function requiredDemoSecrets(objects: any[]): DemoSecret[] {
  const out = new Map<string, DemoSecret>();
  for (const o of objects) {
    const annotation = o?.metadata?.annotations?.[DEMO_SECRETS_ANNOTATION];
    if (annotation === undefined) continue;
    let list: DemoSecret[];
    try {
      list = JSON.parse(annotation);
    } catch {
      throw new Error(`${o.kind} ${o.metadata.namespace}/${o.metadata.name}: annotation ${DEMO_SECRETS_ANNOTATION} is not JSON`);
    }
    for (const s of list) out.set(key(s), s);
  }
  return [...out.values()];
}

/** Letters and digits only: the crawler puts the password into a proxy URL, the gateway compares it as given. */
export function randomPassword(length = 32): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  while (out.length < length) {
    for (const b of crypto.randomBytes(length)) {
      // Rejection sampling: 248 = 4 × 62, so every character is equally likely.
      if (b < 248 && out.length < length) out += alphabet[b % 62];
    }
  }
  return out;
}

/** 256 random bits in base64url: a valid Bearer token (RFC 6750) as it is. */
export function randomToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const LABELS = { 'app.kubernetes.io/part-of': 'proxy-telemetry', 'app.kubernetes.io/component': 'demo-secrets' };

/**
 * Manifests of the needed objects the cluster lacks. A new CA only when no CA Secret exists; credentials copied
 * from an existing Secret of the same name (the gateway's and its crawlers' must match); stale credentials keep
 * the user name and get another password; a usage token, like credentials, is the same in every namespace.
 */
export function missingDemoSecretManifests(needed: DemoSecret[], existing: ExistingDemoSecrets = NOTHING_EXISTS): any[] {
  // A new CA must reach every crawler namespace, also where an old certificate is still present.
  const newCa = existing.ca === undefined && needed.some(s => s.content === 'ca');
  const missing = needed.filter(s => !existing.present.has(key(s)) || (newCa && s.content === 'ca-certificate'));
  if (missing.length === 0) return [];
  let ca = existing.ca;
  const caFor = () => (ca ??= generateDemoCa());
  const credentials = new Map(existing.credentials);
  const credentialsFor = (name: string) => {
    let c = credentials.get(name);
    if (!c) credentials.set(name, c = { username: 'crawler', password: randomPassword() });
    return c;
  };
  const tokens = new Map(existing.usageTokens ?? []);
  const tokenFor = (name: string) => {
    let t = tokens.get(name);
    if (t === undefined) tokens.set(name, t = randomToken());
    return t;
  };
  const meta = (s: DemoSecret) => ({ name: s.name, namespace: s.namespace, labels: LABELS });
  // Fresh credentials before stale ones, which borrow their user name.
  const ordered = [...missing].sort((a, b) => Number(a.content === 'stale-credentials') - Number(b.content === 'stale-credentials'));
  return ordered.map(s => {
    switch (s.content) {
      case 'ca':
        return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: meta(s), data: { 'tls.crt': b64(caFor().certPem), 'tls.key': b64(caFor().keyPem) } };
      case 'ca-certificate':
        return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(s), data: { [DEMO_CA_CERTIFICATE_KEY]: caFor().certPem } };
      case 'credentials': {
        const c = credentialsFor(s.name);
        return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: meta(s), data: { username: b64(c.username), password: b64(c.password) } };
      }
      case 'stale-credentials': {
        const of = credentialsFor(s.of ?? s.name);
        const stale = credentials.get(s.name) ?? { username: of.username, password: randomPassword() };
        return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: meta(s), data: { username: b64(stale.username), password: b64(stale.password) } };
      }
      case 'usage-token':
        return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: meta(s), data: { [DEMO_USAGE_TOKEN_KEY]: b64(tokenFor(s.name)) } };
      default:
        throw new Error(`unknown demo secret content '${(s as DemoSecret).content}' for ${key(s)}`);
    }
  });
}
