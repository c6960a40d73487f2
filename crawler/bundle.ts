import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';

const BANNER = [
  '/*! proxy-telemetry synthetic crawler: one self-contained CommonJS file for Node.js 20,',
  ' * run with `node crawler.js`, configured through environment variables.',
  ' * Includes prom-client and @opentelemetry/api (Apache-2.0) and tdigest, bintrees,',
  ' * http-proxy-agent, https-proxy-agent, agent-base, proxy-from-env (MIT);',
  ' * see their licenses in the npm registry. Generated file: do not edit. */',
].join('\n');

/**
 * A program's source root. From the TypeScript sources this is the folder of its
 * bundle.ts (`dirname`); when that file runs compiled into build/<folder>/, the
 * sources are still found in the repository's <folder>/ folder.
 */
function programRoot(dirname: string, folder: string): string {
  const candidates = [dirname, path.resolve(dirname, '..', '..', folder)];
  const root = candidates.find((dir) => fs.existsSync(path.join(dir, 'src', 'main.ts')));
  if (!root) throw new Error(`${folder} sources not found (looked for src/main.ts in ${candidates.join(', ')})`);
  return root;
}

let cached: string | undefined;

/**
 * The whole crawler as one CommonJS file (well under 1 MiB) for a ConfigMap.
 * Built once per process, then reused.
 */
export function bundleCrawler(): string {
  cached ??= buildCrawlerBundle();
  return cached;
}

/** Runs esbuild over the crawler; see buildNodeProgram. */
export function buildCrawlerBundle(): string {
  // The agents print proxy URLs with credentials through `debug`.
  return buildNodeProgram({ dirname: __dirname, folder: 'crawler', banner: BANNER, alias: { debug: './src/debug-stub.ts' } });
}

/**
 * One of our Node programs (`<folder>/src/main.ts`) as one CommonJS file, by esbuild.
 * Deterministic: the same sources and dependency versions give the same string,
 * wherever the repository is checked out.
 */
export function buildNodeProgram(o: { dirname: string; folder: string; banner: string; alias?: Record<string, string> }): string {
  const root = programRoot(o.dirname, o.folder);
  const result = buildSync({
    // Paths embedded in the output are relative to this, never absolute.
    absWorkingDir: root,
    entryPoints: ['src/main.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    // Whitespace and syntax only: identifiers stay readable in stack traces.
    // Unminified the crawler is ~240 KB, too close to the 256 KiB limit of the
    // annotation `kubectl apply` stores a copy of the ConfigMap in.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'none',
    banner: { js: o.banner },
    charset: 'utf8',
    // Fixed compiler options: the output must not depend on which
    // tsconfig.json happens to sit above the program's folder.
    tsconfigRaw: { compilerOptions: { strict: true, target: 'ES2022', useDefineForClassFields: true } },
    ...(o.alias ? { alias: o.alias } : {}),
    logLevel: 'silent',
  });
  return layoutIndependent(result.outputFiles[0].text);
}

/**
 * esbuild labels each bundled CommonJS module with its path relative to the
 * program's folder: `../node_modules/x/...` in this repository, `../../x/...`
 * when installed as a dependency with hoisted modules. The labels carry no
 * meaning; make them the same for every layout.
 */
function layoutIndependent(code: string): string {
  return code.replace(/(__commonJS|__esm)\(\{"(?:\.\.\/)+(?:node_modules\/)?/g, '$1({"node_modules/');
}

if (require.main === module) {
  // `ts-node crawler/bundle.ts > crawler.js`, used by the Dockerfile.
  process.stdout.write(bundleCrawler());
}
