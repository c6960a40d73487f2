import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  GATEWAY_CA_PATH,
  GATEWAY_ENV_VARIABLES,
  GATEWAY_IMAGE,
  GATEWAY_METRICS_PATH,
  GATEWAY_METRICS_PORT,
  GATEWAY_PROXY_PORT,
  GATEWAY_RUN_AS_USER,
  GATEWAY_SCRIPT_PATH,
  GATEWAY_VERSION,
  bundleGateway,
} from '../../gateway';
import { CRAWLER_IMAGE } from '../../crawler';

const repoRoot = path.resolve(__dirname, '..', '..');
/** A ConfigMap applied client-side keeps a copy in a 256 KiB annotation; leave room. */
const SIZE_LIMIT = 230 * 1000;

describe('bundleGateway', () => {
  const bundle = bundleGateway();

  test('is one self-contained CommonJS file under 230 KB that needs only Node built-ins', () => {
    expect(bundle.startsWith('/*! proxy-telemetry demo gateway')).toBe(true);
    expect(Buffer.byteLength(bundle)).toBeLessThan(SIZE_LIMIT);
    const required = [...bundle.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1].replace(/^node:/, ''));
    expect(required.filter((r) => !builtinModules.includes(r))).toEqual([]);
    // No machine- or layout-specific paths.
    expect(bundle).not.toContain(repoRoot);
    expect(bundle).not.toContain('"../');
    expect(bundle).toContain('__commonJS({"node_modules/prom-client/');
  });

  test('is the built file gateway/dist/gateway.js, read once', () => {
    expect(bundle).toBe(fs.readFileSync(path.join(repoRoot, 'gateway', 'dist', 'gateway.js'), 'utf8'));
    expect(bundleGateway()).toBe(bundle);
  });

  test('is what the build makes from the sources now, from any working directory', () => {
    // A stale file means sources changed without `npm run build -w gateway` (npm test runs it first).
    const result = spawnSync(process.execPath, [path.join(repoRoot, 'gateway', 'build.js'), '--stdout'], { cwd: os.tmpdir(), encoding: 'utf8', maxBuffer: 1 << 24 });
    expect(result.stderr).toBe('');
    expect(result.stdout === bundle ? 'up to date' : 'gateway/dist/gateway.js is stale: run npm run build -w gateway').toBe('up to date');
  });

  test('is deterministic', () => {
    const { buildGateway } = require('../../gateway/build') as { buildGateway(): string };
    expect(createHash('sha256').update(buildGateway()).digest('hex')).toBe(createHash('sha256').update(buildGateway()).digest('hex'));
  });

  test('packaging constants', () => {
    expect(GATEWAY_IMAGE).toBe(CRAWLER_IMAGE);
    expect(GATEWAY_SCRIPT_PATH).toBe('/opt/gateway/gateway.js');
    expect(GATEWAY_PROXY_PORT).toBe(8080);
    expect(GATEWAY_METRICS_PORT).toBe(9102);
    expect(GATEWAY_METRICS_PATH).toBe('/metrics');
    expect(GATEWAY_CA_PATH).toBe('/ca.pem');
    expect(GATEWAY_RUN_AS_USER).toBe(1000);
    expect(GATEWAY_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    // The workspace package and the program report one version.
    expect(JSON.parse(fs.readFileSync(path.join(repoRoot, 'gateway', 'package.json'), 'utf8')).version).toBe(GATEWAY_VERSION);
  });

  test('the README documents every environment variable', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'gateway', 'README.md'), 'utf8');
    for (const name of GATEWAY_ENV_VARIABLES) expect({ name, documented: readme.includes(`| \`${name}\``) }).toEqual({ name, documented: true });
  });
});
