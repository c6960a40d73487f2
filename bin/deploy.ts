/**
 * One-command deploy of the default stack: synthesize, check the cluster and its mesh, apply server-side, wait for
 * the rollouts, check what a crawler sidecar really got, and print how to reach Grafana and Prometheus.
 * `npm run deploy -- --help` lists the options.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import * as YAML from 'yaml';
import { buildDefaultApp } from '../main';
import { synthesizeCommandInto, synthesizeInto } from './synthesize';
import { DemoSecret } from '../lib/demo-gateway';
import { ExistingDemoSecrets, key, missingDemoSecretManifests, requiredDemoSecrets } from './demo-secrets';
import { CheckReport, Kubectl, meshExpectations, preflight, sidecarChecks } from './mesh-checks';

const USAGE = `Usage: npm run deploy -- [--app CMD] [--outdir dist] [--context NAME] [--timeout 5m] [--skip-synth] [--skip-sidecar-checks]

  --app CMD               your cdk8s app, as cdk8s.yaml's app runs it (e.g. "npx ts-node my-app.ts"); it writes into
                          CDK8S_OUTDIR, which is swapped into --outdir only when it succeeded (default: the demo app)
  --outdir DIR            where manifests are synthesized and applied from (default: dist)
  --context NAME          kubectl context to deploy to (default: the current context)
  --timeout DUR           how long to wait for each rollout (default: 5m; e.g. 90s, 10m, 1h)
  --skip-synth            apply DIR as it is
  --skip-sidecar-checks   do not read a crawler sidecar's Envoy configuration after the rollouts
Before applying it checks the cluster: Istio >= 1.22, the prometheus provider in the mesh config, and no other
namespace-wide Telemetry in a crawler namespace. After the rollouts it reads one crawler sidecar's config dump:
HTTP listeners, the TLS inspector and the routes of inspected gateways must be there.
Set KUBECTL to use another kubectl binary.`;

interface Workload { kind: string; name: string; namespace: string }

function kubectl(args: string[], context?: string, input?: string): { status: number; stdout: string; stderr: string } {
  const binary = process.env.KUBECTL ?? 'kubectl';
  const r = spawnSync(binary, [...(context ? ['--context', context] : []), ...args], { encoding: 'utf8', input });
  if (r.error) {
    throw new Error(`cannot run '${binary}': ${r.error.message}. Install kubectl or set KUBECTL.`);
  }
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function manifests(dir: string): any[] {
  return fs.readdirSync(dir).filter(f => f.endsWith('.yaml')).sort()
    .flatMap(f => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map(d => d.toJSON()))
    .filter(o => o?.kind);
}

function workloads(objects: any[]): Workload[] {
  return objects.filter(o => o.kind === 'Deployment')
    .map(o => ({ kind: 'deployment', name: o.metadata.name, namespace: o.metadata.namespace ?? 'default' }));
}

/** Prints a check report; true when it has no errors. */
function print(title: string, report: CheckReport): boolean {
  for (const n of report.notes) console.log(`${title}: ${n}`);
  for (const w of report.warnings) console.warn(`${title} WARNING: ${w}`);
  for (const e of report.errors) console.error(`${title} ERROR: ${e}`);
  return report.errors.length === 0;
}

/** What of the demo gateways' CA and credentials the cluster has already. */
function existingDemoSecrets(run: Kubectl, needed: DemoSecret[]): ExistingDemoSecrets {
  const present = new Set<string>();
  let ca: ExistingDemoSecrets['ca'];
  const credentials = new Map<string, { username: string; password: string }>();
  const decode = (data: Record<string, string> | undefined, field: string) => Buffer.from(data?.[field] ?? '', 'base64').toString('utf8');
  for (const s of needed) {
    const r = run(['get', s.kind.toLowerCase(), s.name, '-n', s.namespace, '-o', 'json']);
    if (r.status !== 0) continue;
    present.add(key(s));
    const data = JSON.parse(r.stdout).data;
    if (s.content === 'ca') ca = { certPem: decode(data, 'tls.crt'), keyPem: decode(data, 'tls.key') };
    if (s.content === 'credentials' || s.content === 'stale-credentials') credentials.set(s.name, { username: decode(data, 'username'), password: decode(data, 'password') });
  }
  return { present, ca, credentials };
}

/** kubectl's duration syntax (Go): 90s, 5m, 1h30m. */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

