import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { RULE } from '../core/rules';
import { DEFAULT_BILL_TOLERANCE, ValidationResult, httpQueryClient, parseBillTolerance, validate } from '../bin/validate';
import { MetricsStack } from '../lib/metrics-stack';
import { parseHostPort } from '../harness/crawler-flows';
import { FLEET_NAMESPACE, TCP_GATEWAY, fleetPods, fleetVendors } from './support/fleet';
import { materializeConfig } from './support/prometheus-config';
import { PrometheusProcess, freePort } from '../harness/prometheus-process';
import { SidecarSim } from '../harness/sidecar-sim';
import { expectClose, startSimulatedStack } from './support/simulated-stack';
import { DEMO_GATEWAY_JOB, USAGE_JOB, USAGE_METRICS } from '../core/metric-contract';
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
/** The full stack with the usage rules and a usage collector (UsageSource) per case of check G. */
let billed: Record<BillCase, PrometheusProcess>;
let usageSource: http.Server | undefined;
/** Resolves once the simulated clock has caught up and the rules have been evaluated over full windows. */
let caughtUp: Promise<void>;

/**
 * What a usage collector reports in each case of check G, per vendor: its bill as a multiple of the bytes the sidecars
 * send through its gateways, and how long ago its usage source last answered.
 * vendor-a (TCP gateway) and vendor-b (inspected gateway) bill every byte both ways; vendor-c has no gateway and no bill.
 */
type BillCase = 'matching' | 'overbilled' | 'stale';
const BILLS: Record<BillCase, Record<string, { factor: number; lastSuccessAgoSeconds?: number }>> = {
  matching: { 'vendor-a': { factor: 1 }, 'vendor-b': { factor: 1.02 } },
  overbilled: { 'vendor-a': { factor: 1 }, 'vendor-b': { factor: 1.3 } },
  stale: { 'vendor-a': { factor: 1, lastSuccessAgoSeconds: 20 * 60 }, 'vendor-b': { factor: 1 } },
};

/**
 * The usage collector's exposition at the simulated time (path `/<case>`): billed bytes counters growing from the
 * clock's start at `factor` × the vendor's true upload plus download, on the sidecars' sample grid so that the billed
 * and the measured rates see the same samples (a sample's value never changes); the source's last success at the
 * sample time, or `lastSuccessAgoSeconds` before it.
 */
function usageExposition(billCase: BillCase): string {
  if (sim.startMs === undefined) return '';
  const ts = sim.sampleTime();
  const seconds = (ts - sim.startMs) / 1000;
  const vendors = Object.entries(BILLS[billCase]);
  const lines = (name: string, type: string, value: (vendor: string, bill: { factor: number; lastSuccessAgoSeconds?: number }) => number, account = true) => [
    `# TYPE ${name} ${type}`,
    ...vendors.map(([vendor, bill]) => `${name}{proxy_vendor="${vendor}"${account ? ', account="crawler"' : ''}} ${value(vendor, bill)} ${ts}`),
  ];
  const truth = (vendor: string) => sim.rates({ vendor }).uploadBytes + sim.rates({ vendor }).downloadBytes;
  return [
    ...lines(USAGE_METRICS.billedBytes, 'counter', (vendor, bill) => Math.round(bill.factor * truth(vendor) * seconds)),
    ...lines(USAGE_METRICS.withdrawnBytes, 'counter', () => 0),
    ...lines(USAGE_METRICS.billedRequests, 'counter', () => 0),
    ...lines(USAGE_METRICS.withdrawnRequests, 'counter', () => 0),
    ...lines(USAGE_METRICS.lastSuccess, 'gauge', (_, bill) => ts / 1000 - (bill.lastSuccessAgoSeconds ?? 0), false),
  ].join('\n') + '\n';
}

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

  // A usage collector per case of G, and the rules a MetricsStack that scrapes one records.
  usageSource = http.createServer((req, res) => {
    const billCase = (req.url ?? '').slice(1) as BillCase;
    if (!(billCase in BILLS)) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(usageExposition(billCase));
  });
  await new Promise<void>(resolve => usageSource!.listen(0, '127.0.0.1', resolve));
  const usageStack = new MetricsStack(Testing.chart(), 'usage', {
    vendors: fleetVendors(), crawlerNamespaces: [NS], prometheus: {
      scrapeInterval: '1s', evaluationInterval: '1s',
      podScrapes: [{ job: USAGE_JOB, namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'proxy-usage-collector' }, portName: 'metrics', path: '/metrics' }],
    },
  });
  const usageRulesFile = path.join(configDir, 'rules-usage.yml');
  fs.writeFileSync(usageRulesFile, usageStack.renderRules());
  const billedFile = (billCase: BillCase) => {
    const withUsage = YAML.parse(fs.readFileSync(config.configFile, 'utf8'));
    withUsage.rule_files = [usageRulesFile];
    withUsage.scrape_configs.push({
      job_name: USAGE_JOB, scrape_interval: '1s', metrics_path: `/${billCase}`,
      static_configs: [{ targets: [`127.0.0.1:${(usageSource!.address() as AddressInfo).port}`] }],
    });
    const file = path.join(configDir, `prometheus-usage-${billCase}.yml`);
    fs.writeFileSync(file, YAML.stringify(withUsage));
    return file;
  };

  let matching: PrometheusProcess;
  let overbilled: PrometheusProcess;
  let stale: PrometheusProcess;
  [full, noRules, empty, demo, matching, overbilled, stale] = await Promise.all([
    PrometheusProcess.start({ configFile: config.configFile }),
    PrometheusProcess.start({ configFile: noRulesFile }),
    PrometheusProcess.start({ configFile: emptyConfig.configFile }),
    PrometheusProcess.start({ configFile: demoFile }),
    PrometheusProcess.start({ configFile: billedFile('matching') }),
    PrometheusProcess.start({ configFile: billedFile('overbilled') }),
    PrometheusProcess.start({ configFile: billedFile('stale') }),
  ]);
  billed = { matching, overbilled, stale };
  await sim.waitForAllScraped(20_000);
  sim.startClock({ historySeconds: 420, speedup: 20 });
  // The full-stack tests wait for this; the others run meanwhile.
  caughtUp = sim.waitForCatchUp(3000);
  caughtUp.catch(() => undefined);
}, 60_000);

