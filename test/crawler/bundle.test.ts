import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CRAWLER_IMAGE, CRAWLER_METRICS_PORT, CRAWLER_SCRIPT_PATH, CRAWLER_VERSION, bundleCrawler } from '../../crawler';
import { readProgramBundle } from '../../crawler/bundle';

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

  test('is the built file crawler/dist/crawler.js, read once', () => {
    expect(bundle).toBe(fs.readFileSync(path.join(repoRoot, 'crawler', 'dist', 'crawler.js'), 'utf8'));
    expect(bundleCrawler()).toBe(bundle);
  });

  test('is what the build makes from the sources now, from any working directory', () => {
    // A stale file means sources changed without `npm run build -w crawler` (npm test runs it first).
    const result = spawnSync(process.execPath, [path.join(repoRoot, 'crawler', 'build.js'), '--stdout'], { cwd: os.tmpdir(), encoding: 'utf8', maxBuffer: 1 << 24 });
    expect(result.stderr).toBe('');
    expect(result.stdout === bundle ? 'up to date' : 'crawler/dist/crawler.js is stale: run npm run build -w crawler').toBe('up to date');
  });

  test('is deterministic', () => {
    const { buildCrawler } = require('../../crawler/build') as { buildCrawler(): string };
    expect(buildCrawler()).toBe(buildCrawler());
  });

  test('a missing bundle names the command that builds it', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-bundle-'));
    try {
      expect(() => readProgramBundle('crawler', 'crawler.js', empty)).toThrow('crawler/dist/crawler.js is missing');
      expect(() => readProgramBundle('crawler', 'crawler.js', empty)).toThrow('npm run build -w crawler');
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  test('packaging constants', () => {
    expect(CRAWLER_IMAGE).toBe('docker.io/library/node:20.18.1-alpine3.20');
    expect(CRAWLER_SCRIPT_PATH).toBe('/opt/crawler/crawler.js');
    expect(CRAWLER_METRICS_PORT).toBe(9102);
    // The workspace package and the program report one version.
    expect(JSON.parse(fs.readFileSync(path.join(repoRoot, 'crawler', 'package.json'), 'utf8')).version).toBe(CRAWLER_VERSION);
  });
});