export function deploy(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      'app': { type: 'string' },
      'outdir': { type: 'string', default: 'dist' },
      'context': { type: 'string' },
      'timeout': { type: 'string', default: '5m' },
      'skip-synth': { type: 'boolean', default: false },
      'skip-sidecar-checks': { type: 'boolean', default: false },
      'help': { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const outdir = values.outdir!;
  const context = values.context;
  if (!GO_DURATION.test(values.timeout!)) {
    console.error(`--timeout '${values.timeout}' is not a duration such as 90s, 5m or 1h`);
    return 2;
  }
  const run: Kubectl = args => kubectl(args, context);

  if (values.app !== undefined && values['skip-synth']) {
    console.error('--app and --skip-synth exclude each other: --skip-synth applies --outdir as it is');
    return 2;
  }
  if (values.app !== undefined && values.app.trim() === '') {
    console.error(`--app '${values.app}' is empty: give the command that runs your cdk8s app, e.g. "npx ts-node main.ts"`);
    return 2;
  }
  if (values['skip-synth'] && !fs.existsSync(outdir)) {
    console.error(`--skip-synth applies ${outdir}/, which does not exist`);
    return 2;
  }

  if (!values['skip-synth']) {
    try {
      const files = values.app !== undefined ? synthesizeCommandInto(outdir, values.app) : synthesizeInto(outdir, buildDefaultApp);
      console.log(`synthesized ${files.length} manifests into ${outdir}/`);
    } catch (err) {
      console.error(`synthesis failed, ${outdir}/ left unchanged: ${(err as Error).message}`);
      return 1;
    }
  }

  const objects = manifests(outdir);
  const expected = meshExpectations(objects);
  if (!print('preflight', preflight(run, expected))) return 1;

  const apply = kubectl(['apply', '--server-side', '--field-manager=proxy-telemetry', '-f', outdir], context);
  process.stdout.write(apply.stdout);
  if (apply.status !== 0) {
    console.error(`kubectl apply failed:\n${apply.stderr.trim()}`);
    return apply.status;
  }

  // The demo gateways' CA and passwords: made here, never written to disk; what exists is kept.
  const needed = requiredDemoSecrets(objects);
  const made = missingDemoSecretManifests(needed, existingDemoSecrets(run, needed));
  if (made.length > 0) {
    const created = kubectl(['apply', '--server-side', '--field-manager=proxy-telemetry', '-f', '-'], context, made.map(o => YAML.stringify(o)).join('---\n'));
    if (created.status !== 0) {
      console.error(`creating the demo gateways' CA and credentials failed:\n${created.stderr.trim()}`);
      return created.status;
    }
    console.log(`created ${made.map(o => `${o.kind.toLowerCase()}/${o.metadata.name} -n ${o.metadata.namespace}`).join(', ')}`);
  }

  // Grafana's admin Secret is the user's to make: name the command for each Grafana that waits for one.
  for (const g of objects.filter(o => o.kind === 'Deployment' && o.metadata.name === 'grafana')) {
    const ns = g.metadata.namespace ?? 'default';
    const name = g.spec.template.spec.containers[0].env?.find((e: any) => e.name === 'GF_SECURITY_ADMIN_PASSWORD')?.valueFrom?.secretKeyRef?.name;
    if (name && kubectl(['get', 'secret', name, '-n', ns, '-o', 'name'], context).status !== 0) {
      console.warn('Grafana waits for its admin Secret. Create it with:\n'
        + `  kubectl create secret generic ${name} -n ${ns} --from-literal=admin-user=admin --from-literal=admin-password="$(openssl rand -base64 24)"`);
    }
  }

  let failed = 0;
  for (const w of workloads(objects)) {
    const rollout = kubectl(['rollout', 'status', `${w.kind}/${w.name}`, '-n', w.namespace, `--timeout=${values.timeout}`], context);
    console.log(`${rollout.status === 0 ? 'ready  ' : 'NOT READY'} ${w.namespace}/${w.name}${rollout.status === 0 ? '' : `: ${rollout.stderr.trim()}`}`);
    if (rollout.status !== 0) failed++;
  }

  if (failed === 0 && !values['skip-sidecar-checks'] && !print('sidecar', sidecarChecks(run, expected))) failed++;

  const service = (name: string) => objects.find(o => o.kind === 'Service' && o.metadata.name === name);
  const grafana = service('grafana');
  const prometheus = service('prometheus');
  if (grafana || prometheus) {
    console.log(['', 'Reach the stack with:',
      ...(grafana ? [`  kubectl port-forward -n ${grafana.metadata.namespace} svc/grafana 3000:3000      # http://localhost:3000`] : []),
      ...(prometheus ? [
        `  kubectl port-forward -n ${prometheus.metadata.namespace} svc/prometheus 9090:9090   # http://localhost:9090`,
        '  npx proxy-telemetry validate --prometheus http://localhost:9090',
      ] : []),
    ].join('\n'));
  }
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
