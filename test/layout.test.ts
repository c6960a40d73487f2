import * as fs from 'fs';
import * as path from 'path';

/**
 * The folders say the architecture: `core/` (the metric contract, the rules, the alerts, the vendor model, validation)
 * imports nothing of ours; `dashboards/` builds on the core only; `mixin/` puts the two together as data; `lib/`
 * (constructs) places the mixin; `bin/` (the CLI) and `main.ts` (the demo app) use everything but each other. No import
 * goes back up that line. The Node programs, `crawler/`, `gateway/` and `collector/`, share `runtime/`. `harness/` is the model
 * the tests and the benchmark both trust (the sidecar model and simulator, the Prometheus process); `bench/` uses it,
 * and neither imports `test/`.
 */

const ROOT = path.join(__dirname, '..');
const FOLDERS = ['core', 'dashboards', 'mixin', 'lib', 'bin', 'crawler', 'gateway', 'collector', 'runtime', 'imports', 'harness', 'bench'];

/** A relative import, export-from, require or dynamic import: its specifier. */
const IMPORT = /(?:\bfrom|\brequire\(|\bimport\(|^import)\s*['"](\.[^'"]+)['"]/gm;

/** Which top-level folders each folder's TypeScript imports (relative imports and requires). */
function folderImports(): Record<string, string[]> {
  const edges: Record<string, Set<string>> = {};
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(p);
        continue;
      }
      if (!p.endsWith('.ts')) continue;
      const from = path.relative(ROOT, p).split(path.sep)[0];
      for (const m of fs.readFileSync(p, 'utf8').matchAll(IMPORT)) {
        const to = path.relative(ROOT, path.resolve(path.dirname(p), m[1])).split(path.sep)[0];
        if (to !== from) (edges[from] ??= new Set()).add(to);
      }
    }
  };
  for (const f of FOLDERS) walk(path.join(ROOT, f));
  return Object.fromEntries(Object.entries(edges).map(([k, v]) => [k, [...v].sort()]).sort());
}

test('top-level folders import along core → dashboards → mixin → lib → bin only, the programs share runtime/, the benchmark uses harness/; the core imports nothing of ours', () => {
  expect(folderImports()).toEqual({
    bench: ['collector', 'core', 'crawler', 'dashboards', 'harness', 'lib'],
    bin: ['core', 'crawler', 'gateway', 'lib', 'mixin'],
    collector: ['crawler', 'runtime'],
    crawler: ['runtime'],
    dashboards: ['core'],
    gateway: ['crawler', 'runtime'],
    harness: ['core', 'dashboards'],
    lib: ['collector', 'core', 'crawler', 'dashboards', 'gateway', 'imports', 'mixin'],
    mixin: ['core', 'dashboards'],
  });
});

test('no import cycle between top-level folders', () => {
  const edges = folderImports();
  const visiting = new Set<string>();
  const done = new Set<string>();
  const cycle = (node: string, trail: string[]): string[] | undefined => {
    if (visiting.has(node)) return [...trail, node];
    if (done.has(node)) return undefined;
    visiting.add(node);
    for (const next of edges[node] ?? []) {
      const found = cycle(next, [...trail, node]);
      if (found) return found;
    }
    visiting.delete(node);
    done.add(node);
    return undefined;
  };
  for (const node of Object.keys(edges)) expect(cycle(node, [])).toBeUndefined();
});

/** Relative imports of every TypeScript file under `folder`, as repository paths without extension. */
function fileImports(folder: string): Array<{ file: string; target: string }> {
  const found: Array<{ file: string; target: string }> = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(p);
      } else if (p.endsWith('.ts')) {
        for (const m of fs.readFileSync(p, 'utf8').matchAll(IMPORT)) {
          found.push({ file: path.relative(ROOT, p), target: path.relative(ROOT, path.resolve(path.dirname(p), m[1])).split(path.sep).join('/') });
        }
      }
    }
  };
  walk(path.join(ROOT, folder));
  return found;
}

test('the two programs share code through runtime/ only: neither imports the other\'s src/, and runtime/ stands alone', () => {
  // What both programs run on lives in runtime/; a program's own code is its own. (Packaging may still go through the
  // other's package entry, e.g. the gateway's image is the crawler's.)
  const program = (folder: string) => new RegExp(`^${folder}/src(/|$)`);
  expect(fileImports('gateway').filter(i => program('crawler').test(i.target))).toEqual([]);
  expect(fileImports('crawler').filter(i => program('gateway').test(i.target))).toEqual([]);
  // The check sees the programs' imports of runtime/, so it can fail.
  for (const folder of ['crawler', 'gateway', 'collector']) expect(fileImports(folder).some(i => i.target.startsWith('runtime/'))).toBe(true);
  expect(fileImports('runtime').filter(i => !i.target.startsWith('runtime/'))).toEqual([]);
});

test('the benchmark and the harness import no test code: nothing under bench/ or harness/ imports test/', () => {
  // The model both trust lives in harness/; test/ keeps what only tests use.
  const intoTests = (folder: string) => fileImports(folder).filter(i => i.target === 'test' || i.target.startsWith('test/'));
  expect(intoTests('bench')).toEqual([]);
  expect(intoTests('harness')).toEqual([]);
  // The check sees the benchmark's imports of the harness, so it can fail.
  expect(fileImports('bench').some(i => i.target.startsWith('harness/'))).toBe(true);
});

/** The repository's TypeScript files that `file` imports, directly or through others (relative imports, as files). */
function importClosure(file: string): Set<string> {
  const seen = new Set<string>();
  const visit = (f: string): void => {
    for (const m of fs.readFileSync(path.join(ROOT, f), 'utf8').matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(path.join(ROOT, f)), m[1]);
      const found = [target, `${target}.ts`, path.join(target, 'index.ts')].find(c => c.endsWith('.ts') && fs.existsSync(c));
      if (found === undefined) continue;
      const rel = path.relative(ROOT, found).split(path.sep).join('/');
      if (!seen.has(rel)) {
        seen.add(rel);
        visit(rel);
      }
    }
  };
  visit(file);
  return seen;
}

test('the CLI and the demo app stand apart: nothing under bin/ imports main.ts, and main.ts imports none of the CLI', () => {
  // The CLI runs the demo as any cdk8s app (cdk8s.yaml's `app`); the demo builds on the library, not on the CLI.
  const bin = fs.readdirSync(path.join(ROOT, 'bin')).filter(f => f.endsWith('.ts')).map(f => `bin/${f}`);
  expect(bin).toContain('bin/proxy-telemetry.ts');
  expect(bin.filter(f => importClosure(f).has('main.ts'))).toEqual([]);
  const cli = ['bin/proxy-telemetry.ts', 'bin/deploy.ts', 'bin/validate.ts', 'bin/mixin.ts', 'bin/demo-secrets.ts'];
  expect(cli.filter(f => importClosure('main.ts').has(f))).toEqual([]);
});
