import { randomBytes } from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as net from 'net';
import { Testing } from 'cdk8s';
import { DEMO_VENDORS, buildDefaultApp } from '../main';
import { USAGE_METRICS } from '../core/metric-contract';
import { RULE } from '../core/rules';
import { VendorCatalog } from '../core/vendor';
import { SidecarModel } from '../harness/istio-sidecar';
import { KubeObject } from '../harness/kube-object';
import { PrometheusProcess } from '../harness/prometheus-process';
import { SimPod, TcpTotals, measuredPodExposition } from '../harness/sidecar-sim';
import { CollectorRun, VendorApi, hasSeries, startCollector, startVendorApi } from './collector/helpers';
import { GatewayRun, metricValue, startGateway, unusedPort, waitUntil } from './gateway/helpers';
import { cleanup } from './support/program-process';
import { injectedPodTargets, plainPodTargets } from './support/pod-discovery';
import { appConfigOnFastClock } from './support/prometheus-config';
import { byLabels, expectClose } from './support/simulated-stack';

/**
 * The default app's reconciliation loop with real parts on loopback: the real demo gateway bundles count and report
 * usage per account as a vendor does, the real collector bundle polls their usage APIs with the configuration the app
 * synthesizes, and a real Prometheus runs the app's scrape configuration, rules and alerts. Crawler pods are clients
 * that send absolute-form requests through their vendor's gateway; each pod's sidecar reports what its sockets moved,
 * under the labels the sidecar model derives from the app's manifests (a TCP gateway: Envoy's tcp_proxy relays the
 * bytes one for one). Time is real: the alerts' `for` and the staleness threshold are shortened through the app's
 * alert options, the 5-minute rate windows are not. The rules' timing with the default settings is proven on synthetic
 * series by promtool (test/alerts.test.ts, test/usage-rules.test.ts).
 */

afterAll(cleanup);

const LEAK_FOR = '10s';
const app = Testing.app();
buildDefaultApp(app, { alerts: { usageOutsideFleetFor: LEAK_FOR, usageStaleAfter: '10s' } });
const OBJECTS = app.charts.flatMap(c => Testing.synth(c)) as KubeObject[];
const CATALOG = new VendorCatalog(DEMO_VENDORS);
/** The vendors behind TCP gateways: their sidecars report connections and bytes, as the sockets moved them. */
const VENDORS = CATALOG.vendors.filter(v => v.endpoints.length > 0 && !v.inspected).map(v => v.name);
const PODS_PER_VENDOR = 2;
/**
 * rate() extrapolates a window's increase by up to a scrape interval past the first and last samples, relative to the
 * span the samples cover: series younger than the 5-minute window differ by up to ~1 interval / their age. Scrapes
 * every 500 ms and at least 90 s of samples keep that under 1%.
 */
const SCRAPE_INTERVAL = '500ms';
const MIN_HISTORY_SAMPLES = 180;
const CONNECTIONS_PER_POD = 2;

const find = (kind: string, name: string) => {
  const o = OBJECTS.find(x => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`the default app has no ${kind} ${name}`);
  return o;
};
const envOf = (d: KubeObject): any[] => d.spec.template.spec.containers[0].env;
const envValue = (d: KubeObject, name: string): string | undefined => envOf(d).find(e => e.name === name)?.value;

/** A crawler pod: keep-alive connections to its vendor's gateway, each sending one absolute-form request after another. */
class CrawlerClient {
  private readonly sockets = new Set<net.Socket>();
  private loops: Array<Promise<void>> = [];
  private running = false;
  public requests = 0;

  constructor(private readonly gatewayPort: () => number, private readonly authorization: string, private readonly site: string, private readonly connections: number) {}

  public start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.connections }, () => this.loop());
  }

  public async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** What the pod's sockets moved: Envoy's tcp_proxy relays exactly this to and from the gateway. */
  public totals(): TcpTotals {
    let upBytes = 0;
    let downBytes = 0;
    for (const s of this.sockets) {
      upBytes += s.bytesWritten;
      downBytes += s.bytesRead;
    }
    return { connections: this.sockets.size, upBytes, downBytes };
  }

  private async loop(): Promise<void> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (this.running) {
        await new Promise<void>((resolve, reject) => {
          const req = http.request({
            host: '127.0.0.1', port: this.gatewayPort(), method: 'GET', path: `http://${this.site}/`, agent,
            headers: { 'host': this.site, 'proxy-authorization': this.authorization },
          }, res => {
            res.resume();
            res.once('end', () => resolve());
            res.once('error', reject);
          });
          req.once('socket', s => this.sockets.add(s));
          req.once('error', reject);
          req.end();
        }).then(() => this.requests++, () => undefined);
        await new Promise(resolve => setTimeout(resolve, 25));
      }
    } finally {
      agent.destroy();
    }
  }
}

