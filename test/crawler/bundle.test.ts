import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { CRAWLER_IMAGE, CRAWLER_METRICS_PORT, CRAWLER_SCRIPT_PATH, bundleCrawler } from '../../crawler';
import { buildCrawlerBundle } from '../../crawler/bundle';

const repoRoot = path.resolve(__dirname, '..', '..');

describe('bundleCrawler', () => {
  const bundle = bundleCrawler();

  test('is one self-contained CommonJS file, small enough for a ConfigMap applied with kubectl apply', () => {
    expect(bundle.startsWith('/*! proxy-telemetry synthetic crawler')).toBe(true);
    expect(Buffer.byteLength(bundle)).toBeLessThan(256 * 1024);
    // Only Node built-ins are required at run time.
    const required = [...bundle.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1].replace(/^node:/, ''));
    const builtins = new Set(require('node:module').builtinModules as string[]);
    expect(required.filter((r) => !builtins.has(r))).toEqual([]);
    // No machine- or layout-specific paths.
    expect(bundle).not.toContain(repoRoot);
    expect(bundle).not.toContain('"../');
    expect(bundle).toContain('__commonJS({"node_modules/prom-client/');
  });

  test('is deterministic and cached', () => {
    expect(buildCrawlerBundle()).toBe(bundle);
    expect(bundleCrawler()).toBe(bundle);
  });

  test('builds the same string from another working directory', () => {
    const script = `process.stdout.write(require('crypto').createHash('sha256').update(require(${JSON.stringify(path.join(repoRoot, 'crawler'))}).bundleCrawler()).digest('hex'))`;
    const result = spawnSync(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), '-e', script], {
      cwd: os.tmpdir(),
      env: { ...process.env, TS_NODE_PROJECT: path.join(repoRoot, 'tsconfig.json') },
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(require('node:crypto').createHash('sha256').update(bundle).digest('hex'));
  });

  test('packaging constants', () => {
    expect(CRAWLER_IMAGE).toBe('docker.io/library/node:20.18.1-alpine3.20');
    expect(CRAWLER_SCRIPT_PATH).toBe('/opt/crawler/crawler.js');
    expect(CRAWLER_METRICS_PORT).toBe(9102);
  });
});
