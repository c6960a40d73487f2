import { MeshTelemetry } from '../lib/mesh-telemetry';
import { VendorCatalog } from '../core/vendor';
import { BANNER_PROBE_SCRIPT, Kubectl, MeshExpectations, bannerProbe, checkConfigDump, meshExpectations, preflight, rootTelemetryProblems, sidecarChecks } from '../bin/mesh-checks';
import { configDump } from './support/envoy-config-dump';
import { synthChart } from './support/synth';

/** The sidecar checks of `npm run deploy`, on config dumps of a sidecar with and without what the manifests ask for. */

const objects = synthChart(chart => new MeshTelemetry(chart, 'mesh', {
  vendors: new VendorCatalog([
    { name: 'vendor-a', endpoints: ['gw.vendor-a.example:8000'] },
    { name: 'vendor-b', endpoints: ['proxy.vendor-b.example:22225'], gateway: { inspect: 'http' } },
  ]),
  httpPorts: [80, 8080],
}));
const expected = meshExpectations(objects);
const POD = 'crawler-vendor-b-6b8f9-p0.crawlers';

const TLS_INSPECTOR = { name: 'envoy.filters.listener.tls_inspector', typed_config: {} };
const fullDump = (edit: { dropRoute?: string; fqdn?: boolean; inspector?: boolean; virtualOutboundInspector?: boolean } = {}) => configDump({
  listeners: [
    { name: 'virtualOutbound', listener_filters: edit.virtualOutboundInspector ? [TLS_INSPECTOR] : [] },
    { name: '0.0.0.0_443', listener_filters: edit.inspector === false ? [] : [TLS_INSPECTOR] },
    { name: '0.0.0.0_80' }, { name: '0.0.0.0_8080' }, { name: '0.0.0.0_22225' },
  ],
  routes: [{
    name: '22225',
    virtual_hosts: [
      { name: 'proxy.vendor-b.example:22225', domains: ['proxy.vendor-b.example', 'proxy.vendor-b.example:22225'], routes: [{ name: 'default' }] },
      { name: 'allow_any', domains: ['*'], routes: ['proxy-vendor-vendor-b-22225-connect', 'proxy-vendor-vendor-b-22225-forward', 'allow_any'].filter(n => n !== edit.dropRoute).map(name => ({ name })) },
    ],
  }],
  clusters: [{
    name: 'outbound|22225||proxy.vendor-b.example',
    typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { explicit_http_config: { http_protocol_options: { send_fully_qualified_url: edit.fqdn ?? true } } } },
  }],
});

test('expectations come from the synthesized objects', () => {
  expect(expected).toMatchObject({
    crawlerNamespaces: ['crawlers'], httpPorts: [80, 8080],
    inspectedGateways: [{ vendor: 'vendor-b', host: 'proxy.vendor-b.example', port: 22225, routePrefix: 'proxy-vendor-vendor-b-22225' }],
  });
  expect(expected.telemetryUpserts).toEqual(expect.arrayContaining(['REQUEST_COUNT/destination_host', 'TCP_CLOSED_CONNECTIONS/destination_sni']));
});

/** Expectations as the manifests of the issue give them: one TLS port, vendor-b's inspected gateway. */
const EXPECTED: MeshExpectations = {
  ...expected, tlsPorts: [443],
  inspectedGateways: [{ vendor: 'vendor-b', host: 'proxy.vendor-b.example', port: 22225, routePrefix: 'proxy-vendor-vendor-b-22225' }],
};

test('a sidecar with everything passes', () => {
  expect(checkConfigDump(fullDump(), EXPECTED, POD, 'vendor-b')).toEqual([]);
});

