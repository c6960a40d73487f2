import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { configDump } from './support/envoy-config-dump';
import { tempDir } from './support/temp-dir';

/**
 * `proxy-telemetry deploy` (`npm run deploy` in this repository) against a stand-in kubectl that answers like a
 * cluster (a scenario file decides how), so that every branch of the preflight, the apply and the sidecar checks can
 * be reached without a cluster. The app is what cdk8s.yaml in the working directory runs, as in a user's project.
 */

const ROOT = path.join(__dirname, '..');
/** The demo app as a cdk8s project's cdk8s.yaml names it (this repository's runs `ts-node main.ts`). */
const DEMO_CDK8S_YAML = YAML.stringify({ language: 'typescript', app: `${path.join(ROOT, 'node_modules', '.bin', 'ts-node')} --transpile-only ${path.join(ROOT, 'main.ts')}` });

interface Scenario {
  /** Stderr and exit code of `get --raw /version` (no cluster, bad context). */
  server?: { stderr: string; status: number };
  istioCrds?: boolean;
  istioImage?: string;
  mesh?: string;
  telemetries?: Array<{ name: string; namespace: string; spec?: object }>;
  applyFails?: boolean;
  /** The crawler sidecars' Envoy config dumps, by pod name (default: healthyDump of the pod's vendor). */
  dumps?: Record<string, object>;
  /** What the server-first probe in a crawler container prints (default: the banner after 12 ms). */
  probe?: string;
  /** Objects the cluster has, by `<kind> <name> -n <namespace>` (kind lower-case), as `kubectl get -o json` prints them. */
  existing?: Record<string, object>;
}

/**
 * What a crawler sidecar of the default app gets: HTTP on 80, TLS on 443 with its own inspector, nothing on
 * virtualOutbound, and vendor-b's inspected gateway routes in vendor-b's pods only.
 */
const healthyDump = (vendor: string) => configDump({
  listeners: [
    { name: 'virtualOutbound' }, { name: '0.0.0.0_80' }, { name: '0.0.0.0_443', listener_filters: [{ name: 'envoy.filters.listener.tls_inspector' }] }, { name: '0.0.0.0_8081' },
  ],
  routes: [{
    name: '8081',
    virtual_hosts: [{
      name: 'allow_any', domains: ['*'],
      routes: [...(vendor === 'vendor-b' ? ['proxy-vendor-vendor-b-8081-connect', 'proxy-vendor-vendor-b-8081-forward'] : []), 'allow_any'].map(name => ({ name })),
    }],
  }],
  clusters: [{
    name: 'outbound|8081||vendor-b-gateway.proxy-demo.svc.cluster.local',
    typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { explicit_http_config: { http_protocol_options: { send_fully_qualified_url: true } } } },
  }],
});

/** The crawler pods the stand-in cluster runs: one of vendor-a, one of vendor-b. */
const PODS = ['vendor-a', 'vendor-b'].map(vendor => ({ name: `crawler-${vendor}-6b8f9-p0`, vendor }));

