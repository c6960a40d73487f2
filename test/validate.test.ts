import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { RULE } from '../core/rules';
import type { ValidationResult } from '../bin/validate';
import { parseHostPort } from '../harness/crawler-flows';
import { FLEET_NAMESPACE, TCP_GATEWAY, fleetPods, fleetVendors } from './support/fleet';
import { materializeConfig } from './support/prometheus-config';
import { PrometheusProcess, freePort } from '../harness/prometheus-process';
import { SidecarSim } from '../harness/sidecar-sim';
import { expectClose, startSimulatedStack } from './support/simulated-stack';
import { DEMO_GATEWAY_JOB } from '../core/metric-contract';
import { GatewayRun, LOOPBACK, cleanup as stopGateways, proxyRequest, removeTemporaryFiles as removeGatewayFiles, startGateway } from './gateway/helpers';

/**
 * `proxy-telemetry validate`, run as a child process against real Prometheus servers: one with the product's
 * scrape config and rules over simulated sidecars (figures must match the simulator's truth), one without the
 * rules, one scraping no sidecar, and none at all.
 */

const NS = FLEET_NAMESPACE;
const PODS = fleetPods('127.10.1');
const TUNNEL_A = parseHostPort(TCP_GATEWAY).host;
const VENDORS = ['vendor-a', 'vendor-b', 'vendor-c'];
const CLI = path.join(__dirname, '..', 'bin', 'proxy-telemetry.js');

let sim: SidecarSim;
let full: PrometheusProcess;
let noRules: PrometheusProcess;
let empty: PrometheusProcess;
/** The full stack plus two demo gateways: vendor-a's received headers a sidecar adds, vendor-b's did not. */
let demo: PrometheusProcess;
let gateways: GatewayRun[] = [];
/** Resolves once the simulated clock has caught up and the rules have been evaluated over full windows. */
let caughtUp: Promise<void>;

interface CliRun { code: number | null; stdout: string; stderr: string }

/** Runs the CLI asynchronously: the simulated sidecars live in this process and must keep answering scrapes. */
function cli(args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', c => (stdout += c));
    child.stderr.on('data', c => (stderr += c));
    child.once('error', reject);
    child.once('close', code => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  const started = await startSimulatedStack(PODS, { vendors: fleetVendors(), namespace: NS });
  sim = started.sim;
  const { stack, config } = started;
  const configDir = config.dir;
  // The same scrape config without rule_files.
  const withoutRules = YAML.parse(fs.readFileSync(config.configFile, 'utf8'));
  delete withoutRules.rule_files;
  const noRulesFile = path.join(configDir, 'prometheus-no-rules.yml');
  fs.writeFileSync(noRulesFile, YAML.stringify(withoutRules));
  // The product's config and rules, with no sidecar to discover.
  const emptyConfig = materializeConfig(stack.renderPrometheusConfig(), stack.renderRules(), []);

  // Two demo gateways (the real bundle): one got requests as a default sidecar forwards them, one as the crawler wrote them.
  gateways = await Promise.all([startGateway({ VENDOR: 'vendor-a' }), startGateway({ VENDOR: 'vendor-b' })]);
  const [dirty, clean] = gateways;
  for (let i = 0; i < 3; i++) {
    expect((await proxyRequest(dirty.port, `http://example.com/p${i}`, { 'x-request-id': `id-${i}`, 'x-envoy-peer-metadata': 'Q2lRS0JrTkNUMUZVUlEK', 'x-proxy-vendor': 'vendor-a' })).status).toBe(200);
  }
  expect((await proxyRequest(dirty.port, 'http://example.com/clean', { 'x-proxy-vendor': 'vendor-a' })).status).toBe(200);
  expect((await proxyRequest(clean.port, 'http://example.org/', { 'x-proxy-vendor': 'vendor-b', 'user-agent': 'crawler', accept: '*/*' })).status).toBe(200);
  const withGateways = YAML.parse(fs.readFileSync(config.configFile, 'utf8'));
  withGateways.scrape_configs.push({
    job_name: DEMO_GATEWAY_JOB, scrape_interval: '1s',
    static_configs: [{ targets: gateways.map(g => `${LOOPBACK}:${g.metricsPort}`) }],
  });
  const demoFile = path.join(configDir, 'prometheus-demo-gateways.yml');
  fs.writeFileSync(demoFile, YAML.stringify(withGateways));

  [full, noRules, empty, demo] = await Promise.all([
    PrometheusProcess.start({ configFile: config.configFile }),
    PrometheusProcess.start({ configFile: noRulesFile }),
    PrometheusProcess.start({ configFile: emptyConfig.configFile }),
    PrometheusProcess.start({ configFile: demoFile }),
  ]);
  await sim.waitForAllScraped(20_000);
  sim.startClock({ historySeconds: 420, speedup: 20 });
  // The full-stack tests wait for this; the others run meanwhile.
  caughtUp = sim.waitForCatchUp(3000);
  caughtUp.catch(() => undefined);
}, 60_000);

