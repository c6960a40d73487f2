// @ts-check
'use strict';
/**
 * Builds the synthetic crawler: src/main.ts and everything it imports as one
 * self-contained CommonJS file for Node.js 20, dist/crawler.js.
 *
 *   npm run build -w crawler          writes crawler/dist/crawler.js (the root `prepare` runs it on npm ci)
 *   node crawler/build.js --stdout    prints the bundle instead, writes nothing
 *
 * The library reads dist/crawler.js (crawler/bundle.ts); esbuild is needed
 * here only. buildNodeProgram is the one recipe for our Node programs: the
 * demo gateway's build uses it too.
 */
const fs = require('node:fs');
const path = require('node:path');
const { buildSync } = require('esbuild');

const BANNER = [
  '/*! proxy-telemetry synthetic crawler: one self-contained CommonJS file for Node.js 20,',
  ' * run with `node crawler.js`, configured through environment variables.',
  ' * Includes prom-client and @opentelemetry/api (Apache-2.0) and tdigest, bintrees,',
  ' * http-proxy-agent, https-proxy-agent, agent-base, proxy-from-env (MIT);',
  ' * see their licenses in the npm registry. Generated file: do not edit. */',
].join('\n');

/**
 * One of our Node programs (`<root>/src/main.ts`) as one CommonJS file, by esbuild.
 * Deterministic: the same sources and dependency versions give the same string,
 * wherever the repository is checked out and whatever the working directory.
 *
 * @param {{ root: string; banner: string; alias?: Record<string, string> }} o
 * @returns {string}
 */
function buildNodeProgram(o) {
  const result = buildSync({
    // Paths embedded in the output are relative to this, never absolute.
    absWorkingDir: o.root,
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
 * program's folder: `../node_modules/x/...` with the workspace's dependencies
 * hoisted to the repository root, `node_modules/x/...` when one is installed in
 * the program's own folder. The labels carry no meaning; make them the same
 * for every layout.
 *
 * @param {string} code
 * @returns {string}
 */
function layoutIndependent(code) {
  return code.replace(/(__commonJS|__esm)\(\{"(?:\.\.\/)+(?:node_modules\/)?/g, '$1({"node_modules/');
}

/** The crawler's bundle, built now from the sources. */
function buildCrawler() {
  // The agents print proxy URLs with credentials through `debug`.
  return buildNodeProgram({ root: __dirname, banner: BANNER, alias: { debug: './src/debug-stub.ts' } });
}

/**
 * The command line of a program's build: writes `build()` to `file` (through a
 * temporary file and a rename, so that a reader never sees half a bundle), or
 * prints it with `--stdout`.
 *
 * @param {() => string} build
 * @param {string} file
 */
function buildCommand(build, file) {
  const code = build();
  if (process.argv.includes('--stdout')) {
    process.stdout.write(code);
    return;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(partial, code);
  fs.renameSync(partial, file);
  // On stderr: the stdout of `npm pack --json`, which runs this through `prepare`, must stay JSON.
  console.error(`${path.relative(process.cwd(), file) || file}: ${Buffer.byteLength(code)} bytes`);
}

module.exports = { buildNodeProgram, buildCrawler, buildCommand };

if (require.main === module) buildCommand(buildCrawler, path.join(__dirname, 'dist', 'crawler.js'));