test('each missing piece is named, with the istioctl command that shows it', () => {
  expect(checkConfigDump(fullDump({ dropRoute: 'proxy-vendor-vendor-b-22225-connect' }), EXPECTED, POD, 'vendor-b')).toEqual([
    `route proxy-vendor-vendor-b-22225-connect is missing from route configuration 22225: CONNECT through the gateway gets 404 NR from the sidecar (\`istioctl proxy-config routes ${POD} --name 22225 -o json\`)`,
  ]);
  expect(checkConfigDump(fullDump({ fqdn: false }), EXPECTED, POD, 'vendor-b')).toEqual([
    `cluster outbound|22225||proxy.vendor-b.example does not send absolute-form URLs: the gateway receives origin-form requests (\`istioctl proxy-config clusters ${POD} --fqdn proxy.vendor-b.example --port 22225 -o json\`)`,
  ]);
  expect(checkConfigDump(fullDump({ inspector: false }), EXPECTED, POD, 'vendor-b')).toEqual([
    `listener 0.0.0.0_443 has no tls_inspector: TLS on port 443 has no server name (\`istioctl proxy-config listeners ${POD} --port 443 -o json | grep tls_inspector\`)`,
  ]);
  expect(checkConfigDump(configDump({}), EXPECTED, POD, 'vendor-b')).toHaveLength(6);
});

test('virtualOutbound must have no tls_inspector: server-first protocols would stall on every port', () => {
  const failures = checkConfigDump(fullDump({ virtualOutboundInspector: true }), EXPECTED, POD, 'vendor-b');
  expect(failures).toHaveLength(1);
  expect(failures[0]).toMatch(/^virtualOutbound has a tls_inspector listener filter: .*server-first protocols/);
});

