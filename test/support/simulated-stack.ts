import { VENDOR_POD_LABEL } from '../../core/metric-contract';
import * as YAML from 'yaml';
import { Testing } from 'cdk8s';
import { MeshTelemetry, MeshTelemetryProps } from '../../lib/mesh-telemetry';
import { MetricsStack } from '../../lib/metrics-stack';
import { MetricsStackMode } from '../../lib/metrics/metrics-stack-props';
import { RuleGroup } from '../../core/rules';
import { VendorCatalog } from '../../core/vendor';
import { VendorCrawler } from '../../lib/vendor-crawler';
import { operatorPrometheusConfig } from './operator-scrape-config';
import { hashmod } from './hashmod';
import { injectedPodTargets } from './pod-discovery';
import { findObject } from './synth';
import { materializeConfig } from './prometheus-config';
import { PrometheusProcess } from '../../harness/prometheus-process';
import { ContractIntent } from '../../harness/crawler-flows';
import { IstioProfile, SidecarModel } from '../../harness/istio-sidecar';
import { KubeObject } from '../../harness/kube-object';
import { SidecarSim, SimPod } from '../../harness/sidecar-sim';

/**
 * A simulated pod whose sidecar, unless given, comes from the synthesized manifests of its namespace; a function
 * builds it from those manifests (e.g. with an object removed, for a control).
 */
export type FleetPod = Omit<SimPod, 'sidecar'> & { sidecar?: SidecarModel | ((objects: KubeObject[]) => SidecarModel) };

/** What the product promises (its HTTP ports and inspected gateways), from MeshTelemetry and the vendor model. */
export function contractIntent(mesh: MeshTelemetry, vendors: VendorCatalog): ContractIntent {
  return {
    httpPorts: new Set(mesh.httpPorts),
    inspectedGateways: new Set(vendors.vendors.filter(v => v.inspected).flatMap(v => v.endpoints.map(e => `${e.host}:${e.port}`))),
  };
}

/** Attaches to each pod the sidecar model of its namespace and vendor label (EnvoyFilters select pods by it), built from `objects`. */
export function withSidecars(pods: FleetPod[], objects: KubeObject[], profile: IstioProfile = 'minimal'): SimPod[] {
  const models = new Map<string, SidecarModel>();
  const model = (ns: string, vendor: string | undefined) => {
    const key = `${ns}/${vendor ?? ''}`;
    return models.get(key) ?? models.set(key, SidecarModel.fromObjects(objects, ns, { profile, podLabels: vendor ? { [VENDOR_POD_LABEL]: vendor } : {} })).get(key)!;
  };
  return pods.map(p => ({ ...p, sidecar: typeof p.sidecar === 'function' ? p.sidecar(objects) : p.sidecar ?? model(p.namespace, p.vendor) }));
}

export interface SimulatedStack {
  stack: MetricsStack;
  sim: SidecarSim;
  mesh: MeshTelemetry;
  /** The product's Prometheus config and rules, discovery swapped for file_sd targets of the simulated pods. */
  config: ReturnType<typeof materializeConfig>;
  /** The synthesized objects (MetricsStack and crawlers). */
  objects: KubeObject[];
  /** Value of the crawler targets' `job` label. */
  job: string;
}

/**
 * The product's MeshTelemetry, MetricsStack (scrape job, relabeling, keep-list, rules) and one VendorCrawler
 * Deployment per vendor, with the simulated sidecars started: each decides what it reports from the synthesized
 * mesh objects (a minimal-profile Istio unless `profile` says otherwise), and each pod is discovered as an
 * injected pod of its Deployment; a pod without a vendor belongs to an unlabelled Deployment. In mode
 * 'prometheus-operator' the configuration is what prometheus-operator generates from the emitted PodMonitor and
 * PrometheusRule.
 */
