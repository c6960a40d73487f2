/**
 * `proxy-telemetry deploy`: synthesize a cdk8s app (cdk8s.yaml's, or --app), check the cluster and its mesh, apply
 * server-side, make the demo secrets, wait for the rollouts, check what a crawler sidecar really got, and print how
 * to reach Grafana and Prometheus. In this repository `npm run deploy` runs it on the demo app (cdk8s.yaml).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import * as YAML from 'yaml';
import { Io, UsageError, reportError, stdio, wantsHelp } from './command';
import { synthesizeCommandInto } from '../lib/internal/synthesize';
import { DemoSecret } from '../lib/demo-gateway';
import { ExistingDemoSecrets, key, missingDemoSecretManifests, requiredDemoSecrets } from './demo-secrets';
import { CheckReport, Kubectl, meshExpectations, preflight, sidecarChecks } from './mesh-checks';

export const DEPLOY_USAGE = `Usage: proxy-telemetry deploy [--app CMD] [--outdir dist] [--context NAME] [--timeout 5m] [--skip-synth]
                              [--skip-sidecar-checks]

Synthesizes your cdk8s app, checks the cluster and its mesh, applies the manifests server-side, creates the demo
gateways' CA and passwords if the app has demo gateways (keeping those the cluster has), waits for every rollout,
checks what a crawler sidecar really got, and prints how to reach Grafana and Prometheus.
In this repository: npm run deploy -- [options] (the demo app, by cdk8s.yaml).

Options:
  --app CMD               the command that runs your cdk8s app (e.g. "npx ts-node main.ts"); it writes into
                          CDK8S_OUTDIR, which replaces --outdir only when it succeeded
                          (default: the app of cdk8s.yaml in the current directory)
  --outdir DIR            where manifests are synthesized and applied from (default: dist)
  --context NAME          kubectl context to deploy to (default: the current context)
  --timeout DUR           how long to wait for each rollout (default: 5m; e.g. 90s, 10m, 1h)
  --skip-synth            apply --outdir as it is (no app is run)
  --skip-sidecar-checks   do not read a crawler sidecar's Envoy configuration after the rollouts
  -h, --help              show this help

Before applying it checks the cluster: Istio >= 1.22, the prometheus provider in the mesh config, and no other
namespace-wide Telemetry in a crawler namespace. After the rollouts it reads one crawler sidecar's config dump:
HTTP listeners, the TLS inspector and the routes of inspected gateways must be there.
Set KUBECTL to use another kubectl binary.

Exit codes:
  0  deployed: every check passed and every rollout finished
  1  synthesis, a preflight check, the apply, a rollout or the sidecar check failed (or kubectl cannot be run)
  2  usage error (a bad option, or no cdk8s.yaml with an app in the current directory and no --app)`;

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
function print(io: Io, title: string, report: CheckReport): boolean {
  for (const n of report.notes) io.out(`${title}: ${n}\n`);
  for (const w of report.warnings) io.err(`${title} WARNING: ${w}\n`);
  for (const e of report.errors) io.err(`${title} ERROR: ${e}\n`);
  return report.errors.length === 0;
}

/** What of the demo gateways' CA and credentials the cluster has already. */
function existingDemoSecrets(run: Kubectl, needed: DemoSecret[]): ExistingDemoSecrets {
  const present = new Set<string>();
  let ca: ExistingDemoSecrets['ca'];
  const credentials = new Map<string, { username: string; password: string }>();
  const usageTokens = new Map<string, string>();
  const decode = (data: Record<string, string> | undefined, field: string) => Buffer.from(data?.[field] ?? '', 'base64').toString('utf8');
  for (const s of needed) {
    const r = run(['get', s.kind.toLowerCase(), s.name, '-n', s.namespace, '-o', 'json']);
    if (r.status !== 0) continue;
    present.add(key(s));
    const data = JSON.parse(r.stdout).data;
    if (s.content === 'ca') ca = { certPem: decode(data, 'tls.crt'), keyPem: decode(data, 'tls.key') };
    if (s.content === 'credentials' || s.content === 'stale-credentials') credentials.set(s.name, { username: decode(data, 'username'), password: decode(data, 'password') });
    if (s.content === 'usage-token') usageTokens.set(s.name, decode(data, 'token'));
  }
  return { present, ca, credentials, usageTokens };
}

/** kubectl's duration syntax (Go): 90s, 5m, 1h30m. */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/**
 * The command that synthesizes: --app, else `app` of cdk8s.yaml in `cwd`, run as `cdk8s synth` runs it. The demo app
 * is no exception (this repository's cdk8s.yaml runs main.ts), so the CLI never imports it.
 */