interface VendorRun {
  vendor: string;
  gatewayDeployment: KubeObject;
  gateway: GatewayRun;
  username: string;
  authorization: string;
  /** The gateway's ports, fixed so that a restarted gateway answers where the collector polls. */
  ports: { proxy: number; usage: number };
  token: string;
  env: Record<string, string>;
  pods: Array<SimPod & { client: CrawlerClient; deployment: KubeObject }>;
}

/**
 * vendor-b's usage source, scripted: the demo gateways' format, its answers set by the tests. Its hour and the hour
 * before last; the collector's first poll is its baseline.
 */
const HOUR = Math.floor(Date.now() / 3_600_000) * 3_600_000;
const SCRIPTED = {
  vendor: 'vendor-b',
  account: 'vendor-b-crawlers',
  usage: [{ account: 'vendor-b-crawlers', hour: new Date(HOUR).toISOString(), bytes: 1000, requests: 10 }] as unknown,
};
const bucket = (hoursAgo: number, bytes: number, requests: number) => ({ account: SCRIPTED.account, hour: new Date(HOUR - hoursAgo * 3_600_000).toISOString(), bytes, requests });
let scripted: VendorApi;
let runs: VendorRun[];
let collector: CollectorRun;
let prom: PrometheusProcess;
let exposition: http.Server;
const run = (vendor: string) => runs.find(r => r.vendor === vendor)!;

