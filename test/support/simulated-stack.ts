import * as YAML from 'yaml';
import { Testing } from 'cdk8s';
import { MetricsStack, MetricsStackMode } from '../../lib/metrics-stack';
import { RuleGroup } from '../../lib/prometheus/rule-group';
import { VendorCatalog } from '../../lib/vendor';
import { VendorCrawler } from '../../lib/vendor-crawler';
import { operatorPrometheusConfig } from './operator-scrape-config';
import { injectedPodTargets } from './pod-discovery';
import { materializeConfig } from './prometheus-config';
import { KubeObject } from './schemas';
import { SidecarSim, SimPod } from './sidecar-sim';

export interface SimulatedStack {
  stack: MetricsStack;
  sim: SidecarSim;
  /** The product's Prometheus config and rules, discovery swapped for file_sd targets of the simulated pods. */
  config: ReturnType<typeof materializeConfig>;
  /** The synthesized objects (MetricsStack and crawlers). */
  objects: KubeObject[];
  /** Value of the crawler targets' `job` label. */
  job: string;
}

/**
 * The product's MetricsStack (scrape job, relabeling, keep-list, rules) and one VendorCrawler Deployment per
 * vendor, with the simulated sidecars started and their pods discovered as injected pods of those
 * Deployments; a pod without a vendor belongs to an unlabelled Deployment. In mode 'prometheus-operator' the
 * configuration is what prometheus-operator generates from the emitted PodMonitor and PrometheusRule.
 */
export async function startSimulatedStack(pods: SimPod[], opts: { vendors: VendorCatalog; namespace: string; ruleGroups?: RuleGroup[]; mode?: MetricsStackMode }): Promise<SimulatedStack> {
  const ns = opts.namespace;
  const chart = Testing.chart();
  const operator = opts.mode === 'prometheus-operator';
  const stack = new MetricsStack(chart, 'm', {
    vendors: opts.vendors, crawlerNamespaces: [ns], mode: opts.mode,
    // The operator's Prometheus resource owns the evaluation interval (set below, as it would).
    prometheus: operator ? { scrapeInterval: '1s' } : { scrapeInterval: '1s', evaluationInterval: '1s' },
  });
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

  const sim = await SidecarSim.start(pods, { scrapeIntervalMs: 1000 });
  const targets = pods.flatMap(p => injectedPodTargets(p.vendor ? deployment(`crawler-${p.vendor}`) : unlabelled, { name: p.name, ip: p.ip }, sim.port));
  const { configYaml, rulesYaml } = operator
    ? withAcceleratedGroupIntervals(operatorPrometheusConfig(objects, { scrapeInterval: '1s', evaluationInterval: '1s' }))
    : { configYaml: stack.renderPrometheusConfig(), rulesYaml: stack.renderRules() };
  return { stack, sim, objects, job: stack.scrapeJob, config: materializeConfig(configYaml, rulesYaml, targets) };
}

/**
 * The PrometheusRule's groups carry an explicit 30s interval; on the accelerated clock they run every second,
 * as the standalone stack's do with evaluationInterval '1s' (the cost group keeps its 1m in both).
 */
function withAcceleratedGroupIntervals(generated: { configYaml: string; rulesYaml: string }): { configYaml: string; rulesYaml: string } {
  const rules = YAML.parse(generated.rulesYaml);
  for (const group of rules.groups) if (group.interval === '30s') group.interval = '1s';
  return { ...generated, rulesYaml: YAML.stringify(rules, { lineWidth: 0 }) };
}

/** Fails unless `actual` is within 2% of the simulated truth. */
export function expectClose(actual: number | undefined, expected: number, what: string): void {
  if (actual === undefined) throw new Error(`${what}: no result (expected ${expected})`);
  const rel = Math.abs(actual - expected) / Math.abs(expected);
  if (!(rel <= 0.02)) throw new Error(`${what}: ${actual} differs from the truth ${expected} by ${(rel * 100).toFixed(2)}% (> 2%)`);
}