export function appCommand(app: string | undefined, cwd: string = process.cwd()): { command: string; from: string } {
  if (app !== undefined) {
    if (app.trim() === '') throw new UsageError(`--app '${app}' is empty: give the command that runs your cdk8s app, e.g. "npx ts-node main.ts"`);
    return { command: app, from: '--app' };
  }
  const file = path.join(cwd, 'cdk8s.yaml');
  if (!fs.existsSync(file)) {
    throw new UsageError(`no cdk8s.yaml in ${cwd} and no --app: run deploy in your cdk8s project, or give the command that runs your app (--app "npx ts-node main.ts")`);
  }
  let config: unknown;
  try {
    config = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file} cannot be read as YAML: ${(err as Error).message}`);
  }
  const command = (config as { app?: unknown } | null)?.app;
  if (command === undefined || command === null) {
    throw new UsageError(`${file} has no 'app': set the command that runs your cdk8s app (app: npx ts-node main.ts), or give --app`);
  }
  if (typeof command !== 'string' || command.trim() === '') {
    throw new UsageError(`${file}: 'app' (${JSON.stringify(command)}) must be the command that runs your cdk8s app (app: npx ts-node main.ts)`);
  }
  return { command, from: file };
}

/** Runs `proxy-telemetry deploy` with `argv` (the options after `deploy`); returns the exit code. */
export function deploy(argv: string[], io: Io = stdio): number {
  if (wantsHelp(argv)) {
    io.out(`${DEPLOY_USAGE}\n`);
    return 0;
  }
  try {
    return deployWith(argv, io);
  } catch (err) {
    return reportError(io, err, 'deploy', DEPLOY_USAGE);
  }
}

function deployWith(argv: string[], io: Io): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
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
  const outdir = values.outdir!;
  const context = values.context;
  if (!GO_DURATION.test(values.timeout!)) throw new UsageError(`--timeout '${values.timeout}' is not a duration such as 90s, 5m or 1h`);
  if (values.app !== undefined && values['skip-synth']) throw new UsageError('--app and --skip-synth exclude each other: --skip-synth applies --outdir as it is');
  if (values['skip-synth'] && !fs.existsSync(outdir)) throw new UsageError(`--skip-synth applies ${outdir}/, which does not exist`);
  // What to synthesize is settled before anything runs.
  const app = values['skip-synth'] ? undefined : appCommand(values.app);
  const run: Kubectl = args => kubectl(args, context);

  if (app) {
    try {
      const files = synthesizeCommandInto(outdir, app.command);
      io.out(`synthesized ${files.length} manifests into ${outdir}/ with ${app.from === '--app' ? '--app' : `the app of ${app.from}`}\n`);
    } catch (err) {
      io.err(`synthesis failed, ${outdir}/ left unchanged: ${(err as Error).message}\n`);
      return 1;
    }
  }

  const objects = manifests(outdir);
  const expected = meshExpectations(objects);
  if (!print(io, 'preflight', preflight(run, expected))) return 1;

  const apply = kubectl(['apply', '--server-side', '--field-manager=proxy-telemetry', '-f', outdir], context);
  io.out(apply.stdout);
  if (apply.status !== 0) {
    io.err(`kubectl apply failed (exit ${apply.status}):\n${apply.stderr.trim()}\n`);
    return 1;
  }

  // The demo gateways' CA and passwords: made here, never written to disk; what exists is kept.
  const needed = requiredDemoSecrets(objects);
  const made = missingDemoSecretManifests(needed, existingDemoSecrets(run, needed));
  if (made.length > 0) {
    const created = kubectl(['apply', '--server-side', '--field-manager=proxy-telemetry', '-f', '-'], context, made.map(o => YAML.stringify(o)).join('---\n'));
    if (created.status !== 0) {
      io.err(`creating the demo gateways' CA and credentials failed (exit ${created.status}):\n${created.stderr.trim()}\n`);
      return 1;
    }
    io.out(`created ${made.map(o => `${o.kind.toLowerCase()}/${o.metadata.name} -n ${o.metadata.namespace}`).join(', ')}\n`);
  }

  // Grafana's admin Secret is the user's to make: name the command for each Grafana that waits for one.
  for (const g of objects.filter(o => o.kind === 'Deployment' && o.metadata.name === 'grafana')) {
    const ns = g.metadata.namespace ?? 'default';
    const name = g.spec.template.spec.containers[0].env?.find((e: any) => e.name === 'GF_SECURITY_ADMIN_PASSWORD')?.valueFrom?.secretKeyRef?.name;
    if (name && kubectl(['get', 'secret', name, '-n', ns, '-o', 'name'], context).status !== 0) {
      io.err('Grafana waits for its admin Secret. Create it with:\n'
        + `  kubectl create secret generic ${name} -n ${ns} --from-literal=admin-user=admin --from-literal=admin-password="$(openssl rand -base64 24)"\n`);
    }
  }

  let failed = 0;
  for (const w of workloads(objects)) {
    const rollout = kubectl(['rollout', 'status', `${w.kind}/${w.name}`, '-n', w.namespace, `--timeout=${values.timeout}`], context);
    io.out(`${rollout.status === 0 ? 'ready  ' : 'NOT READY'} ${w.namespace}/${w.name}${rollout.status === 0 ? '' : `: ${rollout.stderr.trim()}`}\n`);
    if (rollout.status !== 0) failed++;
  }

  if (failed === 0 && !values['skip-sidecar-checks'] && !print(io, 'sidecar', sidecarChecks(run, expected))) failed++;

  const service = (name: string) => objects.find(o => o.kind === 'Service' && o.metadata.name === name);
  const grafana = service('grafana');
  const prometheus = service('prometheus');
  if (grafana || prometheus) {
    io.out(`${['', 'Reach the stack with:',
      ...(grafana ? [`  kubectl port-forward -n ${grafana.metadata.namespace} svc/grafana 3000:3000      # http://localhost:3000`] : []),
      ...(prometheus ? [
        `  kubectl port-forward -n ${prometheus.metadata.namespace} svc/prometheus 9090:9090   # http://localhost:9090`,
        '  npx proxy-telemetry validate --prometheus http://localhost:9090',
      ] : []),
    ].join('\n')}\n`);
  }
  return failed === 0 ? 0 : 1;
}
