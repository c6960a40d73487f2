import * as path from 'path';
import { spawn } from 'child_process';
import { RULE } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import type { ValidationResult } from '../bin/validate';
import { CrawlerFlow } from '../harness/crawler-flows';
import { FLEET_NAMESPACE, FLEET_VENDORS, INSPECTED_GATEWAY, fleetPods } from './support/fleet';
import { SidecarModel } from '../harness/istio-sidecar';
import { PrometheusProcess } from '../harness/prometheus-process';
import { KubeObject } from '../harness/kube-object';
import { SidecarSim } from '../harness/sidecar-sim';
import { FleetPod, byLabels, expectClose, runAccelerated, startSimulatedStack } from './support/simulated-stack';

/**
 * Controls: crawlers whose sidecars lack one object the product synthesizes, next to the same crawlers behind the
 * product's sidecars, all scraped by one real Prometheus with the product's rules. A, B and the response codes must
 * miss the truth exactly where the missing object says, and `proxy-telemetry validate` must tell: a test suite
 * that cannot fail on a blind sidecar would prove nothing.
 * - blind-http-c: vendor-c's crawlers without the port-80 HTTP ServiceEntry (a minimal-profile mesh has no other);
 * - blind-sni-c: vendor-c's crawlers without the TLS ServiceEntry on 443, whose listener's TLS inspector reads server names;
 * - unrouted-b: vendor-b's crawlers, inspected gateway, without the gateway's EnvoyFilter routes.
 */

const NS = FLEET_NAMESPACE;
const UNROUTED_GATEWAY = 'proxy.unrouted-b.example:22226';
const vendors = new VendorCatalog([
  ...FLEET_VENDORS,
  { name: 'blind-http-c' }, { name: 'blind-sni-c' },
  { name: 'unrouted-b', endpoints: [UNROUTED_GATEWAY], gateway: { inspect: 'http' } },
]);

/** The sidecar of a pod of `vendor` (EnvoyFilters select pods by their proxy-vendor label), without some objects. */
const without = (vendor: string | undefined, kind: string, ...names: string[]) => (objects: KubeObject[]) =>
  SidecarModel.fromObjects(objects.filter(o => !(o.kind === kind && names.includes(o.metadata.name))), NS, { podLabels: vendor ? { 'proxy-vendor': vendor } : {} });
const fleet = fleetPods('127.13.0');
const copies = (vendor: string, as: string, n: number, sidecar: FleetPod['sidecar'], flows = (f: CrawlerFlow) => f): FleetPod[] =>
  fleet.filter(p => p.vendor === vendor).map((p, i) => ({
    ...p, name: p.name.replace(vendor, as), vendor: as, ip: `127.13.${n}.${i + 1}`, flows: p.flows.map(flows), sidecar,
  }));
const PODS: FleetPod[] = [
  // Every pod's sidecar is the model of its own pod: its vendor label decides which EnvoyFilters apply.
  ...fleet.map(p => ({ ...p, sidecar: without(p.vendor, 'None') })),
  ...copies('vendor-c', 'blind-http-c', 1, without('blind-http-c', 'ServiceEntry', 'proxy-telemetry-http-80')),
  // SNI comes from the TLS ServiceEntry's listener (tlsPorts 443); without it no listener filter reads server names.
  ...copies('vendor-c', 'blind-sni-c', 2, without('blind-sni-c', 'ServiceEntry', 'proxy-telemetry-tls-443')),
  ...copies('vendor-b', 'unrouted-b', 3, without('unrouted-b', 'EnvoyFilter', 'proxy-vendor-unrouted-b-22226'),
    f => (f.kind === 'gateway' && f.gateway === INSPECTED_GATEWAY ? { ...f, gateway: UNROUTED_GATEWAY } : f)),
];
const CLI = path.join(__dirname, '..', 'bin', 'proxy-telemetry.js');

let sim: SidecarSim;
let prom: PrometheusProcess;

beforeAll(async () => {
  const started = await startSimulatedStack(PODS, { vendors, namespace: NS });
  sim = started.sim;
  prom = await runAccelerated(sim, started.config.configFile);
}, 90_000);

afterAll(async () => {
  await prom?.stop();
  await sim?.stop();
});



test('the product\'s sidecars see what the contract promises: the controls\' originals pass', async () => {
  const requests = await byLabels(prom, RULE.requests, 'proxy_vendor', 'request_protocol');
  const destinations = await byLabels(prom, RULE.destinationRequests, 'proxy_vendor', 'destination', 'request_protocol');
  for (const vendor of ['vendor-b', 'vendor-c']) {
    expectClose(requests.get(`${vendor}/http`), sim.rates({ vendor, protocol: 'http' }).requests, `${vendor} HTTP requests/s`);
    for (const [key, value] of sim.perDestination({ vendor })) expectClose(destinations.get(`${vendor}/${key}`), value, `${vendor} ${key}`);
  }
});

