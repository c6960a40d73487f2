import * as fs from 'node:fs';
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
  GATEWAY_USAGE_PATH,
  GATEWAY_VERSION,
  bundleGateway,
} from '../../gateway';
import { CRAWLER_IMAGE } from '../../crawler';
import { describeProgramBundle } from '../support/program-process';

describe('bundleGateway', () => {
  // A ConfigMap applied client-side keeps a copy in a 256 KiB annotation; leave room.
  const sizeLimit = { bytes: 230 * 1000, title: 'under 230 KB' };
  const { buildGateway } = require('../../gateway/build') as { buildGateway(): string };
  describeProgramBundle({ folder: 'gateway', banner: '/*! proxy-telemetry demo gateway', sizeLimit, version: GATEWAY_VERSION, read: bundleGateway, build: buildGateway });

  test('packaging constants', () => {
    expect(GATEWAY_IMAGE).toBe(CRAWLER_IMAGE);
    expect(GATEWAY_SCRIPT_PATH).toBe('/opt/gateway/gateway.js');
    expect(GATEWAY_PROXY_PORT).toBe(8080);
    expect(GATEWAY_METRICS_PORT).toBe(9102);
    expect(GATEWAY_METRICS_PATH).toBe('/metrics');
    expect(GATEWAY_CA_PATH).toBe('/ca.pem');
    expect(GATEWAY_USAGE_PATH).toBe('/v1/usage');
    expect(GATEWAY_RUN_AS_USER).toBe(1000);
    expect(GATEWAY_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('the README documents every environment variable', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '..', '..', 'gateway', 'README.md'), 'utf8');
    for (const name of GATEWAY_ENV_VARIABLES) expect({ name, documented: readme.includes(`| \`${name}\``) }).toEqual({ name, documented: true });
  });
});