beforeAll(async () => {
  // GIVEN each TCP vendor's demo gateway, run from its bundle with its Deployment's settings and fresh credentials.
  runs = [];
  for (const vendor of VENDORS) {
    const endpoint = CATALOG.get(vendor).endpoints[0];
    const gatewayDeployment = find('Deployment', endpoint.host.split('.')[0]);
    const username = `${vendor}-crawlers`;
    const password = randomBytes(12).toString('base64url');
    const ports = { proxy: await unusedPort(), usage: await unusedPort() };
    const token = randomBytes(16).toString('hex');
    const env: Record<string, string> = {
      VENDOR: envValue(gatewayDeployment, 'VENDOR')!, RATE_LIMIT_SHARE: envValue(gatewayDeployment, 'RATE_LIMIT_SHARE')!,
      PROXY_USERNAME: username, PROXY_PASSWORD: password, PORT: String(ports.proxy), USAGE_PORT: String(ports.usage), USAGE_TOKEN: token,
    };
    const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const partial = { vendor, gatewayDeployment, username, authorization, ports, token, env, pods: [] as VendorRun['pods'] };
    const r: VendorRun = { ...partial, gateway: await startGateway(partial.env) };
    // The vendor's crawler pods, each sidecar decided by the model from the app's own mesh objects.
    const deployment = find('Deployment', `crawler-${vendor}`);
    const site = `www.shop-${vendor.replace('vendor-', '')}.example`;
    for (let j = 0; j < PODS_PER_VENDOR; j++) {
      r.pods.push({
        name: `crawler-${vendor}-6b8f9c7d5-p${j}`, namespace: deployment.metadata.namespace!, vendor, ip: `127.14.${runs.length}.${j + 1}`,
        flows: [{ kind: 'gateway', gateway: `${endpoint.host}:${endpoint.port}`, scheme: 'http', target: site, perSecond: 1, requestsPerConnection: 100, responseCode: 200, upBytes: 1, downBytes: 1, durationMs: 1 }],
        sidecar: SidecarModel.fromDeployment(OBJECTS, deployment, { profile: 'minimal' }),
        client: new CrawlerClient(() => r.ports.proxy, authorization, site, CONNECTIONS_PER_POD),
        deployment,
      });
    }
    runs.push(r);
  }

  // The sidecars' exposition, one per pod, told apart by the loopback address a scrape arrives on.
  const pods = runs.flatMap(r => r.pods);
  exposition = http.createServer((req, res) => {
    const pod = pods.find(p => p.ip === req.socket.localAddress);
    if (!pod) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(measuredPodExposition(pod, () => pod.client.totals()));
  });
  await new Promise<void>(resolve => exposition.listen(0, '0.0.0.0', resolve));
  const sidecarPort = (exposition.address() as AddressInfo).port;

  // vendor-b's usage API is played by a script: its answers change as the tests go (SCRIPTED.answer).
  scripted = await startVendorApi(() => ({ status: 200, body: JSON.stringify({ vendor: SCRIPTED.vendor, bucketSeconds: 3600, usage: SCRIPTED.usage }) }));

  // The collector, on the configuration the app synthesizes: the gateways' in-cluster URLs point at loopback, polls
  // every second.
  const config = JSON.parse(find('ConfigMap', 'proxy-usage-collector-config').data['config.json']);
  config.sources = config.sources.filter((s: any) => VENDORS.includes(s.vendor) || s.vendor === SCRIPTED.vendor).map((s: any) => ({
    ...s, intervalSeconds: 1,
    url: s.url.replace(/^http:\/\/[^/]+/, s.vendor === SCRIPTED.vendor ? `http://127.0.0.1:${scripted.port}` : `http://127.0.0.1:${run(s.vendor).ports.usage}`),
  }));
  const collectorDeployment = find('Deployment', 'proxy-usage-collector');
  const tokens = Object.fromEntries(config.sources.map((s: any) => [s.auth.tokenEnv, s.vendor === SCRIPTED.vendor ? 'scripted' : run(s.vendor).token]));
  expect(Object.keys(tokens).sort()).toEqual(envOf(collectorDeployment).filter(e => e.valueFrom?.secretKeyRef).map(e => e.name).filter(n => n in tokens).sort());
  collector = await startCollector(config, tokens);
  // Each account's first bytes before Prometheus starts: rate() counts increases between samples, so a counter that
  // first appears at a value (an account's first poll) would hide that value from both comparisons below.
  for (const p of pods) p.client.start();
  await waitUntil(() => pods.every(p => p.client.requests >= 5), 30_000, 'every pod\'s first requests');
  for (const p of pods) await p.client.stop();
  await collector.scrapeUntil(text => VENDORS.every(v => hasSeries(text, USAGE_METRICS.billedBytes, { proxy_vendor: v, account: run(v).username }))
    && hasSeries(text, USAGE_METRICS.billedBytes, { proxy_vendor: SCRIPTED.vendor, account: SCRIPTED.account }), 'every account billed');

  // Prometheus with the app's configuration and rules, scraping every half second and evaluating every second.
  const materialized = appConfigOnFastClock(find('ConfigMap', 'prometheus-config'), [
    ...pods.flatMap(p => injectedPodTargets(p.deployment, { name: p.name, ip: p.ip }, sidecarPort)),
    ...plainPodTargets(collectorDeployment, { name: 'proxy-usage-collector-7d9f8-xk2lp', ip: '127.0.0.1' }, { metrics: collector.metricsPort }),
  ], SCRAPE_INTERVAL);
  prom = await PrometheusProcess.start({ configFile: materialized.configFile });
  // Every series is scraped before the traffic of the tests: the sidecars' and every account's.
  await prom.waitFor(async () => (await prom.query(`count(${USAGE_METRICS.lastSuccess} > 0)`))[0]?.value === VENDORS.length + 1
    && (await prom.query('count(istio_tcp_sent_bytes_total)'))[0]?.value === pods.length, 30_000, 'every sidecar and source scraped');
}, 90_000);

afterAll(async () => {
  for (const p of runs?.flatMap(r => r.pods) ?? []) await p.client.stop();
  await prom?.stop();
  await new Promise(resolve => exposition?.close(resolve));
});

/** Polls the collector until its billed counters have stopped moving, then Prometheus until it has scraped them. */
async function settled(): Promise<void> {
  const billed = async () => metricValue(await collector.metrics(), USAGE_METRICS.billedBytes);
  let last = -1;
  await prom.waitFor(async () => {
    const now = await billed();
    const same = now === last;
    last = now;
    return same && now > 0;
  }, 30_000, 'the collector\'s billed counters to settle', 2500);
  await prom.waitFor(async () => Math.round((await prom.query(`sum(${USAGE_METRICS.billedBytes})`))[0]?.value ?? -1) === last, 30_000, 'Prometheus to scrape the settled counters');
  // One more evaluation of every rule over the final samples.
  const evaluated = Date.now();
  await prom.waitFor(async () => (await prom.rules()).every(g => Date.parse(g.lastEvaluation) > evaluated + 1000), 30_000, 'a rule evaluation after the settled scrape');
}

const firing = async (alert: string) => (await prom.query(`ALERTS{alertname="${alert}", alertstate="firing"}`)).map(s => s.metric);
/** Waits until `alert` fires; its firing series' labels. */
const untilFiring = (alert: string) => prom.waitFor(async () => {
  const f = await firing(alert);
  return f.length > 0 ? f : false;
}, 120_000, `${alert} to fire`) as Promise<Array<Record<string, string>>>;

