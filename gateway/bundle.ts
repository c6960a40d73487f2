import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';

const BANNER = [
  '/*! proxy-telemetry demo gateway: one self-contained CommonJS file for Node.js 20,',
  ' * run with `node gateway.js`, configured through environment variables.',
  ' * A forward proxy that serves synthetic pages itself and never connects out.',
  ' * Includes prom-client and @opentelemetry/api (Apache-2.0) and tdigest, bintrees (MIT);',
  ' * see their licenses in the npm registry. Generated file: do not edit. */',
].join('\n');

/**
 * The gateway source root. From the TypeScript sources this is the folder of
 * this file; when this file runs compiled into build/gateway/, the sources
 * are still found in the repository's gateway/ folder.
 */
function gatewayRoot(): string {
  const candidates = [__dirname, path.resolve(__dirname, '..', '..', 'gateway')];
  const root = candidates.find((dir) => fs.existsSync(path.join(dir, 'src', 'main.ts')));
  if (!root) throw new Error(`gateway sources not found (looked for src/main.ts in ${candidates.join(', ')})`);
  return root;
}

let cached: string | undefined;

/**
 * The whole gateway as one CommonJS file (under 230 KB) for a ConfigMap.
 * Built once per process, then reused.
 */
export function bundleGateway(): string {
  cached ??= buildGatewayBundle();
  return cached;
}

/**
 * Runs esbuild. Deterministic: the same sources and dependency versions give
 * the same string, wherever the repository is checked out.
 */
export function buildGatewayBundle(): string {
  const root = gatewayRoot();
  const result = buildSync({
    // Paths embedded in the output are relative to this, never absolute.
    absWorkingDir: root,
    entryPoints: ['src/main.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    // Whitespace and syntax only, as for the crawler: identifiers stay
    // readable in stack traces, and the file stays far below the 256 KiB
    // `kubectl apply` keeps of a ConfigMap in an annotation.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'none',
    banner: { js: BANNER },
    charset: 'utf8',
    // Fixed compiler options: the output must not depend on which
    // tsconfig.json happens to sit above the gateway folder.
    tsconfigRaw: { compilerOptions: { strict: true, target: 'ES2022', useDefineForClassFields: true } },
    logLevel: 'silent',
  });
  return layoutIndependent(result.outputFiles[0].text);
}

/**
 * esbuild labels each bundled CommonJS module with its path relative to the
 * gateway folder: `../node_modules/x/...` in this repository, `../../x/...`
 * when installed as a dependency with hoisted modules. The labels carry no
 * meaning; make them the same for every layout.
 */
function layoutIndependent(code: string): string {
  return code.replace(/(__commonJS|__esm)\(\{"(?:\.\.\/)+(?:node_modules\/)?/g, '$1({"node_modules/');
}

if (require.main === module) {
  // `ts-node gateway/bundle.ts > gateway.js`, for a local run or an image.
  process.stdout.write(bundleGateway());
}
