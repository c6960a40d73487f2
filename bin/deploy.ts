/**
 * One-command deploy of the default stack: synthesize, apply server-side, wait for the rollouts, and print
 * how to reach Grafana and Prometheus. `npm run deploy -- --help` lists the options.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import * as YAML from 'yaml';
import { buildDefaultApp } from '../main';
import { synthesizeInto } from '../lib/synthesize';

const USAGE = `Usage: npm run deploy -- [--outdir dist] [--context NAME] [--timeout 5m] [--skip-synth]

  --outdir DIR     where manifests are synthesized and applied from (default: dist)
  --context NAME   kubectl context to deploy to (default: the current context)
  --timeout DUR    how long to wait for each rollout (default: 5m)
  --skip-synth     apply DIR as it is
Set KUBECTL to use another kubectl binary.`;

interface Workload { kind: string; name: string; namespace: string }

function kubectl(args: string[], context?: string): { status: number; stdout: string; stderr: string } {
  const binary = process.env.KUBECTL ?? 'kubectl';
  const r = spawnSync(binary, [...(context ? ['--context', context] : []), ...args], { encoding: 'utf8' });
  if (r.error) {
    throw new Error(`cannot run '${binary}': ${r.error.message}. Install kubectl or set KUBECTL.`);
  }
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function workloads(dir: string): Workload[] {
  return fs.readdirSync(dir).filter(f => f.endsWith('.yaml')).sort()
    .flatMap(f => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map(d => d.toJSON()))
    .filter(o => o?.kind === 'Deployment')
    .map(o => ({ kind: 'deployment', name: o.metadata.name, namespace: o.metadata.namespace ?? 'default' }));
}

export function deploy(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      'outdir': { type: 'string', default: 'dist' },
      'context': { type: 'string' },
      'timeout': { type: 'string', default: '5m' },
      'skip-synth': { type: 'boolean', default: false },
      'help': { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const outdir = values.outdir!;
  const context = values.context;

  if (!values['skip-synth']) {
    const files = synthesizeInto(outdir, buildDefaultApp);
    console.log(`synthesized ${files.length} manifests into ${outdir}/`);
  }

  // Istio's CRDs must exist, or the Telemetry, Sidecar and ServiceEntry objects cannot be applied.
  const istio = kubectl(['get', 'crd', 'telemetries.telemetry.istio.io', 'serviceentries.networking.istio.io', 'sidecars.networking.istio.io'], context);
  if (istio.status !== 0) {
    console.error(`Istio is not installed in this cluster (its CRDs are missing): install Istio >= 1.22 first, e.g. \`istioctl install --set profile=default\`.\n${istio.stderr.trim()}`);
    return 1;
  }

  const apply = kubectl(['apply', '--server-side', '--field-manager=proxy-telemetry', '-f', outdir], context);
  process.stdout.write(apply.stdout);
  if (apply.status !== 0) {
    console.error(`kubectl apply failed:\n${apply.stderr.trim()}`);
    return apply.status;
  }

  const secret = kubectl(['get', 'secret', 'grafana-admin', '-n', 'monitoring', '-o', 'name'], context);
  if (secret.status !== 0) {
    console.warn('Grafana waits for its admin Secret. Create it with:\n'
      + '  kubectl create secret generic grafana-admin -n monitoring --from-literal=admin-user=admin --from-literal=admin-password="$(openssl rand -base64 24)"');
  }

  let failed = 0;
  for (const w of workloads(outdir)) {
    const rollout = kubectl(['rollout', 'status', `${w.kind}/${w.name}`, '-n', w.namespace, `--timeout=${values.timeout}`], context);
    console.log(`${rollout.status === 0 ? 'ready  ' : 'NOT READY'} ${w.namespace}/${w.name}${rollout.status === 0 ? '' : `: ${rollout.stderr.trim()}`}`);
    if (rollout.status !== 0) failed++;
  }

  console.log([
    '',
    'Reach the stack with:',
    '  kubectl port-forward -n monitoring svc/grafana 3000:3000      # http://localhost:3000',
    '  kubectl port-forward -n monitoring svc/prometheus 9090:9090   # http://localhost:9090',
    '  npx proxy-telemetry validate --prometheus http://localhost:9090',
  ].join('\n'));
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  try {
    process.exitCode = deploy(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 1;
  }
}
