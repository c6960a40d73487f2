import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import { run, RunResult } from './binaries';
import { SdTarget, withFileSd } from './pod-discovery';

/**
 * Writes a synthesized Prometheus config (with kubernetes_sd swapped for file_sd) and its rule file into a
 * temporary directory laid out like the container's /etc/prometheus.
 */
export function materializeConfig(configYaml: string, rulesYaml: string, targets: SdTarget[]): { dir: string; configFile: string; rulesFile: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prom-config-'));
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

export function promtool(args: string[]): RunResult {
  return run('promtool', args);
}

/** Target labels after relabeling, per `promtool check service-discovery` (a JSON array of results). */
export function discoveredTargets(configFile: string, job: string): Array<{ discoveredLabels: Record<string, string>; labels: Record<string, string> | null; error?: string }> {
  const r = promtool(['check', 'service-discovery', configFile, job, '--timeout=2s']);
  if (r.status !== 0) {
    throw new Error(`promtool check service-discovery failed (${r.status}): ${r.stderr}${r.stdout}`);
  }
  return JSON.parse(r.stdout);
}
