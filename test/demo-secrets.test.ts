import { X509Certificate, createPrivateKey } from 'crypto';
import * as path from 'path';
import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { NOTHING_EXISTS, missingDemoSecretManifests, randomPassword, randomToken, requiredDemoSecrets } from '../bin/demo-secrets';
import type * as Cli from '../bin/proxy-telemetry';
import { generateDemoCa } from '../gateway';
import { buildDefaultApp } from '../main';
import { DemoGateway } from '../lib/demo-gateway';
import { VendorCatalog } from '../core/vendor';
import { synthChart } from './support/synth';
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

test('the default app asks for one CA, its certificate beside the crawlers, each vendor\'s credentials on both sides and its usage token beside the gateway and the collector', () => {
  expect(NEEDED.map(s => `${s.kind} ${s.namespace}/${s.name} (${s.content})`)).toEqual([
    'Secret proxy-demo/proxy-telemetry-demo-ca (ca)',
    'ConfigMap crawlers/proxy-telemetry-demo-ca (ca-certificate)',
    'ConfigMap proxy-demo-outside/proxy-telemetry-demo-ca (ca-certificate)',
    'Secret proxy-demo/proxy-telemetry-demo-vendor-a-credentials (credentials)',
    'Secret crawlers/proxy-telemetry-demo-vendor-a-credentials (credentials)',
    'Secret proxy-demo-outside/proxy-telemetry-demo-vendor-a-credentials (credentials)',
    'Secret proxy-demo/proxy-telemetry-demo-vendor-a-usage-token (usage-token)',
    'Secret monitoring/proxy-telemetry-demo-vendor-a-usage-token (usage-token)',
    'Secret proxy-demo/proxy-telemetry-demo-vendor-b-credentials (credentials)',
    'Secret crawlers/proxy-telemetry-demo-vendor-b-credentials (credentials)',
    'Secret proxy-demo/proxy-telemetry-demo-vendor-b-usage-token (usage-token)',
    'Secret monitoring/proxy-telemetry-demo-vendor-b-usage-token (usage-token)',
    'Secret crawlers/proxy-telemetry-demo-vendor-b-credentials-stale (stale-credentials)',
    'Secret proxy-demo/proxy-telemetry-demo-vendor-c-credentials (credentials)',
    'Secret crawlers/proxy-telemetry-demo-vendor-c-credentials (credentials)',
    'Secret proxy-demo/proxy-telemetry-demo-vendor-c-usage-token (usage-token)',
    'Secret monitoring/proxy-telemetry-demo-vendor-c-usage-token (usage-token)',
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

describe('usage tokens', () => {
  // Two gateways whose usage APIs a collector in `monitoring` reads.
  const objects = synthChart(chart => {
    const vendors = new VendorCatalog(['vendor-a', 'vendor-b'].map((name, i) => ({ name, endpoints: [DemoGateway.endpoint(`${name}-gateway`, 8080 + i)] })));
    for (const vendor of ['vendor-a', 'vendor-b']) {
      new DemoGateway(chart, vendor, { vendors, vendor, usageClients: { namespace: 'monitoring', podLabels: { app: 'usage-collector' } } });
    }
  });
  const needed = requiredDemoSecrets(objects);
  const token = (made: KubeObject[], namespace: string, vendor: string) => decode(find(made, 'Secret', namespace, `proxy-telemetry-demo-${vendor}-usage-token`), 'token');

  test('are asked for beside the gateway and beside its usage clients', () => {
    expect(needed.filter(s => s.content === 'usage-token').map(s => `${s.kind} ${s.namespace}/${s.name}`)).toEqual([
      'Secret proxy-demo/proxy-telemetry-demo-vendor-a-usage-token',
      'Secret monitoring/proxy-telemetry-demo-vendor-a-usage-token',
      'Secret proxy-demo/proxy-telemetry-demo-vendor-b-usage-token',
      'Secret monitoring/proxy-telemetry-demo-vendor-b-usage-token',
    ]);
  });

  test('from nothing: one random token per Secret name, the same in every namespace, a Bearer token as it is', () => {
    const made = missingDemoSecretManifests(needed, NOTHING_EXISTS) as KubeObject[];
    expectValidObjects(made);
    expect(find(made, 'Secret', 'monitoring', 'proxy-telemetry-demo-vendor-a-usage-token')).toMatchObject({ type: 'Opaque', data: { token: expect.any(String) } });
    for (const vendor of ['vendor-a', 'vendor-b']) {
      expect(token(made, 'monitoring', vendor)).toBe(token(made, 'proxy-demo', vendor));
      expect(token(made, 'proxy-demo', vendor)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect(token(made, 'proxy-demo', 'vendor-a')).not.toBe(token(made, 'proxy-demo', 'vendor-b'));
  });

  test('an existing token is copied to the side that lacks it', () => {
    const present = new Set(['proxy-demo/Secret/proxy-telemetry-demo-vendor-a-usage-token']);
    const usageTokens = new Map([['proxy-telemetry-demo-vendor-a-usage-token', 'kept-token']]);
    const made = missingDemoSecretManifests(needed.filter(s => s.content === 'usage-token'), { present, credentials: new Map(), usageTokens }) as KubeObject[];
    expect(find(made, 'Secret', 'proxy-demo', 'proxy-telemetry-demo-vendor-a-usage-token')).toBeUndefined();
    expect(token(made, 'monitoring', 'vendor-a')).toBe('kept-token');
  });

  test('randomToken: 256 random bits, base64url, never the same twice', () => {
    const tokens = Array.from({ length: 200 }, () => randomToken());
    expect(tokens.every(t => /^[A-Za-z0-9_-]{43}$/.test(t) && Buffer.from(t, 'base64url').length === 32)).toBe(true);
    expect(new Set(tokens).size).toBe(200);
  });
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
