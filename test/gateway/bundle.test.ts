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
import { buildGatewayBundle } from '../../gateway/bundle';
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

  test('is deterministic (built twice: identical) and cached', () => {
    expect(buildGatewayBundle()).toBe(bundle);
    expect(bundleGateway()).toBe(bundle);
  });

  test('builds the same string from another working directory', () => {
    const script = `process.stdout.write(require('crypto').createHash('sha256').update(require(${JSON.stringify(path.join(repoRoot, 'gateway'))}).bundleGateway()).digest('hex'))`;
    const result = spawnSync(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), '-e', script], {
      cwd: os.tmpdir(),
      env: { ...process.env, TS_NODE_PROJECT: path.join(repoRoot, 'tsconfig.json') },
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(createHash('sha256').update(bundle).digest('hex'));
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
  });

  test('the README documents every environment variable', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'gateway', 'README.md'), 'utf8');
    for (const name of GATEWAY_ENV_VARIABLES) expect({ name, documented: readme.includes(`| \`${name}\``) }).toEqual({ name, documented: true });
  });
});