export async function startSimulatedStack(pods: FleetPod[], opts: {
  vendors: VendorCatalog; namespace: string; ruleGroups?: RuleGroup[]; mode?: MetricsStackMode;
  mesh?: Omit<MeshTelemetryProps, 'vendors' | 'namespaces'>; profile?: IstioProfile;
}): Promise<SimulatedStack> {
  const ns = opts.namespace;
  const chart = Testing.chart();
  const mesh = new MeshTelemetry(chart, 'mesh', { vendors: opts.vendors, namespaces: [ns], ...opts.mesh });
  const operator = opts.mode === 'prometheus-operator';
  const stack = new MetricsStack(chart, 'm', operator
    // The operator's Prometheus resource owns the evaluation interval (set below, as it would).
    ? { vendors: opts.vendors, crawlerNamespaces: [ns], mode: 'prometheus-operator', prometheus: { scrapeInterval: '1s' } }
    : { vendors: opts.vendors, crawlerNamespaces: [ns], prometheus: { scrapeInterval: '1s', evaluationInterval: '1s' } });
  for (const group of opts.ruleGroups ?? []) stack.addRuleGroup(group);
  for (const vendor of opts.vendors.names) {
    new VendorCrawler(chart, vendor, { vendors: opts.vendors, vendor, namespace: ns, replicas: 2, image: 'registry.example/crawler:1.0' });
  }
  const objects = Testing.synth(chart) as KubeObject[];
  const deployment = (name: string): KubeObject => {
    const found = objects.find(o => o.kind === 'Deployment' && o.metadata.name === name && o.metadata.namespace === ns);
    if (!found) throw new Error(`no Deployment ${ns}/${name}`);
    return found;
  };
  const unlabelled: KubeObject = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'batch-job', namespace: ns },
    spec: { template: { metadata: { labels: { 'app.kubernetes.io/name': 'batch' } }, spec: { containers: [{ name: 'batch', image: 'busybox:1.36' }] } } },
  };

  const sim = await SidecarSim.start(withSidecars(pods, objects, opts.profile), { scrapeIntervalMs: 1000, intent: contractIntent(mesh, opts.vendors) });
  const targets = pods.flatMap(p => injectedPodTargets(p.vendor ? deployment(`crawler-${p.vendor}`) : unlabelled, { name: p.name, ip: p.ip }, sim.port));
  const { configYaml, rulesYaml } = operator
    ? withAcceleratedGroupIntervals(operatorPrometheusConfig(objects, { scrapeInterval: '1s', evaluationInterval: '1s' }))
    : { configYaml: stack.renderPrometheusConfig(), rulesYaml: stack.renderRules() };
  return { stack, sim, mesh, objects, job: stack.scrapeJob, config: materializeConfig(configYaml, rulesYaml, targets) };
}

/**
 * The PrometheusRule's groups carry explicit intervals (30s, and 1m for the groups run every second evaluation); on
 * the accelerated clock they run every 1s and 2s, as the standalone stack's do with evaluationInterval '1s' (the cost
 * group keeps its 5m in both).
 */
function withAcceleratedGroupIntervals(generated: { configYaml: string; rulesYaml: string }): { configYaml: string; rulesYaml: string } {
  const rules = YAML.parse(generated.rulesYaml);
  const accelerated: Record<string, string> = { '30s': '1s', '1m': '2s' };
  for (const group of rules.groups) group.interval = accelerated[group.interval] ?? group.interval;
  return { ...generated, rulesYaml: YAML.stringify(rules, { lineWidth: 0 }) };
}

/** Fails unless `actual` is within 2% of the simulated truth (exactly 0 when the truth is 0). */
export function expectClose(actual: number | undefined, expected: number, what: string): void {
  if (actual === undefined) throw new Error(`${what}: no result (expected ${expected})`);
  if (expected === 0) {
    if (actual !== 0) throw new Error(`${what}: ${actual} where the truth is 0`);
    return;
  }
  const rel = Math.abs(actual - expected) / Math.abs(expected);
  if (!(rel <= 0.02)) throw new Error(`${what}: ${actual} differs from the truth ${expected} by ${(rel * 100).toFixed(2)}% (> 2%)`);
}