afterAll(async () => {
  await caughtUp?.catch(() => undefined);
  await Promise.all([full?.stop(), noRules?.stop(), empty?.stop(), demo?.stop(), ...Object.values(billed ?? {}).map(p => p.stop())]);
  await new Promise(resolve => (usageSource ? usageSource.close(resolve) : resolve(undefined)));
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
  // G: no usage collector, so no bill to compare: not checked either.
  expect(r.checks!.G).toMatchObject({ status: 'NOT CHECKED', vendors: [] });
  expect(text.stdout).toContain('G. The vendors\' bills match what the sidecars measured (within 5%): NOT CHECKED');
  expect(text.stdout).toContain(`   no ${RULE.billedBytes} series: no usage collector reports what the vendors billed (job proxy-usage)`);
  expect(text.stdout).toContain('Result: PASS (A, B, C, D, E); not checked: F, G');
}, 60_000);

describe('G: the vendors\' bills against what the sidecars measured', () => {
  /** The G section of the text report: its heading to the next blank line. */
  const section = (stdout: string) => stdout.slice(stdout.indexOf('G. ')).split('\n\n')[0];
  const truth = (vendor: string) => sim.rates({ vendor }).uploadBytes + sim.rates({ vendor }).downloadBytes;

  test('bills within 5% of the measured bytes pass, with billed, measured and difference per vendor', async () => {
    await caughtUp;
    const [text, json] = await Promise.all([cli(['validate', '--prometheus', billed.matching.url]), cli(['validate', '--prometheus', billed.matching.url, '--json'])]);
    expect({ code: text.code, stderr: text.stderr }).toEqual({ code: 0, stderr: '' });
    const g = section(text.stdout);
    expect(g).toContain('G. The vendors\' bills match what the sidecars measured (within 5%): PASS');
    expect(g).toMatch(/ {4}PASS {2}vendor-a {13}billed +[\d.]+ \w+\/s {3}measured +[\d.]+ \w+\/s {3}difference +\+0\.0%/);
    expect(g).toMatch(/ {4}PASS {2}vendor-b {13}billed .* difference +\+2\.0%/);
    expect(g).toContain('every vendor\'s bill is within 5% of what the sidecars measured through its gateways');
    expect(text.stdout).toContain('Result: PASS (A, B, C, D, E, G); not checked: F');
    const r = JSON.parse(json.stdout) as ValidationResult;
    expect(r.billTolerance).toBe(DEFAULT_BILL_TOLERANCE);
    const G = r.checks!.G;
    expect(G.vendors.map(v => [v.vendor, v.status])).toEqual([['vendor-a', 'PASS'], ['vendor-b', 'PASS']]);
    for (const [vendor, factor] of [['vendor-a', 1], ['vendor-b', 1.02]] as const) {
      const v = G.vendors.find(x => x.vendor === vendor)!;
      // The measured rule counts what the sidecars saw through the vendor's gateways: every byte of these vendors.
      expectClose(v.measuredBytesPerSecond, truth(vendor), `${vendor} measured billable bytes/s`);
      expectClose(v.billedBytesPerSecond!, factor * truth(vendor), `${vendor} billed bytes/s`);
      expect(v.differencePercent).toBeCloseTo((factor - 1) * 100, 1);
      expect(v.sourceAgeSeconds).toBeLessThan(60);
    }
  }, 60_000);

  test('a bill 30% above the measured bytes fails, naming the vendor with billed, measured and the difference', async () => {
    await caughtUp;
    const [text, json] = await Promise.all([cli(['validate', '--prometheus', billed.overbilled.url]), cli(['validate', '--prometheus', billed.overbilled.url, '--json'])]);
    expect({ code: text.code, stderr: text.stderr }).toEqual({ code: 1, stderr: '' });
    const g = section(text.stdout);
    expect(g).toContain('G. The vendors\' bills match what the sidecars measured (within 5%): FAIL');
    expect(g).toMatch(/ {4}PASS {2}vendor-a {13}billed .* difference +\+0\.0%/);
    expect(g).toMatch(/ {4}FAIL {2}vendor-b {13}billed +[\d.]+ \w+\/s {3}measured +[\d.]+ \w+\/s {3}difference +\+30\.0%/);
    expect(g).toContain('billed above measured by more than 5%: traffic from outside the fleet');
    expect(text.stdout).toContain('Result: FAIL (G)');
    const v = (JSON.parse(json.stdout) as ValidationResult).checks!.G.vendors.find(x => x.vendor === 'vendor-b')!;
    expect(v.status).toBe('FAIL');
    expect(v.differencePercent).toBeCloseTo(30, 1);
    expectClose(v.billedBytesPerSecond! / v.measuredBytesPerSecond, 1.3, 'vendor-b billed over measured');
  }, 60_000);

  test('--bill-tolerance: 30% above passes within 0.35; a value outside 0–1 is a usage error naming the flag and the value', async () => {
    await caughtUp;
    const [wide, bad] = await Promise.all([
      cli(['validate', '--prometheus', billed.overbilled.url, '--bill-tolerance', '0.35']),
      cli(['validate', '--prometheus', billed.overbilled.url, '--bill-tolerance', '5']),
    ]);
    expect({ code: wide.code, stderr: wide.stderr }).toEqual({ code: 0, stderr: '' });
    expect(wide.stdout).toContain('G. The vendors\' bills match what the sidecars measured (within 35%): PASS');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--bill-tolerance \'5\' must be a share from 0 to 1 (e.g. 0.05 for 5%)');
  }, 60_000);

  test('the tolerance decides: 30% above passes within 35% and fails within 25%; a tolerance outside 0–1 is refused, naming the flag and the value', async () => {
    await caughtUp;
    const client = httpQueryClient(billed.overbilled.url);
    const within = (billTolerance: number) => validate(client, { prometheus: billed.overbilled.url, billTolerance }).then(r => r.checks!.G.status);
    expect(await within(0.35)).toBe('PASS');
    expect(await within(0.25)).toBe('FAIL');
    await expect(validate(client, { prometheus: billed.overbilled.url, billTolerance: 5 })).rejects.toThrow('invalid bill tolerance 5: use a share from 0 to 1, e.g. 0.05 for 5%');
    expect(parseBillTolerance('0.1')).toBe(0.1);
    for (const bad of ['5', '-0.1', 'five', '', 'NaN']) expect(() => parseBillTolerance(bad)).toThrow(`--bill-tolerance '${bad}' must be a share from 0 to 1 (e.g. 0.05 for 5%)`);
  }, 60_000);

  test('a usage source that has not answered for 20 minutes fails as stale; the fresh vendor is still compared', async () => {
    await caughtUp;
    const [text, json] = await Promise.all([cli(['validate', '--prometheus', billed.stale.url]), cli(['validate', '--prometheus', billed.stale.url, '--json'])]);
    expect({ code: text.code, stderr: text.stderr }).toEqual({ code: 1, stderr: '' });
    const g = section(text.stdout);
    expect(g).toContain('G. The vendors\' bills match what the sidecars measured (within 5%): FAIL');
    expect(g).toMatch(/ {4}FAIL {2}vendor-a {13}source stale: last successful poll 20m( \d+s)? ago \(proxy_usage_last_success_timestamp_seconds; stale after 15m\)/);
    expect(g).toMatch(/ {4}PASS {2}vendor-b {13}billed .* difference +\+0\.0%/);
    expect(text.stdout).toContain('Result: FAIL (G)');
    const a = (JSON.parse(json.stdout) as ValidationResult).checks!.G.vendors.find(x => x.vendor === 'vendor-a')!;
    expect(a).toMatchObject({ status: 'FAIL', differencePercent: null });
    expect(a.sourceAgeSeconds).toBeGreaterThanOrEqual(20 * 60);
    expect(a.sourceAgeSeconds).toBeLessThan(21 * 60);
  }, 60_000);
});

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