afterAll(async () => {
  await caughtUp?.catch(() => undefined);
  await Promise.all([full?.stop(), noRules?.stop(), empty?.stop(), demo?.stop()]);
  await stopGateways();
  removeGatewayFiles();
  await sim?.stop();
});

test('usage errors exit 2 and --help documents the exit codes', async () => {
  const [unknown, missing, badWindow, help, badUrl] = await Promise.all([
    cli(['validate', '--prometheus', full.url, '--bogus']),
    cli(['validate']),
    cli(['validate', '--prometheus', full.url, '--window', 'soon']),
    cli(['--help']),
    cli(['validate', '--prometheus', 'ftp://localhost:9090']),
  ]);
  expect(unknown.code).toBe(2);
  expect(badUrl.code).toBe(2);
  expect(badUrl.stderr).toContain('\'--prometheus\' ("ftp://localhost:9090") must be an http(s) URL');
  expect(unknown.stderr).toMatch(/--bogus/);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/--prometheus URL is required/);
  expect(badWindow.code).toBe(2);
  expect(help.code).toBe(0);
  for (const code of ['0  all checks PASS', '1  some check FAILs', '2  usage error', '3  Prometheus unreachable', '4  Prometheus has no Istio series', '5  the recording rules']) {
    expect(help.stdout).toContain(code);
  }
});

test('an unreachable Prometheus exits 3 with the URL and the port-forward hint', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const r = await cli(['validate', '--prometheus', url]);
  expect(r.code).toBe(3);
  expect(r.stderr).toContain(`cannot reach Prometheus at ${url}: connection refused`);
  expect(r.stderr).toContain('kubectl port-forward -n monitoring svc/prometheus 9090:9090');
});

test('a Prometheus that scrapes no sidecar exits 4', async () => {
  const r = await cli(['validate', '--prometheus', empty.url]);
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(/no Istio sidecar is scraped/);
  expect(r.stderr).toMatch(/injected/);
  const json = await cli(['validate', '--prometheus', empty.url, '--json']);
  expect(json.code).toBe(4);
  expect((JSON.parse(json.stdout) as ValidationResult).outcome).toBe('empty');
});