/**
 * Starts Prometheus on `configFile`, waits until it has scraped every simulated sidecar once, then starts the
 * simulated clock `historySeconds` (420) in the past at `speedup` (20×) and resolves once it has caught up with
 * wall time plus `extraMs` (a scrape and a rule evaluation at 1×). `onClockStart` runs right after the clock starts
 * (e.g. to schedule sidecar restarts inside the history).
 */
export async function runAccelerated(sim: SidecarSim, configFile: string, opts: {
  historySeconds?: number; speedup?: number; extraMs?: number; onClockStart?: () => void;
} = {}): Promise<PrometheusProcess> {
  const prom = await PrometheusProcess.start({ configFile });
  try {
    await sim.waitForAllScraped(20_000);
    sim.startClock({ historySeconds: opts.historySeconds ?? 420, speedup: opts.speedup ?? 20 });
    opts.onClockStart?.();
    await sim.waitForCatchUp(opts.extraMs ?? 3000);
  } catch (err) {
    await prom.stop();
    throw err;
  }
  return prom;
}

/**
 * Every rule of every group evaluated without error; the cost group may also not have run yet (its interval is longer
 * than a short test).
 */
export async function expectRulesHealthy(prom: PrometheusProcess): Promise<void> {
  for (const group of await prom.rules()) {
    const healthy = group.name === 'proxy-telemetry.cost' ? ['ok', 'unknown'] : ['ok'];
    for (const rule of group.rules) expect({ rule: rule.name, healthy: healthy.includes(rule.health), error: rule.lastError }).toEqual({ rule: rule.name, healthy: true, error: undefined });
  }
}

/** An instant query's samples keyed by the values of `labels` joined with '/'. */
export async function byLabels(prom: PrometheusProcess, expr: string, ...labels: string[]): Promise<Map<string, number>> {
  return new Map((await prom.query(expr)).map(s => [labels.map(l => s.metric[l] ?? '').join('/'), s.value]));
}

/**
 * Starts the simulator for a sharded stack on a port whose hashmod split puts pods of vendor-a and of vendor-b on every
 * shard (the shards hash each target's address, which includes the simulator's port), and returns the pods' scrape
 * targets as discovery would list them: each vendor's crawler Deployment `crawler-<vendor>` of `namespace`, and a
 * batch Job's pod for pods without a vendor.
 */
export async function startSplitSimulator(pods: FleetPod[], objects: KubeObject[], intent: ContractIntent, shards: number, namespace: string)
  : Promise<{ sim: SidecarSim; shardOf: Map<string, number>; targets: ReturnType<typeof injectedPodTargets> }> {
  for (let attempt = 0; ; attempt++) {
    const sim = await SidecarSim.start(withSidecars(pods, objects), { scrapeIntervalMs: 1000, intent });
    const shardOf = new Map(pods.map(p => [p.name, hashmod(`${p.ip}:${sim.port}`, shards)]));
    const spans = (vendor: string) => new Set(pods.filter(p => p.vendor === vendor).map(p => shardOf.get(p.name))).size === shards;
    if (spans('vendor-a') && spans('vendor-b')) {
      const deployment = (vendor?: string): KubeObject => vendor ? findObject(objects, 'Deployment', `crawler-${vendor}`, namespace) : {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'batch-job', namespace },
        spec: { template: { metadata: { labels: { 'app.kubernetes.io/name': 'batch' } }, spec: { containers: [{ name: 'batch', image: 'busybox:1.36' }] } } },
      };
      return { sim, shardOf, targets: pods.flatMap(p => injectedPodTargets(deployment(p.vendor), { name: p.name, ip: p.ip }, sim.port)) };
    }
    await sim.stop();
    if (attempt === 50) throw new Error(`no simulator port split the pods of vendor-a and vendor-b across all ${shards} shards`);
  }
}