test('an inspected gateway\'s routes appear only in its own vendor\'s pods', () => {
  const otherPod = 'crawler-vendor-a-7c9d-p1.crawlers';
  // A vendor-a pod with vendor-b's routes: the EnvoyFilter lacks its workloadSelector.
  const leaked = checkConfigDump(fullDump(), EXPECTED, otherPod, 'vendor-a');
  expect(leaked).toEqual([expect.stringMatching(/^routes proxy-vendor-vendor-b-22225-connect, proxy-vendor-vendor-b-22225-forward of vendor vendor-b's inspected gateway are in this vendor-a pod's sidecar: .*workloadSelector proxy-vendor=vendor-b/)]);
  // Without them, it passes; no cluster or route of vendor-b is required there.
  const selected = configDump({ listeners: [{ name: 'virtualOutbound' }, { name: '0.0.0.0_443', listener_filters: [TLS_INSPECTOR] }, { name: '0.0.0.0_80' }, { name: '0.0.0.0_8080' }],
    routes: [{ name: '80', virtual_hosts: [{ name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any' }] }] }] });
  expect(checkConfigDump(selected, EXPECTED, otherPod, 'vendor-a')).toEqual([]);
});

/** A stand-in kubectl answering from recorded JSON, logging its calls. */
function fakeKubectl(answers: Array<[RegExp, { status?: number; stdout?: unknown; stderr?: string }]>): Kubectl & { calls: string[] } {
  const calls: string[] = [];
  const run = ((args: string[]) => {
    const cmd = args.join(' ');
    calls.push(cmd);
    const hit = answers.find(([re]) => re.test(cmd))?.[1];
    if (!hit) return { status: 1, stdout: '', stderr: `unexpected: ${cmd}` };
    return { status: hit.status ?? 0, stdout: typeof hit.stdout === 'string' ? hit.stdout : (hit.stdout === undefined ? '' : JSON.stringify(hit.stdout)), stderr: hit.stderr ?? '' };
  }) as Kubectl & { calls: string[] };
  run.calls = calls;
  return run;
}

const readyPod = (name: string, vendor: string) => ({ metadata: { name, labels: { 'proxy-vendor': vendor } }, status: { containerStatuses: [{ name: 'istio-proxy', ready: true }] } });

test('sidecar checks read a pod of each inspected vendor besides the first pod', () => {
  const kubectl = fakeKubectl([
    [/get pods/, { stdout: { items: [readyPod('crawler-vendor-a-1', 'vendor-a'), readyPod('crawler-vendor-b-1', 'vendor-b')] } }],
    [/exec -n crawlers crawler-vendor-a-1 /, { stdout: configDump({ listeners: [{ name: 'virtualOutbound' }, { name: '0.0.0.0_443', listener_filters: [TLS_INSPECTOR] }, { name: '0.0.0.0_80' }, { name: '0.0.0.0_8080' }] }) }],
    [/exec -n crawlers crawler-vendor-b-1 /, { stdout: fullDump() }],
  ]);
  const report = sidecarChecks(kubectl, EXPECTED);
  expect(report.errors).toEqual([]);
  expect(kubectl.calls.filter(c => c.includes('config_dump'))).toHaveLength(2);
  expect(report.notes).toContain('server-first probe skipped: no Service port named tcp-banner in the manifests (the demo gateway\'s banner port)');
  // vendor-b's routes leaking into vendor-a's pod fail.
  const leaking = fakeKubectl([
    [/get pods/, { stdout: { items: [readyPod('crawler-vendor-a-1', 'vendor-a'), readyPod('crawler-vendor-b-1', 'vendor-b')] } }],
    [/config_dump/, { stdout: fullDump() }],
  ]);
  expect(sidecarChecks(leaking, EXPECTED).errors).toEqual([expect.stringMatching(/^sidecar of crawler-vendor-a-1\.crawlers: routes proxy-vendor-vendor-b-22225-connect/)]);
});

describe('server-first probe', () => {
  const withBanner: MeshExpectations = { ...EXPECTED, crawlers: [{ namespace: 'crawlers', name: 'crawler-vendor-a', headerGaps: [] }], banner: { namespace: 'proxy-demo', service: 'vendor-a-gateway', port: 2525 } };

  test('the banner within a second passes; a stalled or cut connection fails; the script runs in the crawler container', () => {
    const ok = fakeKubectl([[/exec/, { stdout: 'banner 12 220 proxy-telemetry probe\n' }]]);
    expect(bannerProbe(ok, withBanner)).toEqual({ errors: [], warnings: [], notes: ['server-first probe from crawlers/crawler-vendor-a to vendor-a-gateway.proxy-demo.svc.cluster.local:2525: banner after 12 ms'] });
    expect(ok.calls).toEqual([`exec -n crawlers deploy/crawler-vendor-a -c crawler -- node -e ${BANNER_PROBE_SCRIPT} vendor-a-gateway.proxy-demo.svc.cluster.local 2525`]);
    const cut = fakeKubectl([[/exec/, { status: 1, stdout: 'closed 1003\n' }]]);
    expect(bannerProbe(cut, withBanner).errors).toEqual([expect.stringContaining('no banner (closed 1003 ms)')]);
    const slow = fakeKubectl([[/exec/, { stdout: 'banner 1500 220 proxy-telemetry probe\n' }]]);
    expect(bannerProbe(slow, withBanner).errors).toEqual([expect.stringContaining('the banner took 1500 ms')]);
    const noExec = fakeKubectl([[/exec/, { status: 1, stderr: 'error: unable to upgrade connection' }]]);
    expect(bannerProbe(noExec, withBanner).warnings).toEqual([expect.stringContaining('could not run: error: unable to upgrade connection')]);
  });

  test('the probe script itself: against a local server-first service it prints the banner and its time', () => {
    const net = require('node:net');
    const { spawnSync } = require('node:child_process');
    const server = net.createServer((s: any) => s.end('220 proxy-telemetry probe\r\n'));
    return new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      const child = require('node:child_process').spawn(process.execPath, ['-e', BANNER_PROBE_SCRIPT, '127.0.0.1', String(port)]);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.on('close', (code: number) => {
        server.close();
        expect(code).toBe(0);
        expect(out).toMatch(/^banner \d+ 220 proxy-telemetry probe\n$/);
        void spawnSync;
        resolve();
      });
    }));
  });
});

test('manifests: crawler Deployments without the transparent proxy headers are named with the fix', () => {
  const deployment = (name: string, annotations?: Record<string, string>) => ({ kind: 'Deployment', metadata: { name, namespace: 'crawlers' }, spec: { template: { metadata: { labels: { 'proxy-vendor': 'vendor-a' }, annotations } } } });
  const transparent = JSON.stringify({ proxyHeaders: { server: { disabled: true }, requestId: { disabled: true }, attemptCount: { disabled: true }, envoyDebugHeaders: { disabled: true }, metadataExchangeHeaders: { mode: 'IN_MESH' }, preserveHttp1HeaderCase: true } });
  const m = meshExpectations([...objects, deployment('mine'), deployment('ok', { 'proxy.istio.io/config': transparent })] as any);
  expect(m.crawlers.filter(c => c.name === 'mine' || c.name === 'ok').map(c => [c.name, c.headerGaps.length > 0])).toEqual([['mine', true], ['ok', false]]);
  const report = preflight(fakeKubectl([[/version/, { status: 1, stderr: 'no cluster' }]]), m);
  expect(report.warnings).toEqual([expect.stringMatching(/^Deployment crawlers\/mine: its pods lack the transparent proxy headers \(proxyHeaders\.server\.disabled, .*makeSidecarTransparent\(deployment\).*proxy\.istio\.io\/config/)]);
});

describe('root-namespace Telemetry', () => {
  const upserts = ['REQUEST_COUNT/destination_host', 'TCP_CLOSED_CONNECTIONS/destination_sni'];
  test('a disabled contract metric or a removed contract tag that ours does not set is a problem; a removed tag ours UPSERTs is not', () => {
    expect(rootTelemetryProblems({ metrics: [{ overrides: [
      { match: { metric: 'REQUEST_COUNT', mode: 'CLIENT' }, disabled: true },
      { match: { metric: 'ALL_METRICS' }, tagOverrides: { destination_service: { operation: 'REMOVE' } } },
      { match: { metric: 'REQUEST_COUNT' }, tagOverrides: { destination_host: { operation: 'REMOVE' } } },
      { match: { metric: 'REQUEST_SIZE', mode: 'SERVER' }, tagOverrides: { response_code: { operation: 'REMOVE' } } },
    ] }] }, upserts)).toEqual([
      'disables REQUEST_COUNT',
      'removes tag destination_service from REQUEST_COUNT, TCP_SENT_BYTES, TCP_RECEIVED_BYTES, TCP_OPENED_CONNECTIONS, TCP_CLOSED_CONNECTIONS',
    ]);
    expect(rootTelemetryProblems({ metrics: [{ overrides: [{ match: { metric: 'REQUEST_SIZE' }, tagOverrides: { response_code: { operation: 'REMOVE' }, source_app: { operation: 'REMOVE' } } }] }] }, upserts))
      .toEqual(['removes tag response_code from REQUEST_SIZE']);
    expect(rootTelemetryProblems({ metrics: [{ providers: [{ name: 'stackdriver' }], overrides: [{ disabled: true, match: { metric: 'REQUEST_COUNT' } }] }] }, upserts)).toEqual([]);
  });

  test('preflight: an error naming the root Telemetry; a harmless one stays a warning', () => {
    const cluster = (spec: object) => fakeKubectl([
      [/get --raw \/version/, { stdout: {} }],
      [/get crd/, { stdout: 'ok' }],
      [/get deployments/, { stdout: { items: [{ metadata: { name: 'istiod', namespace: 'istio-system' }, spec: { template: { spec: { containers: [{ image: 'istio/pilot:1.26.1' }] } } } }] } }],
      [/get configmaps/, { stdout: { items: [{ metadata: { name: 'istio' }, data: { mesh: 'rootNamespace: istio-system\n' } }] } }],
      [/get telemetries/, { stdout: { items: [{ metadata: { name: 'proxy-telemetry', namespace: 'crawlers' }, spec: {} }, { metadata: { name: 'mesh-default', namespace: 'istio-system' }, spec }] } }],
    ]);
    const bad = preflight(cluster({ metrics: [{ overrides: [{ match: { metric: 'ALL_METRICS', mode: 'CLIENT_AND_SERVER' }, tagOverrides: { request_protocol: { operation: 'REMOVE' } } }] }] }), EXPECTED);
    expect(bad.errors).toEqual([expect.stringMatching(/^Telemetry istio-system\/mesh-default applies mesh-wide and removes tag request_protocol from REQUEST_COUNT, .*Istio merges it before/)]);
    const fine = preflight(cluster({ accessLogging: [{ providers: [{ name: 'envoy' }] }] }), EXPECTED);
    expect(fine.errors).toEqual([]);
    expect(fine.warnings).toEqual([expect.stringContaining('Telemetry istio-system/mesh-default applies mesh-wide')]);
  });
});