test('without the port-80 HTTP ServiceEntry, A and B miss every HTTP request and host; bytes (C, D) still add up', async () => {
  const vendor = 'blind-http-c';
  const requests = await byLabels(prom, RULE.requests, 'proxy_vendor', 'request_protocol');
  const destinations = await byLabels(prom, RULE.destinationRequests, 'proxy_vendor', 'destination', 'request_protocol');
  const truth = sim.rates({ vendor, protocol: 'http' }).requests;
  expect(truth).toBeGreaterThan(0);
  expect(() => expectClose(requests.get(`${vendor}/http`), truth, 'A')).toThrow('no result');
  const hosts = [...sim.perDestination({ vendor }).keys()].filter(k => k.endsWith('/http'));
  expect(hosts).toEqual(expect.arrayContaining(['example.io/http', 'example.com/http']));
  for (const key of hosts) expect(destinations.has(`${vendor}/${key}`)).toBe(false);
  // Plain HTTP became TCP connections to "unknown".
  expect(destinations.get(`${vendor}/unknown/tcp`)).toBeGreaterThan(sim.rates({ vendor, destination: 'unknown' }).connections);
  expectClose((await byLabels(prom, RULE.vendorSentBytes, 'proxy_vendor')).get(vendor), sim.rates({ vendor }).uploadBytes, 'C');
  expectClose((await byLabels(prom, RULE.vendorReceivedBytes, 'proxy_vendor')).get(vendor), sim.rates({ vendor }).downloadBytes, 'D');
});

test('without the TLS inspector, B names no HTTPS site: every TLS connection is "unknown"', async () => {
  const vendor = 'blind-sni-c';
  const destinations = await byLabels(prom, RULE.destinationRequests, 'proxy_vendor', 'destination', 'request_protocol');
  const truth = sim.perDestination({ vendor });
  expect(truth.get('www.wikipedia.org/tcp')).toBeGreaterThan(0);
  expect(() => expectClose(destinations.get(`${vendor}/www.wikipedia.org/tcp`), truth.get('www.wikipedia.org/tcp')!, 'B')).toThrow('no result');
  const tcp = [...truth].filter(([k]) => k.endsWith('/tcp')).reduce((n, [, v]) => n + v, 0);
  expectClose(destinations.get(`${vendor}/unknown/tcp`), tcp, `${vendor} unknown connections/s`);
});

test('an inspected gateway without its routes: the sidecar answers CONNECT itself (404) and the gateway gets origin-form requests (400)', async () => {
  const vendor = 'unrouted-b';
  const codes = await byLabels(prom, RULE.responseCodes, 'proxy_vendor', 'response_code');
  const mine = new Map([...codes].filter(([k]) => k.startsWith(`${vendor}/`)).map(([k, v]) => [k.split('/')[1], v]));
  expect([...mine.keys()].sort()).toEqual(['400', '404']);
  const tunnels = PODS.filter(p => p.vendor === vendor).flatMap(p => p.flows).filter(f => f.kind === 'gateway' && f.scheme === 'https').reduce((n, f) => n + f.perSecond, 0);
  expectClose(mine.get('404'), tunnels, 'CONNECTs refused by the sidecar');
  // Nothing reached the gateway's own cluster.
  expect([...(await byLabels(prom, RULE.gatewayRequests, 'proxy_vendor')).keys()]).not.toContain(vendor);
});

test('proxy-telemetry validate tells: E fails for the gateway without routes and warns about the missing server names', async () => {
  const r = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'validate', '--prometheus', prom.url, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', c => (stdout += c));
    child.once('error', reject);
    child.once('close', code => resolve({ code, stdout }));
  });
  expect(r.code).toBe(1);
  const result = JSON.parse(r.stdout) as ValidationResult;
  const { A, B, C, D, E } = result.checks!;
  expect([A.status, B.status, C.status, D.status, E.status]).toEqual(['PASS', 'PASS', 'PASS', 'PASS', 'FAIL']);
  const byVendor = Object.fromEntries(E.vendors.map(f => [f.vendor, f]));
  expect(byVendor['unrouted-b']).toMatchObject({ status: 'FAIL', gatewayInspection: 'http' });
  expect(byVendor['unrouted-b'].detail).toContain('no request reached its cluster');
  expect(byVendor['blind-sni-c']).toMatchObject({ status: 'WARN', gatewayInspection: 'none' });
  expect(byVendor['blind-sni-c'].detail).toContain('no TLS server name is seen');
  expect(byVendor['vendor-b']).toMatchObject({ status: 'PASS', gatewayInspection: 'http' });
  for (const ok of ['vendor-a', 'vendor-c']) expect(byVendor[ok]).toBeUndefined();
}, 60_000);
