import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdk8s';

/** Files written next to the manifests, relative to the output directory. */
export type ExtraFiles = Record<string, string>;

/**
 * Runs `write` into a fresh directory beside `outdir` and swaps it in only when `write` succeeded, so a failure
 * never leaves a half-written or emptied output directory. Returns the files written.
 */
function replaceDirectory(outdir: string, write: (staging: string) => void): string[] {
  const target = path.resolve(outdir);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const staging = fs.mkdtempSync(path.join(path.dirname(target), '.cdk8s-tmp-'));
  try {
    write(staging);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(staging, target);
  // mkdtemp creates the directory private to its owner.
  fs.chmodSync(target, 0o755);
  return listFiles(target);
}

/** Synthesizes `build`'s app and its extra files into `outdir`, replaced only when everything succeeded. */
export function synthesizeInto(outdir: string, build: (app: App) => ExtraFiles | void): string[] {
  return replaceDirectory(outdir, staging => {
    const app = new App({ outdir: staging });
    const extra = build(app) ?? {};
    app.synth();
    for (const [file, content] of Object.entries(extra)) {
      const dest = path.join(staging, file);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, content);
    }
  });
}

/**
 * Runs a cdk8s app command (as `cdk8s synth` runs cdk8s.yaml's `app`: a shell command, with CDK8S_OUTDIR set) into
 * `outdir`, replaced only when the command succeeded and wrote manifests.
 */
export function synthesizeCommandInto(outdir: string, command: string): string[] {
  return replaceDirectory(outdir, staging => {
    const r = spawnSync(command, { shell: true, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CDK8S_OUTDIR: staging } });
    if (r.error) throw new Error(`cannot run the app command '${command}': ${r.error.message}`);
    if (r.status !== 0) throw new Error(`the app command '${command}' failed (exit ${r.status ?? r.signal})`);
    if (!fs.readdirSync(staging).some(f => f.endsWith('.yaml'))) throw new Error(`the app command '${command}' wrote no manifests into CDK8S_OUTDIR`);
  });
}

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]).sort();
}

/**
 * `output` of cdk8s.yaml: a scratch directory, because `cdk8s synth` deletes its output directory before it runs the
 * app, so pointing it at dist/ would leave dist/ empty after a failed synthesis. The default app writes dist/ itself,
 * swapped in only when synthesis succeeded, then copies the manifests into the scratch directory, which the CLI
 * requires to exist afterwards and lists (cdk8s-cli `util.js` synthApp: "app expected to create").
 */
export const CDK8S_SCRATCH_OUTPUT = '.cdk8s/out';

/** Where the default app writes, from the environment cdk8s (or the user) runs it in. */
export interface OutputTarget {
  readonly dir: string;
  /** `cdk8s synth --format helm`: the chart's templates directory, inside a chart cdk8s scaffolded. */
  readonly helm: boolean;
  /** Plain `cdk8s synth`: the CLI's output directory, which gets a copy of what `dir` holds once it is written. */
  readonly copyTo?: string;
}

export function outputTarget(env: NodeJS.ProcessEnv = process.env): OutputTarget {
  const requested = env.CDK8S_OUTDIR;
  if (requested === undefined) return { dir: 'dist', helm: false };
  if (path.normalize(requested) === path.normalize(CDK8S_SCRATCH_OUTPUT)) return { dir: 'dist', helm: false, copyTo: requested };
  const helm = path.basename(requested) === 'templates' && fs.existsSync(path.join(path.dirname(requested), 'Chart.yaml'));
  return { dir: requested, helm };
}

/** Copies a synthesized directory to the CLI's output directory, replacing what is there. */
export function copyOutput(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true });
}

/**
 * Makes synthesized manifests a Helm chart's templates: Prometheus alert templates and Grafana legends hold `{{`,
 * which Helm would parse as its own actions, so each becomes an action that prints it; and the CRDs cdk8s copies
 * from cdk8s.yaml's imports (Istio's, prometheus-operator's) are dropped: the cluster has them, and a chart must not
 * own them.
 */
export function asHelmTemplates(templatesDir: string): void {
  for (const file of fs.readdirSync(templatesDir).filter(f => f.endsWith('.yaml'))) {
    const p = path.join(templatesDir, file);
    fs.writeFileSync(p, escapeForHelm(fs.readFileSync(p, 'utf8')));
  }
  fs.rmSync(path.join(path.dirname(templatesDir), 'crds'), { recursive: true, force: true });
}

/** `{{` as a Go template action that prints it: `helm template` renders the text back unchanged. */
export function escapeForHelm(text: string): string {
  return text.replace(/\{\{/g, '{{ "{{" }}');
}