/** A stand-in kubectl (a node script) that logs its arguments and answers from the scenario. */
function fakeKubectl(dir: string, scenario: Scenario = {}): { log: string } {
  const log = path.join(dir, 'calls.log');
  const s = {
    server: { stderr: '', status: 0 }, istioCrds: true, istioImage: 'docker.io/istio/pilot:1.24.2',
    mesh: 'defaultConfig:\n  holdApplicationUntilProxyStarts: false\n', telemetries: [{ name: 'proxy-telemetry', namespace: 'crawlers' }],
    pods: PODS, probe: 'banner 12 220 proxy-telemetry probe', ...scenario,
    dumps: Object.fromEntries(PODS.map(p => [p.name, scenario.dumps?.[p.name] ?? healthyDump(p.vendor)])),
  };
  fs.writeFileSync(path.join(dir, 'scenario.json'), JSON.stringify(s));
  fs.writeFileSync(path.join(dir, 'kubectl'), `#!/usr/bin/env node
const fs = require('fs');
const s = JSON.parse(fs.readFileSync(${JSON.stringify(path.join(dir, 'scenario.json'))}, 'utf8'));
const args = process.argv.slice(2);
const cmd = args.join(' ');
fs.appendFileSync(${JSON.stringify(log)}, cmd + '\\n');
const out = (o) => { process.stdout.write(typeof o === 'string' ? o : JSON.stringify(o)); process.exit(0); };
const fail = (msg, code = 1) => { process.stderr.write(msg + '\\n'); process.exit(code); };
if (cmd.includes('get --raw /version')) s.server.status ? fail(s.server.stderr, s.server.status) : out({ gitVersion: 'v1.30.2' });
if (cmd.includes('get crd')) s.istioCrds ? out('ok') : fail('Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "telemetries.telemetry.istio.io" not found');
if (cmd.includes('get deployments')) out({ items: [{ metadata: { name: 'istiod', namespace: 'istio-system' }, spec: { template: { spec: { containers: [{ image: s.istioImage }] } } } }] });
if (cmd.includes('get configmaps')) out({ items: [{ metadata: { name: 'istio' }, data: { mesh: s.mesh } }] });
if (cmd.includes('get telemetries')) out({ items: s.telemetries.map(t => ({ metadata: { name: t.name, namespace: t.namespace }, spec: t.spec || {} })) });
const got = /get (secret|configmap) (\\S+) -n (\\S+) -o json$/.exec(cmd);
if (got) (s.existing || {})[got[1] + ' ' + got[2] + ' -n ' + got[3]] ? out(s.existing[got[1] + ' ' + got[2] + ' -n ' + got[3]]) : fail('Error from server (NotFound): ' + got[1] + 's "' + got[2] + '" not found');
if (/(^| )apply /.test(cmd) && cmd.endsWith('-f -')) {
  // What would be created, by kind, namespace and name (never the data).
  const docs = fs.readFileSync(0, 'utf8').split(/^---$/m);
  for (const d of docs) {
    const kind = /^kind: (\\S+)/m.exec(d)[1], name = /^  name: (\\S+)/m.exec(d)[1], ns = /^  namespace: (\\S+)/m.exec(d)[1];
    fs.appendFileSync(${JSON.stringify(log)}, '  creates ' + kind + ' ' + ns + '/' + name + '\\n');
  }
  out('applied\\n');
}
if (/(^| )apply /.test(cmd)) s.applyFails ? fail('error: unable to recognize') : out('applied\\n');
if (cmd.includes('get secret')) fail('NotFound');
if (cmd.includes('get pods')) out({ items: s.pods.map(p => ({ metadata: { name: p.name, labels: { 'proxy-vendor': p.vendor } }, status: { containerStatuses: [{ name: 'crawler', ready: true }, { name: 'istio-proxy', ready: true }] } })) });
if (cmd.includes('config_dump')) out(s.dumps[args[args.indexOf('exec') + 3]]);
// The probe prints its outcome on stdout and exits 1 unless the banner came.
if (cmd.includes(' -c crawler -- node -e ')) { process.stdout.write(s.probe + '\\n'); process.exit(s.probe.startsWith('banner ') ? 0 : 1); }
process.exit(0);
`, { mode: 0o755 });
  return { log };
}

function runDeploy(dir: string, args: string[], env: Record<string, string> = {}): { status: number; output: string } {
  // The CLI's source in script mode: ts-node finds this repository's tsconfig from the script, whatever the cwd.
  const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'ts-node'), ['--transpile-only', path.join(ROOT, 'bin', 'proxy-telemetry.ts'), 'deploy', ...args], {
    encoding: 'utf8', cwd: dir, env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, ...env }, timeout: 120_000,
  });
  return { status: r.status ?? -1, output: r.stdout + r.stderr };
}

/** An app command that writes one crawler Deployment, as `new App()` does into CDK8S_OUTDIR. */
const MY_APP = (() => {
  const manifest = YAML.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'my-crawler', namespace: 'crawlers' }, spec: {} });
  return `node -e "require('fs').writeFileSync(require('path').join(process.env.CDK8S_OUTDIR, 'app.k8s.yaml'), ${JSON.stringify(manifest).replace(/"/g, '\\"')})"`;
})();

const calls = (log: string) => fs.readFileSync(log, 'utf8').trim().split('\n');

function scenario(s: Scenario = {}, args: string[] = ['--outdir', 'out']): { status: number; output: string; calls: string[] } {
  const dir = tempDir('deploy');
  fs.writeFileSync(path.join(dir, 'cdk8s.yaml'), DEMO_CDK8S_YAML);
  const { log } = fakeKubectl(dir, s);
  const r = runDeploy(dir, args);
  return { ...r, calls: fs.existsSync(log) ? calls(log) : [] };
}

