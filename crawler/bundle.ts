import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Root of the repository or of the installed package: this file is
 * `<root>/crawler/bundle.ts`, or `<root>/build/crawler/bundle.js` once compiled.
 */
const PACKAGE_ROOT = path.resolve(__dirname, __filename.endsWith('.ts') ? '..' : path.join('..', '..'));

const cache = new Map<string, string>();

/**
 * The built bundle of one of our Node programs, `<folder>/dist/<file>`, which
 * `npm run build -w <folder>` writes with esbuild (`npm ci`, `npm run build` and
 * `npm pack` run it through the root `prepare`). Nothing is compiled at synth
 * time: this only reads the file, once per process.
 */
export function readProgramBundle(folder: string, file: string, root: string = PACKAGE_ROOT): string {
  const bundle = path.join(root, folder, 'dist', file);
  let code = cache.get(bundle);
  if (code === undefined) {
    if (!fs.existsSync(bundle)) {
      throw new Error(`${folder}/dist/${file} is missing (looked for ${bundle}): build it with \`npm run build -w ${folder}\` in the repository (npm ci and npm run build run it too)`);
    }
    code = fs.readFileSync(bundle, 'utf8');
    cache.set(bundle, code);
  }
  return code;
}

/**
 * The whole crawler as one CommonJS file (well under 256 KiB, see crawler/build.js)
 * for a ConfigMap: crawler/dist/crawler.js.
 */
export function bundleCrawler(): string {
  return readProgramBundle('crawler', 'crawler.js');
}
