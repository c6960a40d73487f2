import { X509Certificate, createPrivateKey } from 'crypto';
import * as path from 'path';
import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { NOTHING_EXISTS, missingDemoSecretManifests, randomPassword, requiredDemoSecrets } from '../bin/demo-secrets';
import type * as Cli from '../bin/proxy-telemetry';
import { generateDemoCa } from '../gateway';
import { buildDefaultApp } from '../main';
import { synthesizeInto } from '../lib/internal/synthesize';
import { KubeObject } from '../harness/kube-object';
import { expectValidObjects } from './support/schemas';
import { tempDir } from './support/temp-dir';

/** The demo gateways' CA and credentials: what the default app asks for, and how deploy-time makes it. */

// The TypeScript source, not the bin/ shim of the same name that jest would resolve first.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { main: cli }: typeof Cli = require('../bin/proxy-telemetry.ts');

const app = Testing.app();
buildDefaultApp(app);
const OBJECTS = app.charts.flatMap(c => Testing.synth(c)) as KubeObject[];
const NEEDED = requiredDemoSecrets(OBJECTS);
const decode = (o: KubeObject, k: string) => Buffer.from(o.data[k], 'base64').toString('utf8');
const find = (objects: KubeObject[], kind: string, namespace: string, name: string) =>
  objects.find(o => o.kind === kind && o.metadata.namespace === namespace && o.metadata.name === name)!;

test('the default app asks for one CA, its certificate beside the crawlers, and each vendor\'s credentials on both sides', () => {
  expect(NEEDED.map(s => `${s.kind} ${s.namespace}/${s.name} (${s.content})`)).toEqual([
    'Secret proxy-demo/proxy-telemetry-demo-ca (ca)',
    'ConfigMap crawlers/proxy-telemetry-demo-ca (ca-certificate)',
    'Secret proxy-demo/proxy-telemetry-demo-vendor-a-credentials (credentials)',
    'Secret crawlers/proxy-telemetry-demo-vendor-a-credentials (credentials)',
    'Secret proxy-demo/proxy-telemetry-demo-vendor-b-credentials (credentials)',
    'Secret crawlers/proxy-telemetry-demo-vendor-b-credentials (credentials)',
    'Secret crawlers/proxy-telemetry-demo-vendor-b-credentials-stale (stale-credentials)',
    'Secret proxy-demo/proxy-telemetry-demo-vendor-c-credentials (credentials)',
    'Secret crawlers/proxy-telemetry-demo-vendor-c-credentials (credentials)',
  ]);
});

test('from nothing: a CA whose key matches its certificate, the same certificate for the crawlers, matching credentials on both sides, a stale password', () => {
  // WHEN
  const made = missingDemoSecretManifests(NEEDED, NOTHING_EXISTS) as KubeObject[];

  // THEN
  expect(made).toHaveLength(NEEDED.length);
  expectValidObjects(made);
  const caSecret = find(made, 'Secret', 'proxy-demo', 'proxy-telemetry-demo-ca');
  expect(caSecret.type).toBe('kubernetes.io/tls');
  const cert = new X509Certificate(decode(caSecret, 'tls.crt'));
  expect(cert.ca).toBe(true);
  expect(cert.checkPrivateKey(createPrivateKey(decode(caSecret, 'tls.key')))).toBe(true);
  expect(find(made, 'ConfigMap', 'crawlers', 'proxy-telemetry-demo-ca').data['ca.crt']).toBe(decode(caSecret, 'tls.crt'));
  for (const vendor of ['vendor-a', 'vendor-b', 'vendor-c']) {
    const name = `proxy-telemetry-demo-${vendor}-credentials`;
    const [gw, crawler] = ['proxy-demo', 'crawlers'].map(ns => find(made, 'Secret', ns, name));
    expect([decode(crawler, 'username'), decode(crawler, 'password')]).toEqual([decode(gw, 'username'), decode(gw, 'password')]);
    // Safe in a proxy URL as it is: letters and digits only.
    expect(decode(gw, 'password')).toMatch(/^[A-Za-z0-9]{32}$/);
  }
  const stale = find(made, 'Secret', 'crawlers', 'proxy-telemetry-demo-vendor-b-credentials-stale');
  const right = find(made, 'Secret', 'proxy-demo', 'proxy-telemetry-demo-vendor-b-credentials');
  expect(decode(stale, 'username')).toBe(decode(right, 'username'));
  expect(decode(stale, 'password')).not.toBe(decode(right, 'password'));
  // Every vendor's password differs.
  expect(new Set(['a', 'b', 'c'].map(v => decode(find(made, 'Secret', 'proxy-demo', `proxy-telemetry-demo-vendor-${v}-credentials`), 'password'))).size).toBe(3);
});