describe('reconciliation with the demo gateways\' bills, real parts on loopback', () => {
  test('the crawler pods\' traffic is billed as the sidecars measured it, per vendor: within 2%, and the gateways\' own count is exact', async () => {
    // WHEN the fleet crawls for a while, then stops
    const pods = runs.flatMap(r => r.pods);
    for (const p of pods) p.client.start();
    await prom.waitFor(async () => pods.every(p => p.client.requests >= 600)
      && (await prom.query(`min(count_over_time(istio_tcp_sent_bytes_total[5m])) >= ${MIN_HISTORY_SAMPLES} and min(count_over_time(${USAGE_METRICS.billedBytes}[5m])) >= ${MIN_HISTORY_SAMPLES}`)).length > 0,
    150_000, `every pod to send 600 requests, and ${MIN_HISTORY_SAMPLES} samples of every counter`);
    for (const p of pods) await p.client.stop();
    await settled();

    // THEN the 5-minute rules (whose windows hold all of it) agree per vendor, and nothing is called a leak
    const billed = await byLabels(prom, RULE.billedBytes, 'proxy_vendor');
    const measured = await byLabels(prom, RULE.measuredBillableBytes, 'proxy_vendor');
    for (const vendor of VENDORS) {
      const sockets = run(vendor).pods.reduce((sum, p) => sum + p.client.totals().upBytes + p.client.totals().downBytes, 0);
      expect(sockets).toBeGreaterThan(1_000_000);
      // The vendor's count (the gateway bills every byte of an authenticated connection) is what the sockets moved.
      expect(await metricValue(await run(vendor).gateway.metrics(), 'gateway_billed_bytes_total', { account: run(vendor).username })).toBe(sockets);
      expect(metricValue(await collector.metrics(), USAGE_METRICS.billedBytes, { proxy_vendor: vendor, account: run(vendor).username })).toBe(sockets);
      expectClose(billed.get(vendor), measured.get(vendor)!, `${vendor} billed bytes/s against measured`);
    }
    expect(await firing('ProxyVendorUsageOutsideFleet')).toEqual([]);
    const accounts = await byLabels(prom, RULE.billedAccountBytes, 'proxy_vendor', 'account');
    expect([...accounts.keys()].sort()).toEqual([...VENDORS.map(v => `${v}/${run(v).username}`), `${SCRIPTED.vendor}/${SCRIPTED.account}`].sort());
  }, 240_000);

  test('a crawler outside the mesh on vendor-a\'s credentials fires the usage-outside-the-fleet alert naming vendor-a and the account; a source that stops answering goes stale without a false total', async () => {
    // GIVEN the fleet crawls again; vendor-c's gateway (its usage API with it) goes away
    const fleet = run('vendor-a').pods;
    for (const p of fleet) p.client.start();
    const c = run('vendor-c');
    const billedBeforeStop = metricValue(await collector.metrics(), USAGE_METRICS.billedBytes, { proxy_vendor: 'vendor-c' });
    await c.gateway.stop();

    // WHEN a client without a sidecar uses vendor-a's credentials
    const leak = new CrawlerClient(() => run('vendor-a').ports.proxy, run('vendor-a').authorization, 'www.news-a.example', 2);
    leak.start();
    try {
      // THEN the alert fires for vendor-a, naming the account, and only for it
      const alerts = await untilFiring('ProxyVendorUsageOutsideFleet');
      expect(alerts.map(a => ({ vendor: a.proxy_vendor, account: a.account, severity: a.severity }))).toEqual([{ vendor: 'vendor-a', account: run('vendor-a').username, severity: 'critical' }]);
      const excess = await byLabels(prom, RULE.unmeasuredBilledBytes, 'proxy_vendor');
      expect(excess.get('vendor-a')).toBeGreaterThan(10_240);
    } finally {
      await leak.stop();
      for (const p of fleet) await p.client.stop();
    }

    // AND vendor-c's source goes stale: polls fail as network errors, its billed total does not move
    const stale = await untilFiring('ProxyUsageSourceStale');
    expect(stale.map(a => a.proxy_vendor).sort()).toEqual(['vendor-c']);
    const text = await collector.metrics();
    expect(metricValue(text, USAGE_METRICS.billedBytes, { proxy_vendor: 'vendor-c' })).toBe(billedBeforeStop);
    expect(metricValue(text, USAGE_METRICS.errors, { proxy_vendor: 'vendor-c', kind: 'network' })).toBeGreaterThan(0);
  }, 300_000);

  test('a restarted gateway (its hourly counters start again, as a vendor\'s counter reset) is billed for its new traffic only, once', async () => {
    // GIVEN vendor-c's gateway back on the same ports, its usage counts lost
    const c = run('vendor-c');
    c.gateway = await startGateway(c.env);
    const before = metricValue(await collector.metrics(), USAGE_METRICS.billedBytes, { proxy_vendor: 'vendor-c' });
    const socketsBefore = c.pods.reduce((sum, p) => sum + p.client.totals().upBytes + p.client.totals().downBytes, 0);

    // WHEN its fleet crawls again
    for (const p of c.pods) p.client.start();
    const requests = c.pods.map(p => p.client.requests);
    await prom.waitFor(() => c.pods.every((p, i) => p.client.requests >= requests[i] + 100), 60_000, 'vendor-c\'s pods to send 100 requests more');
    for (const p of c.pods) await p.client.stop();
    await settled();

    // THEN the collector bills exactly what the sockets moved since the restart: nothing twice, nothing lost
    const socketsAfter = c.pods.reduce((sum, p) => sum + p.client.totals().upBytes + p.client.totals().downBytes, 0);
    const after = metricValue(await collector.metrics(), USAGE_METRICS.billedBytes, { proxy_vendor: 'vendor-c' });
    expect(after - before).toBe(socketsAfter - socketsBefore);
    expect((await firing('ProxyUsageSourceStale')).map(a => a.proxy_vendor)).not.toContain('vendor-c');
  }, 180_000);
  test('a source that grows, reports a late bucket, revises it, resets, then answers malformed data: each change billed once, no false total, then stale', async () => {
    const billed = async () => {
      const text = await collector.metrics();
      return { bytes: metricValue(text, USAGE_METRICS.billedBytes, { proxy_vendor: SCRIPTED.vendor }), requests: metricValue(text, USAGE_METRICS.billedRequests, { proxy_vendor: SCRIPTED.vendor }) };
    };
    const polls = async () => metricValue(await collector.metrics(), 'proxy_usage_polls_total', { proxy_vendor: SCRIPTED.vendor });
    /** Serves `usage` until the collector has read it twice more (a re-read adds nothing), then the billed totals. */
    const serve = async (usage: unknown) => {
      SCRIPTED.usage = usage;
      const from = await polls();
      await prom.waitFor(async () => (await polls()) >= from + 2, 30_000, 'two more polls of vendor-b', 100);
      return billed();
    };
    // GIVEN the baseline (1000 bytes, 10 requests in this hour) counted as nothing
    expect(await billed()).toEqual({ bytes: 0, requests: 0 });
    // WHEN the hour grows to 1500 and a late bucket of two hours ago appears with 300; THEN both count once
    expect(await serve([bucket(2, 300, 3), bucket(0, 1500, 15)])).toEqual({ bytes: 800, requests: 8 });
    // WHEN the late bucket is revised up; THEN the rise counts
    expect(await serve([bucket(2, 350, 3), bucket(0, 1500, 15)])).toEqual({ bytes: 850, requests: 8 });
    // WHEN the vendor's counter of this hour starts again (the demo gateways' onDecrease 'reset'); THEN its new value counts
    expect(await serve([bucket(2, 350, 3), bucket(0, 200, 2)])).toEqual({ bytes: 1050, requests: 10 });
    // WHEN it answers a record without a valid time (the others fine), and then records that are not a list
    expect(await serve([bucket(2, 350, 3), { ...bucket(0, 999_999, 99), hour: 'yesterday' }])).toEqual({ bytes: 1050, requests: 10 });
    const lastSuccess = async () => metricValue(await collector.metrics(), USAGE_METRICS.lastSuccess, { proxy_vendor: SCRIPTED.vendor });
    const lastGood = await lastSuccess();
    expect(await serve('no records')).toEqual({ bytes: 1050, requests: 10 });
    // THEN the errors are malformed ones, the last success stays, and the source goes stale
    expect(metricValue(await collector.metrics(), USAGE_METRICS.errors, { proxy_vendor: SCRIPTED.vendor, kind: 'malformed' })).toBeGreaterThanOrEqual(4);
    const stale = await untilFiring('ProxyUsageSourceStale');
    expect(stale.map(a => a.proxy_vendor)).toContain(SCRIPTED.vendor);
    expect(await lastSuccess()).toBe(lastGood);
    expect(await billed()).toEqual({ bytes: 1050, requests: 10 });
  }, 180_000);
});