test('the full stack passes A–D with figures within 2% of the truth', async () => {
  await caughtUp;
  const [text, json] = await Promise.all([
    cli(['validate', '--prometheus', full.url]),
    cli(['validate', '--prometheus', full.url, '--json', '--window', '30m', '--top', '3']),
  ]);
  expect({ code: text.code, stderr: text.stderr }).toEqual({ code: 0, stderr: '' });
  for (const line of ['A. Request count per proxy vendor: PASS', 'B. Destination tracking (top 5 per vendor): PASS', 'C. Bandwidth sent (upload): PASS', 'D. Bandwidth received (download): PASS', 'E. What the sidecars parse: PASS', 'Result: PASS']) {
    expect(text.stdout).toContain(line);
  }
  for (const vendor of VENDORS) expect(text.stdout).toContain(vendor);
  expect(text.stdout).toMatch(/WARNING: unattributed traffic: .* in namespace crawlers/);

  expect(json.code).toBe(0);
  const r = JSON.parse(json.stdout) as ValidationResult;
  expect(r.outcome).toBe('checked');
  expect(r.window.seconds).toBe(1800);
  const { A, B, C, D } = r.checks!;
  expect(A.vendors.map(v => v.vendor)).toEqual(VENDORS);
  for (const vendor of VENDORS) {
    const truth = sim.rates({ vendor });
    const a = A.vendors.find(v => v.vendor === vendor)!;
    expectClose(a.httpRequestsPerSecond, truth.requests, `${vendor} HTTP requests/s`);
    expectClose(a.tcpConnectionsPerSecond, truth.connections, `${vendor} TCP connections/s`);
    expect(a.httpRequestsInWindow + a.tcpConnectionsInWindow).toBeGreaterThan(0);
    const c = C.vendors.find(v => v.vendor === vendor)!;
    const d = D.vendors.find(v => v.vendor === vendor)!;
    expectClose(c.bytesPerSecond, truth.uploadBytes, `${vendor} bytes sent/s`);
    expectClose(d.bytesPerSecond, truth.downloadBytes, `${vendor} bytes received/s`);
    const pods = PODS.filter(p => p.vendor === vendor);
    expect(c.pods).toBe(pods.length);
    for (const p of pods) {
      expectClose(c.perPod.find(x => x.pod === p.name)?.bytesPerSecond, sim.rates({ pod: p.name }).uploadBytes, `${p.name} bytes sent/s`);
      expectClose(d.perPod.find(x => x.pod === p.name)?.bytesPerSecond, sim.rates({ pod: p.name }).downloadBytes, `${p.name} bytes received/s`);
    }
  }
  // B: per destination as the contract names them (Host, gateway host, SNI).
  const dest = (vendor: string, destination: string) => B.vendors.find(v => v.vendor === vendor)?.destinations.find(x => x.destination === destination)?.perSecond;
  for (const [vendor, destination] of [['vendor-a', TUNNEL_A], ['vendor-b', 'example.com'], ['vendor-b', 'www.wikipedia.org'], ['vendor-b', 'example.org'], ['vendor-c', 'example.io'], ['vendor-c', 'example.com']]) {
    const truth = sim.rates({ vendor, destination });
    expectClose(dest(vendor, destination), truth.requests + truth.connections, `${vendor} → ${destination} per second`);
  }
  expect(B.vendors.every(v => v.destinations.length <= 3)).toBe(true);
  // E: the inspected gateway carries requests; nothing to report for the others.
  expect(r.checks!.E.vendors.map(f => [f.vendor, f.status, f.gatewayInspection])).toEqual([['vendor-b', 'PASS', 'http']]);
  expectClose(Number(/^([\d.]+) requests/.exec(r.checks!.E.vendors[0].detail)?.[1]), sim.rates({ vendor: 'vendor-b', protocol: 'http' }).requests, 'vendor-b requests through its gateway');
  // The unlabelled pod's bytes are reported, not lost.
  const unlabelled = sim.rates({ vendor: null });
  expectClose(r.unattributed!.find(u => u.namespace === NS)?.bytesPerSecond, unlabelled.uploadBytes + unlabelled.downloadBytes, 'unattributed bytes/s');
  expect(r.warnings).toHaveLength(1);
  // F: no demo gateway is scraped here, so nothing measures the headers: not checked, and no failure.
  expect(r.checks!.F).toMatchObject({ status: 'NOT CHECKED', vendors: [] });
  expect(r.checks!.F.note).toContain('only the demo gateways measure');
  expect(text.stdout).toContain('F. The sidecar is transparent: NOT CHECKED');
  expect(text.stdout).toContain('Result: PASS (A, B, C, D, E); not checked: F');
}, 60_000);

test('with demo gateways scraped, F fails naming each vendor and header a sidecar added, with counts; a vendor whose requests arrived as sent is not listed', async () => {
  await caughtUp;
  const deadline = Date.now() + 20_000;
  while (((await demo.query('sum(gateway_injected_headers_total{vendor="vendor-a"})'))[0]?.value ?? 0) < 6) {
    if (Date.now() > deadline) throw new Error('the demo gateways were never scraped');
    await new Promise(r => setTimeout(r, 200));
  }
  expect((await demo.query('count(gateway_injected_headers_total{vendor="vendor-b"})'))[0]?.value).toBeGreaterThan(0);
  const [text, json] = await Promise.all([
    cli(['validate', '--prometheus', demo.url]),
    cli(['validate', '--prometheus', demo.url, '--json']),
  ]);
  expect(text.code).toBe(1);
  expect(text.stdout).toContain('F. The sidecar is transparent: FAIL');
  expect(text.stdout).toMatch(/vendor-a\s+x-envoy-peer-metadata\s+3 requests over 1h/);
  expect(text.stdout).toMatch(/vendor-a\s+x-request-id\s+3 requests over 1h/);
  expect(text.stdout).toMatch(/Result: FAIL \(.*F\)/);
  const r = JSON.parse(json.stdout) as ValidationResult;
  expect(json.code).toBe(1);
  expect(r.checks!.F.status).toBe('FAIL');
  expect(r.checks!.F.vendors).toEqual([
    { vendor: 'vendor-a', header: 'x-envoy-peer-metadata', requests: 3 },
    { vendor: 'vendor-a', header: 'x-request-id', requests: 3 },
  ]);
  expect(r.checks!.F.note).toContain('proxy.istio.io/config');
}, 60_000);

test('a Prometheus scraping the sidecars without the rules exits 5', async () => {
  await caughtUp;
  // Raw series are there...
  expect((await noRules.query(`count(istio_requests_total)`))[0]?.value).toBeGreaterThan(0);
  expect(await noRules.query(RULE.requests)).toEqual([]);
  // ...the rules are not.
  const r = await cli(['validate', '--prometheus', noRules.url]);
  expect(r.code).toBe(5);
  expect(r.stderr).toContain("no rule group 'proxy-telemetry.rules' loaded");
  expect(r.stderr).toMatch(/recording rules are not loaded/);
}, 60_000);