test('what exists is kept: the CA Secret\'s certificate goes to a missing ConfigMap, credentials are copied from the side that exists', () => {
  // GIVEN
  const ca = generateDemoCa();
  const present = new Set(['proxy-demo/Secret/proxy-telemetry-demo-ca', 'crawlers/Secret/proxy-telemetry-demo-vendor-a-credentials']);

  // WHEN
  const made = missingDemoSecretManifests(NEEDED, { present, ca, credentials: new Map([['proxy-telemetry-demo-vendor-a-credentials', { username: 'u', password: 'kept' }]]) }) as KubeObject[];

  // THEN
  expect(find(made, 'Secret', 'proxy-demo', 'proxy-telemetry-demo-ca')).toBeUndefined();
  expect(find(made, 'ConfigMap', 'crawlers', 'proxy-telemetry-demo-ca').data['ca.crt']).toBe(ca.certPem);
  expect(find(made, 'Secret', 'crawlers', 'proxy-telemetry-demo-vendor-a-credentials')).toBeUndefined();
  expect(decode(find(made, 'Secret', 'proxy-demo', 'proxy-telemetry-demo-vendor-a-credentials'), 'password')).toBe('kept');
});

test('a new CA replaces the certificate the crawlers trust, even where an old one is present', () => {
  const present = new Set(['crawlers/ConfigMap/proxy-telemetry-demo-ca']);
  const made = missingDemoSecretManifests(NEEDED, { present, credentials: new Map() }) as KubeObject[];
  expect(find(made, 'ConfigMap', 'crawlers', 'proxy-telemetry-demo-ca').data['ca.crt']).toBe(decode(find(made, 'Secret', 'proxy-demo', 'proxy-telemetry-demo-ca'), 'tls.crt'));
});

test('nothing missing, nothing made', () => {
  const ca = generateDemoCa();
  const present = new Set(NEEDED.map(s => `${s.namespace}/${s.kind}/${s.name}`));
  expect(missingDemoSecretManifests(NEEDED, { present, ca, credentials: new Map() })).toEqual([]);
});

test('randomPassword: letters and digits, the length asked for, never the same twice', () => {
  const passwords = Array.from({ length: 200 }, () => randomPassword(24));
  expect(passwords.every(p => /^[A-Za-z0-9]{24}$/.test(p))).toBe(true);
  expect(new Set(passwords).size).toBe(200);
});

describe('proxy-telemetry demo-secrets', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
  };

  test('prints the manifests for `kubectl create -f -`', async () => {
    // GIVEN a synthesized default app
    const dir = path.join(tempDir('demo-secrets'), 'dist');
    synthesizeInto(dir, buildDefaultApp);
    const { io: stdio, out } = io();

    // WHEN
    const code = await cli(['demo-secrets', '--dir', dir], stdio);

    // THEN
    expect(code).toBe(0);
    const docs = YAML.parseAllDocuments(out.join('')).map(d => d.toJSON() as KubeObject);
    expect(docs.map(d => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`).sort()).toEqual(NEEDED.map(s => `${s.kind} ${s.namespace}/${s.name}`).sort());
    expectValidObjects(docs);
  });

  test('a directory that is not there is a usage error naming it', async () => {
    const { io: stdio, err } = io();
    expect(await cli(['demo-secrets', '--dir', '/nonexistent/dist'], stdio)).toBe(2);
    expect(err.join('')).toContain('--dir \'/nonexistent/dist\' is not a directory of synthesized manifests');
  });
});
