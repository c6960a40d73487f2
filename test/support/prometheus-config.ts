import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import { run, RunResult } from '../../harness/binaries';
import { KubeObject } from '../../harness/kube-object';
import { SdTarget, withFileSd } from './pod-discovery';
import { findObject } from './synth';
import { tempDir } from './temp-dir';

/**
 * Writes a synthesized Prometheus config (with kubernetes_sd swapped for file_sd) and its rule file into a
 * temporary directory laid out like the container's /etc/prometheus.
 */
export function materializeConfig(configYaml: string, rulesYaml: string, targets: SdTarget[]): { dir: string; configFile: string; rulesFile: string } {
  const dir = tempDir('prom-config');
  const targetsFile = path.join(dir, 'targets.json');
  fs.writeFileSync(targetsFile, JSON.stringify(targets, null, 2));
  const rulesFile = path.join(dir, 'rules.yml');
  fs.writeFileSync(rulesFile, rulesYaml);
  const config = withFileSd(YAML.parse(configYaml), [targetsFile]);
  // The container reads its rules from /etc/prometheus; point at the copy.
  config.rule_files = (config.rule_files ?? []).map((f: string) => path.join(dir, path.basename(f)));
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, YAML.stringify(config));
  return { dir, configFile, rulesFile };
}

/**
 * An app's own Prometheus configuration and rules (its `prometheus-config` ConfigMap) on a fast clock, materialized
 * over `targets`: every job scrapes every `scrapeInterval`, rules evaluate every second, and no group keeps an interval
 * of its own.
 */
export function appConfigOnFastClock(configMap: KubeObject, targets: SdTarget[], scrapeInterval = '1s'): { dir: string; configFile: string; rulesFile: string } {
  const config = YAML.parse(configMap.data['prometheus.yml']);
  config.global = { ...config.global, scrape_interval: scrapeInterval, evaluation_interval: '1s' };
  for (const job of config.scrape_configs) {
    delete job.scrape_interval;
    delete job.scrape_timeout;
  }
  const rules = YAML.parse(configMap.data['rules.yml']);
  for (const group of rules.groups) delete group.interval;
  return materializeConfig(YAML.stringify(config), YAML.stringify(rules, { lineWidth: 0 }), targets);
}

export function promtool(args: string[]): RunResult {
  return run('promtool', args);
}

/**
 * The product's rule groups, producers before their readers: promtool evaluates groups one after another at each
 * step, and a reader evaluated first would see the previous step's values.
 */
export const PRODUCT_GROUP_ORDER = [
  'proxy-telemetry.vendors', 'proxy-telemetry.rules', 'proxy-telemetry.destinations', 'proxy-telemetry.latency',
  'proxy-telemetry.scrape', 'proxy-telemetry.usage', 'proxy-telemetry.cost', 'proxy-telemetry.alerts',
];

/** A `promtool test rules` file, its `rule_files` aside. */
export interface RuleTestFile {
  readonly evaluation_interval?: string;
  readonly group_eval_order?: string[];
  readonly tests: unknown[];
}

/**
 * `promtool test rules` on a rule file: rules.yml and tests.yml in a temporary directory, removed afterwards.
 * Returns promtool's exit status and output; a failed expectation prints what promtool got.
 */
export function promtoolTestRules(rulesYaml: string, file: RuleTestFile): { status: number; output: string } {
  return withRulesFile(rulesYaml, rulesFile => {
    const testsFile = path.join(path.dirname(rulesFile), 'tests.yml');
    fs.writeFileSync(testsFile, YAML.stringify({ rule_files: [path.basename(rulesFile)], ...file }, { lineWidth: 0 }));
    return ['test', 'rules', testsFile];
  });
}

/** `promtool check rules` on a rule file (written to a temporary directory, removed afterwards), with `flags`. */
export function checkRules(rulesYaml: string, flags: string[] = []): { status: number; output: string } {
  return withRulesFile(rulesYaml, rulesFile => ['check', 'rules', ...flags, rulesFile]);
}

/** Runs promtool with the arguments `args` gives for `rulesYaml` written to rules.yml in a directory removed after. */
function withRulesFile(rulesYaml: string, args: (rulesFile: string) => string[]): { status: number; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promtool-rules-'));
  try {
    const rulesFile = path.join(dir, 'rules.yml');
    fs.writeFileSync(rulesFile, rulesYaml);
    const r = promtool(args(rulesFile));
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `promtoolTestRules` that must pass: throws with promtool's output otherwise. */
export function expectRuleTestsPass(rulesYaml: string, file: RuleTestFile): void {
  const { status, output } = promtoolTestRules(rulesYaml, file);
  if (status !== 0 || !output.includes('SUCCESS')) throw new Error(`promtool test rules failed (${status}):\n${output}`);
}

/** Target labels after relabeling, per `promtool check service-discovery` (a JSON array of results). */
export function discoveredTargets(configFile: string, job: string): Array<{ discoveredLabels: Record<string, string>; labels: Record<string, string> | null; error?: string }> {
  const r = promtool(['check', 'service-discovery', configFile, job, '--timeout=2s']);
  if (r.status !== 0) {
    throw new Error(`promtool check service-discovery failed (${r.status}): ${r.stderr}${r.stdout}`);
  }
  return JSON.parse(r.stdout);
}

/** Args of a rendered Prometheus Deployment (`name` in `monitoring`), minus those PrometheusProcess sets for a local run. */
export function productPrometheusArgs(objects: KubeObject[], name: string): string[] {
  const args: string[] = findObject(objects, 'Deployment', name, 'monitoring').spec.template.spec.containers[0].args;
  return args.filter(a => !/^--(config\.file|storage\.tsdb\.path|web\.listen-address)=/.test(a));
}

/** Edits a YAML config file in place. */
export function editConfigFile(file: string, edit: (config: any) => void): void {
  const config = YAML.parse(fs.readFileSync(file, 'utf8'));
  edit(config);
  fs.writeFileSync(file, YAML.stringify(config));
}