describe('proxy-telemetry deploy', () => {
  test('synthesizes cdk8s.yaml\'s app, checks the cluster and its mesh, applies server-side, waits for every rollout, checks a sidecar and prints port-forwards', () => {
    // GIVEN a cdk8s project (the demo app) and a cluster with Istio 1.24 and nothing in the way
    const dir = tempDir('deploy');
    fs.writeFileSync(path.join(dir, 'cdk8s.yaml'), DEMO_CDK8S_YAML);
    const { log } = fakeKubectl(dir);

    // WHEN
    const { status, output } = runDeploy(dir, ['--outdir', 'out', '--context', 'prod', '--timeout', '2m']);

    // THEN
    expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining('Reach the stack with') });
    expect(output).toMatch(new RegExp(`synthesized \\d+ manifests into out/ with the app of ${path.join(dir, 'cdk8s.yaml')}`));
    expect(calls(log)).toEqual([
      '--context prod get --raw /version',
      '--context prod get crd telemetries.telemetry.istio.io serviceentries.networking.istio.io sidecars.networking.istio.io envoyfilters.networking.istio.io -o name',
      '--context prod get deployments --all-namespaces -l app=istiod -o json',
      '--context prod get configmaps -n istio-system -o json',
      '--context prod get telemetries.telemetry.istio.io --all-namespaces -o json',
      '--context prod apply --server-side --field-manager=proxy-telemetry -f out',
      // The demo gateways' CA and credentials: looked up, then the missing ones made (in memory, piped to kubectl).
      '--context prod get secret proxy-telemetry-demo-ca -n proxy-demo -o json',
      '--context prod get configmap proxy-telemetry-demo-ca -n crawlers -o json',
      // vendor-a's credentials also outside the mesh (the demo's leak); each usage API's token beside the collector.
      '--context prod get configmap proxy-telemetry-demo-ca -n proxy-demo-outside -o json',
      ...['vendor-a', 'vendor-b', 'vendor-c'].flatMap(v => [
        `--context prod get secret proxy-telemetry-demo-${v}-credentials -n proxy-demo -o json`,
        `--context prod get secret proxy-telemetry-demo-${v}-credentials -n crawlers -o json`,
        ...(v === 'vendor-a' ? [`--context prod get secret proxy-telemetry-demo-${v}-credentials -n proxy-demo-outside -o json`] : []),
        `--context prod get secret proxy-telemetry-demo-${v}-usage-token -n proxy-demo -o json`,
        `--context prod get secret proxy-telemetry-demo-${v}-usage-token -n monitoring -o json`,
        ...(v === 'vendor-b' ? ['--context prod get secret proxy-telemetry-demo-vendor-b-credentials-stale -n crawlers -o json'] : []),
      ]),
      '--context prod apply --server-side --field-manager=proxy-telemetry -f -',
      '  creates Secret proxy-demo/proxy-telemetry-demo-ca',
      '  creates ConfigMap crawlers/proxy-telemetry-demo-ca',
      '  creates ConfigMap proxy-demo-outside/proxy-telemetry-demo-ca',
      ...['vendor-a', 'vendor-b', 'vendor-c'].flatMap(v => [
        `  creates Secret proxy-demo/proxy-telemetry-demo-${v}-credentials`,
        `  creates Secret crawlers/proxy-telemetry-demo-${v}-credentials`,
        ...(v === 'vendor-a' ? [`  creates Secret proxy-demo-outside/proxy-telemetry-demo-${v}-credentials`] : []),
        `  creates Secret proxy-demo/proxy-telemetry-demo-${v}-usage-token`,
        `  creates Secret monitoring/proxy-telemetry-demo-${v}-usage-token`,
      ]),
      '  creates Secret crawlers/proxy-telemetry-demo-vendor-b-credentials-stale',
      '--context prod get secret grafana-admin -n monitoring -o name',
      '--context prod rollout status deployment/vendor-a-gateway -n proxy-demo --timeout=2m',
      '--context prod rollout status deployment/vendor-b-gateway -n proxy-demo --timeout=2m',
      '--context prod rollout status deployment/vendor-c-gateway -n proxy-demo --timeout=2m',
      '--context prod rollout status deployment/crawler-vendor-a -n crawlers --timeout=2m',
      '--context prod rollout status deployment/crawler-vendor-b -n crawlers --timeout=2m',
      '--context prod rollout status deployment/crawler-vendor-c -n crawlers --timeout=2m',
      '--context prod rollout status deployment/crawler-vendor-b-stale-credentials -n crawlers --timeout=2m',
      '--context prod rollout status deployment/crawler-outside-the-mesh -n proxy-demo-outside --timeout=2m',
      '--context prod rollout status deployment/prometheus -n monitoring --timeout=2m',
      '--context prod rollout status deployment/grafana -n monitoring --timeout=2m',
      '--context prod rollout status deployment/proxy-usage-collector -n monitoring --timeout=2m',
      '--context prod get pods -n crawlers -l proxy-vendor -o json',
      // The first ready crawler and one of each vendor with an inspected gateway: its routes are in its pods only.
      '--context prod exec -n crawlers crawler-vendor-a-6b8f9-p0 -c istio-proxy -- pilot-agent request GET config_dump',
      '--context prod exec -n crawlers crawler-vendor-b-6b8f9-p0 -c istio-proxy -- pilot-agent request GET config_dump',
      // The server-first probe: the demo gateway's banner, from a crawler container through its sidecar.
      expect.stringMatching(/^--context prod exec -n crawlers deploy\/crawler-vendor-a -c crawler -- node -e .* vendor-a-gateway\.proxy-demo\.svc\.cluster\.local 2525$/),
    ]);
    expect(output).toContain('preflight: istio-system/istiod: Istio 1.24.2');
    expect(output).toContain('sidecar: sidecar of crawler-vendor-a-6b8f9-p0.crawlers: HTTP listeners on 80, TLS inspector on 0.0.0.0_443 and none on virtualOutbound, 0 inspected gateway(s) of its vendor routed, 1 of other vendors absent');
    expect(output).toContain('sidecar: sidecar of crawler-vendor-b-6b8f9-p0.crawlers: HTTP listeners on 80, TLS inspector on 0.0.0.0_443 and none on virtualOutbound, 1 inspected gateway(s) of its vendor routed');
    expect(output).toContain('sidecar: server-first probe from crawlers/crawler-vendor-a to vendor-a-gateway.proxy-demo.svc.cluster.local:2525: banner after 12 ms');
    // kubectl apply -f is not recursive: the dashboards for import stay out of the apply.
    expect(fs.readdirSync(path.join(dir, 'out'))).toEqual(['0000-mesh.k8s.yaml', '0001-demo.k8s.yaml', '0002-crawlers.k8s.yaml', '0003-monitoring.k8s.yaml', 'dashboards']);
    // Nothing secret was written to disk.
    expect(fs.readdirSync(dir).sort()).toEqual(['calls.log', 'cdk8s.yaml', 'kubectl', 'out', 'scenario.json']);
    expect(output).toContain('kubectl port-forward -n monitoring svc/grafana 3000:3000');
    expect(output).toContain('kubectl port-forward -n monitoring svc/prometheus 9090:9090');
    // No admin Secret yet: the command to create one is printed, with a generated password.
    expect(output).toContain('kubectl create secret generic grafana-admin -n monitoring');
  });

  test('a second deploy keeps the demo CA and passwords the cluster has, and makes only what is missing from them', () => {
    // GIVEN a cluster with the CA and vendor-a's gateway-side credentials, nothing else
    const { generateDemoCa } = require('../gateway');
    const ca = generateDemoCa();
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    const r = scenario({
      existing: {
        'secret proxy-telemetry-demo-ca -n proxy-demo': { data: { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) } },
        'configmap proxy-telemetry-demo-ca -n crawlers': { data: { 'ca.crt': ca.certPem } },
        'secret proxy-telemetry-demo-vendor-a-credentials -n proxy-demo': { data: { username: b64('crawler'), password: b64('kept') } },
      },
    });

    // THEN nothing present is made again
    expect(r.status).toBe(0);
    const created = r.calls.filter(c => c.startsWith('  creates '));
    expect(created).not.toContain('  creates Secret proxy-demo/proxy-telemetry-demo-ca');
    expect(created).not.toContain('  creates ConfigMap crawlers/proxy-telemetry-demo-ca');
    expect(created).not.toContain('  creates Secret proxy-demo/proxy-telemetry-demo-vendor-a-credentials');
    expect(created).toContain('  creates Secret crawlers/proxy-telemetry-demo-vendor-a-credentials');
  });

  test('a cluster kubectl cannot reach is reported with kubectl\'s own error, not as a missing Istio', () => {
    const r = scenario({ server: { status: 1, stderr: 'error: context "prod" does not exist' } });
    expect(r.status).toBe(1);
    expect(r.output).toContain('kubectl cannot reach the cluster: error: context "prod" does not exist');
    expect(r.output).not.toContain('Istio is not installed');
    expect(r.calls.some(c => c.includes('apply'))).toBe(false);
  });

  test('stops with a clear message when Istio is missing, before applying anything', () => {
    const r = scenario({ istioCrds: false });
    expect(r.status).toBe(1);
    expect(r.output).toContain('Istio is not installed in this cluster');
    expect(r.calls.some(c => c.includes('apply'))).toBe(false);
  });

  test.each<[string, Scenario, string]>([
    ['Istio older than 1.22', { istioImage: 'docker.io/istio/pilot:1.20.3' }, 'istio-system/istiod runs Istio 1.20.3; the stack needs Istio >= 1.22'],
    ['another namespace-wide Telemetry in a crawler namespace', { telemetries: [{ name: 'proxy-telemetry', namespace: 'crawlers' }, { name: 'team-defaults', namespace: 'crawlers' }] },
      'Telemetry crawlers/team-defaults has no selector'],
    ['a provider named prometheus that is not Prometheus', { mesh: 'extensionProviders:\n- name: prometheus\n  opentelemetry:\n    service: otel.observability.svc\n    port: 4317\n' },
      'meshConfig.extensionProviders \'prometheus\' is not a Prometheus provider (opentelemetry)'],
  ])('refuses to apply with %s', (_what, s, message) => {
    const r = scenario(s);
    expect(r.status).toBe(1);
    expect(r.output).toContain(message);
    expect(r.calls.some(c => c.includes('apply'))).toBe(false);
  });

  test('a Telemetry with a selector, or in another namespace, is no conflict; one in istio-system is a warning', () => {
    const r = scenario({ telemetries: [{ name: 'proxy-telemetry', namespace: 'crawlers' }, { name: 'one-app', namespace: 'crawlers', spec: { selector: { matchLabels: { app: 'x' } } } },
      { name: 'other', namespace: 'shop' }, { name: 'mesh-default', namespace: 'istio-system' }] });
    expect(r.status).toBe(0);
    expect(r.output).toContain('WARNING: Telemetry istio-system/mesh-default applies mesh-wide');
  });

  test('a sidecar without the port-80 listener or the TLS listener fails the deploy, naming the istioctl command that shows it', () => {
    const r = scenario({ dumps: { 'crawler-vendor-a-6b8f9-p0': configDump({ listeners: [{ name: 'virtualOutbound' }] }) } });
    expect(r.status).toBe(1);
    expect(r.output).toContain('no listener 0.0.0.0_80: plain HTTP on port 80 is seen as TCP (`istioctl proxy-config listeners crawler-vendor-a-6b8f9-p0.crawlers --port 80`)');
    expect(r.output).toContain('no listener 0.0.0.0_443: TLS on port 443 has no server name');
  });

  test('the harms of a mesh configured the old way fail the deploy: an inspector on virtualOutbound, another vendor\'s gateway routes, a server-first service cut', () => {
    // GIVEN vendor-a's sidecar with the TLS inspector patched into virtualOutbound and vendor-b's routes, and a probe
    // whose banner never comes (the inspector's timeout blackholes the connection)
    const old = healthyDump('vendor-b') as any;
    const listeners = old.configs.find((c: any) => c.dynamic_listeners).dynamic_listeners;
    listeners.find((l: any) => l.name === 'virtualOutbound').active_state.listener.listener_filters = [{ name: 'envoy.filters.listener.tls_inspector' }];
    const r = scenario({ dumps: { 'crawler-vendor-a-6b8f9-p0': old }, probe: 'closed 1003' });

    // THEN
    expect(r.status).toBe(1);
    expect(r.output).toContain('sidecar of crawler-vendor-a-6b8f9-p0.crawlers: virtualOutbound has a tls_inspector listener filter');
    expect(r.output).toContain('routes proxy-vendor-vendor-b-8081-connect, proxy-vendor-vendor-b-8081-forward of vendor vendor-b\'s inspected gateway are in this vendor-a pod\'s sidecar');
    expect(r.output).toContain('server-first probe from crawlers/crawler-vendor-a to vendor-a-gateway.proxy-demo.svc.cluster.local:2525: no banner (closed 1003 ms)');
  });

  test('a failed apply fails the deploy and skips the rollouts', () => {
    const r = scenario({ applyFails: true });
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('kubectl apply failed');
    expect(r.calls.some(c => c.includes('rollout'))).toBe(false);
  });

  test('--app deploys your own cdk8s app: it writes into CDK8S_OUTDIR, then the same checks, apply and rollouts run on its manifests', () => {
    // WHEN in a project whose cdk8s.yaml runs the demo: --app runs yours instead
    const r = scenario({}, ['--outdir', 'out', '--app', MY_APP, '--skip-sidecar-checks']);

    // THEN
    expect(r.output).toContain('synthesized 1 manifests into out/ with --app');
    expect(r.calls).toContain('apply --server-side --field-manager=proxy-telemetry -f out');
    expect(r.calls.filter(c => c.startsWith('rollout'))).toEqual(['rollout status deployment/my-crawler -n crawlers --timeout=5m']);
    // No demo gateway, no Grafana: nothing to make, nothing to forward.
    expect(r.calls.some(c => c.includes('-f -'))).toBe(false);
    expect(r.output).not.toContain('port-forward');
  });

  test('a failing --app stops before applying and leaves the output directory as it was', () => {
    const dir = tempDir('deploy');
    const { log } = fakeKubectl(dir);
    fs.mkdirSync(path.join(dir, 'out'));
    fs.writeFileSync(path.join(dir, 'out', 'keep.k8s.yaml'), 'kind: ConfigMap\n');
    const r = runDeploy(dir, ['--outdir', 'out', '--app', 'node -e "process.exit(3)"']);
    expect(r.status).toBe(1);
    expect(r.output).toContain('synthesis failed, out/ left unchanged: the app command \'node -e "process.exit(3)"\' failed (exit 3)');
    expect(fs.readdirSync(path.join(dir, 'out'))).toEqual(['keep.k8s.yaml']);
    expect(fs.existsSync(log)).toBe(false);
  });

  test.each<[string[], string]>([
    [['--app', 'npx ts-node my-app.ts', '--skip-synth'], '--app and --skip-synth exclude each other'],
    [['--app', ' '], '--app \' \' is empty'],
    [['--skip-synth', '--outdir', 'nowhere'], '--skip-synth applies nowhere/, which does not exist'],
    [['--timeout', 'banana'], '--timeout \'banana\' is not a duration'],
  ])('usage error %j', (args, message) => {
    const r = scenario({}, args);
    expect(r.status).toBe(2);
    expect(r.output).toContain(message);
    expect(r.calls).toEqual([]);
  });

  test('an invalid --timeout is a usage error before anything runs', () => {
    const r = scenario({}, ['--outdir', 'out', '--timeout', 'banana']);
    expect(r.status).toBe(2);
    expect(r.output).toContain('--timeout \'banana\' is not a duration');
    expect(r.calls).toEqual([]);
  });

  test('a missing kubectl is reported by name', () => {
    const dir = tempDir('deploy');
    fs.writeFileSync(path.join(dir, 'cdk8s.yaml'), YAML.stringify({ app: MY_APP }));
    const { status, output } = runDeploy(dir, ['--outdir', 'out'], { KUBECTL: path.join(dir, 'no-such-kubectl') });
    expect(status).toBe(1);
    expect(output).toContain(`cannot run '${path.join(dir, 'no-such-kubectl')}'`);
  });

  test('without cdk8s.yaml and without --app it is a usage error naming the file, before anything runs', () => {
    const dir = tempDir('deploy');
    const { log } = fakeKubectl(dir);
    const r = runDeploy(dir, ['--outdir', 'out']);
    expect(r.status).toBe(2);
    expect(r.output).toContain(`no cdk8s.yaml in ${dir} and no --app`);
    expect(fs.existsSync(log)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);
  });

  test('a cdk8s.yaml without an app is a usage error naming the file and the key', () => {
    const dir = tempDir('deploy');
    const { log } = fakeKubectl(dir);
    fs.writeFileSync(path.join(dir, 'cdk8s.yaml'), 'language: typescript\noutput: dist\n');
    const r = runDeploy(dir, ['--outdir', 'out']);
    expect(r.status).toBe(2);
    expect(r.output).toContain(`${path.join(dir, 'cdk8s.yaml')} has no 'app'`);
    expect(fs.existsSync(log)).toBe(false);
  });
});
