import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  COLLECTOR_CONFIG_FILE_VARIABLE,
  COLLECTOR_ENV_VARIABLES,
  COLLECTOR_IMAGE,
  COLLECTOR_METRICS_PATH,
  COLLECTOR_METRICS_PORT,
  COLLECTOR_RUN_AS_USER,
  COLLECTOR_SCRIPT_PATH,
  COLLECTOR_VERSION,
  bundleCollector,
} from '../../collector';
import { CRAWLER_IMAGE } from '../../crawler';
import { describeProgramBundle } from '../support/program-process';

describe('bundleCollector', () => {
  // A ConfigMap applied client-side keeps a copy in a 256 KiB annotation; leave room.
  const sizeLimit = { bytes: 230 * 1000, title: 'under 230 KB' };
  const { buildCollector } = require('../../collector/build') as { buildCollector(): string };
  describeProgramBundle({ folder: 'collector', banner: '/*! proxy-telemetry vendor usage collector', sizeLimit, version: COLLECTOR_VERSION, read: bundleCollector, build: buildCollector });

  test('packaging constants', () => {
    expect(COLLECTOR_IMAGE).toBe(CRAWLER_IMAGE);
    expect(COLLECTOR_SCRIPT_PATH).toBe('/opt/collector/collector.js');
    expect(COLLECTOR_METRICS_PORT).toBe(9466);
    expect(COLLECTOR_METRICS_PATH).toBe('/metrics');
    expect(COLLECTOR_RUN_AS_USER).toBe(1000);
    expect(COLLECTOR_CONFIG_FILE_VARIABLE).toBe('USAGE_CONFIG_FILE');
    expect(COLLECTOR_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('the README documents every environment variable', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '..', '..', 'collector', 'README.md'), 'utf8');
    for (const name of COLLECTOR_ENV_VARIABLES) expect({ name, documented: readme.includes(`| \`${name}\``) }).toEqual({ name, documented: true });
  });

  test('the package entry needs nothing the library does not ship: no run-time code, no program dependency', () => {
    // collector/index.ts is compiled into the library (build/collector); runtime/ and csv-parse are not shipped with it.
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/(?:from|require\()\s*'([^']+)'/g)) {
        if (!m[1].startsWith('.')) continue;
        const target = path.resolve(path.dirname(file), m[1]);
        visit(fs.existsSync(`${target}.ts`) ? `${target}.ts` : path.join(target, 'index.ts'));
      }
    };
    const root = path.resolve(__dirname, '..', '..');
    visit(path.join(root, 'collector', 'index.ts'));
    const files = [...seen].map((f) => path.relative(root, f).split(path.sep).join('/')).sort();
    expect(files.filter((f) => !/^(collector\/(index|bundle|src\/(defaults|time|usage-config))|crawler\/(index|bundle|src\/defaults))\.ts$/.test(f))).toEqual([]);
    const sources = files.map((f) => fs.readFileSync(path.join(root, f), 'utf8')).join('\n');
    expect(sources).not.toMatch(/from '(csv-parse|prom-client)/);
  });
});
