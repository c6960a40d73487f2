import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { CDK8S_SCRATCH_OUTPUT } from '../lib/internal/synthesize';
import { tempDir } from './support/temp-dir';

/**
 * What a new user does first, on a fresh clone: the project's own cdk8s CLI, with cdk8s.yaml as committed. The clone
 * is of the working tree as it would be committed (tracked and new files, no .cdk8s/, no build output). In place of
 * `npm ci` it gets this checkout's node_modules and the programs' bundles that `npm ci` built here (its `prepare`):
 * built in the clone through a symlinked node_modules, esbuild would name modules by their real paths.
 */

const ROOT = path.join(__dirname, '..');

function run(command: string, args: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, CDK8S_OUTDIR: undefined, CDK8S_CHECK_UPGRADE: 'false' } });
  if (r.error) throw new Error(`cannot run ${command}: ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function git(args: string[], cwd = ROOT): string {
  const r = run('git', args, cwd);
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.output}`);
  return r.output;
}

/** `git clone` of this checkout, with its uncommitted changes laid over (what the next commit holds). */
function cloneWorkingTree(): string {
  const clone = path.join(tempDir('fresh-clone'), 'proxy-telemetry');
  git(['clone', '--quiet', '--no-hardlinks', ROOT, clone]);
  const lines = (text: string) => text.split('\n').filter(Boolean);
  for (const file of lines(git(['ls-files', '--modified', '--others', '--exclude-standard']))) {
    const from = path.join(ROOT, file);
    if (!fs.existsSync(from)) continue;
    fs.mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
    fs.copyFileSync(from, path.join(clone, file));
  }
  for (const file of lines(git(['ls-files', '--deleted']))) fs.rmSync(path.join(clone, file), { force: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'), 'dir');
  for (const bundle of ['crawler/dist', 'gateway/dist', 'collector/dist']) fs.cpSync(path.join(ROOT, bundle), path.join(clone, bundle), { recursive: true });
  return clone;
}

/** Every file under `dir` with the SHA-256 of its content, by relative path. */
function tree(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter(e => e.isFile())
    .map(e => path.join(e.parentPath, e.name))
    .map(p => [path.relative(dir, p), createHash('sha256').update(fs.readFileSync(p)).digest('hex')] as const)
    .sort(([a], [b]) => a.localeCompare(b)));
}

describe('on a fresh clone', () => {
  const clone = cloneWorkingTree();
  const dist = path.join(clone, 'dist');
  const committed = tree(dist);
  const cdk8s = (...args: string[]) => run(path.join(clone, 'node_modules', '.bin', 'cdk8s'), args, clone);

  test('the clone has no .cdk8s/ and the committed dist/', () => {
    expect(fs.existsSync(path.join(clone, '.cdk8s'))).toBe(false);
    expect(Object.keys(committed).filter(f => f.endsWith('.yaml')).length).toBeGreaterThan(0);
  });

  test('`cdk8s synth` exits 0, leaves dist/ as committed, and lists the manifests in its output directory', () => {
    // WHEN
    const r = cdk8s('synth');

    // THEN
    expect({ status: r.status, output: r.status === 0 ? '' : r.output }).toEqual({ status: 0, output: '' });
    expect(tree(dist)).toEqual(committed);
    const config = YAML.parse(fs.readFileSync(path.join(clone, 'cdk8s.yaml'), 'utf8'));
    expect(config.output).toBe(CDK8S_SCRATCH_OUTPUT);
    expect(tree(path.join(clone, config.output))).toEqual(committed);
    for (const manifest of Object.keys(committed).filter(f => f.endsWith('.yaml'))) expect(r.output).toContain(`${config.output}/${manifest}`);
  }, 120_000);

  test('`cdk8s synth -o DIR` writes what dist/ holds and leaves dist/ alone', () => {
    const out = path.join(tempDir('cdk8s-out'), 'out');
    const r = cdk8s('synth', '-o', out);
    expect({ status: r.status, output: r.status === 0 ? '' : r.output }).toEqual({ status: 0, output: '' });
    expect(tree(out)).toEqual(committed);
    expect(tree(dist)).toEqual(committed);
  }, 120_000);

  test('`cdk8s synth --format helm` gives a chart whose templates render to the manifests: every `{{` escaped, no third-party CRDs', () => {
    // GIVEN / WHEN
    const chart = path.join(tempDir('cdk8s-helm'), 'chart');
    const r = cdk8s('synth', '--format', 'helm', '--chart-version', '1.2.3', '-o', chart);

    // THEN
    expect({ status: r.status, output: r.status === 0 ? '' : r.output }).toEqual({ status: 0, output: '' });
    expect(YAML.parse(fs.readFileSync(path.join(chart, 'Chart.yaml'), 'utf8'))).toMatchObject({ apiVersion: 'v2', version: '1.2.3', type: 'application' });
    expect(fs.existsSync(path.join(chart, 'crds'))).toBe(false);
    const manifests = Object.keys(committed).filter(f => f.endsWith('.yaml'));
    expect(fs.readdirSync(path.join(chart, 'templates')).sort()).toEqual(manifests);
    const ESCAPED = '{{ "{{" }}';
    for (const file of manifests) {
      const template = fs.readFileSync(path.join(chart, 'templates', file), 'utf8');
      // The only Go template action is the one that prints `{{`; rendering it gives the manifests back.
      expect(template.split(ESCAPED).join('').includes('{{')).toBe(false);
      expect(template.split(ESCAPED).join('{{')).toBe(fs.readFileSync(path.join(dist, file), 'utf8'));
    }
    expect(tree(dist)).toEqual(committed);
  }, 120_000);

  test('a `cdk8s synth` that fails exits non-zero, says why, and leaves dist/ as it was', () => {
    // GIVEN a demo app with an invalid replica count
    const main = path.join(clone, 'main.ts');
    const source = fs.readFileSync(main, 'utf8');
    expect(source).toContain('const PODS_PER_VENDOR = 3;');
    fs.writeFileSync(main, source.replace('const PODS_PER_VENDOR = 3;', 'const PODS_PER_VENDOR = -1;'));
    try {
      // WHEN
      const r = cdk8s('synth');

      // THEN
      expect(r.status).not.toBe(0);
      expect(r.output).toContain('\'replicas\' (-1)');
      expect(tree(dist)).toEqual(committed);
    } finally {
      fs.writeFileSync(main, source);
    }
  }, 120_000);
});
