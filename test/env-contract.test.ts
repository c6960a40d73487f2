import * as fs from 'fs';
import * as path from 'path';
import { loadConfig as loadCrawlerConfig } from '../crawler/src/config';
import { generateDemoCa } from '../gateway';
import { GATEWAY_ENV_VARIABLES } from '../gateway/src/defaults';
import { loadConfig as loadGatewayConfig } from '../gateway/src/config';
import { COLLECTOR_ENV_VARIABLES } from '../collector';
import { loadConfig as loadCollectorConfig } from '../collector/src/config';
import { tempDir } from './support/temp-dir';

/**
 * The environment contract of the crawler, the demo gateway and the usage collector is stated once, in their READMEs' tables: the
 * variables their configuration parsers read, recorded while they parse a complete environment, are exactly the
 * variables the tables document (Node's own variables aside).
 */

const ROOT = path.join(__dirname, '..');

/** Every `NAME` in the first column of the tables of the README's "Configuration" section. */
function documented(readme: string): Set<string> {
  const names = new Set<string>();
  const text = fs.readFileSync(path.join(ROOT, readme), 'utf8');
  const section = text.slice(text.indexOf('\n## Configuration'), text.indexOf('\n## ', text.indexOf('\n## Configuration') + 1));
  for (const line of section.split('\n')) {
    const first = /^\| ([^|]+) \|/.exec(line)?.[1];
    for (const m of first?.matchAll(/`([A-Za-z][A-Za-z0-9_]*)`/g) ?? []) if (/^[A-Z][A-Z0-9_]+$/.test(m[1]) || /^[a-z]+_proxy$/.test(m[1])) names.add(m[1]);
  }
  return names;
}

/** The variables `load` reads from `env`, in upper case (proxy-from-env also reads the lower-case names). */
function reads(load: (env: Record<string, string | undefined>) => unknown, env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  const proxy = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key.toUpperCase());
      return target[key as string];
    },
  });
  load(proxy);
  return read;
}

const tmp = tempDir('env-contract');
const ca = generateDemoCa();
fs.writeFileSync(path.join(tmp, 'ca.crt'), ca.certPem);
fs.writeFileSync(path.join(tmp, 'ca.key'), ca.keyPem);

test('the crawler reads exactly the variables its README documents', () => {
  const env = {
    PROXY_VENDOR: 'acme', TARGETS: 'https://shop.example/=2,http://news.example/', REQUESTS_PER_SECOND: '2', CONCURRENCY: '4', DURATION_SECONDS: '5',
    REQUEST_TIMEOUT_MS: '5000', HTTP_VERSION: 'auto', H2C: 'false', HTTPS_PROXY: 'http://gw.example:8080', HTTP_PROXY: 'http://gw.example:8080',
    ALL_PROXY: 'http://gw.example:8080', NO_PROXY: '.svc', CA_FILE: path.join(tmp, 'ca.crt'), INSECURE_SKIP_VERIFY: 'false', METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1', LOG_LEVEL: 'info', LOG_INTERVAL_SECONDS: '10', USER_AGENT: 'test',
  };
  const table = documented('crawler/README.md');
  // Node reads NODE_EXTRA_CA_CERTS itself, at start.
  expect([...reads(loadCrawlerConfig, env)].sort()).toEqual([...table].filter(n => n !== 'NODE_EXTRA_CA_CERTS' && n === n.toUpperCase()).sort());
  expect(Object.keys(env).sort()).toEqual([...table].filter(n => n !== 'NODE_EXTRA_CA_CERTS' && n === n.toUpperCase()).sort());
});

test('the demo gateway reads exactly the variables its README documents, and exports the list', () => {
  const env = {
    VENDOR: 'acme', PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', SITE_PORT: '0', SITE_HOST: '127.0.0.1',
    PAGE_SIZES: '1024=2,4096', RATE_LIMIT_SHARE: '0.1', PROXY_USERNAME: 'u', PROXY_PASSWORD: 'p', CA_CERT_FILE: path.join(tmp, 'ca.crt'),
    CA_KEY_FILE: path.join(tmp, 'ca.key'), MAX_SITES: '10', LOG_LEVEL: 'info', LOG_INTERVAL_SECONDS: '10', BANNER_PORT: '0',
    USAGE_PORT: '0', USAGE_TOKEN: 'token', USAGE_BUCKET_SECONDS: '60',
  };
  const table = [...documented('gateway/README.md')].sort();
  expect([...reads(loadGatewayConfig, env)].sort()).toEqual(table);
  expect([...GATEWAY_ENV_VARIABLES].sort()).toEqual(table);
  expect(Object.keys(env).sort()).toEqual(table);
});

test('the usage collector reads exactly the variables its README documents, and exports the list', () => {
  // A usage file without credentials: the variables an http source's `auth` names are the user's, not the contract's.
  const usageFile = path.join(tmp, 'usage.json');
  fs.writeFileSync(usageFile, JSON.stringify({ sources: [{ vendor: 'acme', kind: 'file', path: '/var/run/usage.csv', format: 'csv', mapping: { bytes: 'Bytes' } }] }));
  const env = { USAGE_CONFIG_FILE: usageFile, METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', LOG_LEVEL: 'info', LOG_INTERVAL_SECONDS: '10' };
  const table = [...documented('collector/README.md')].sort();
  expect([...reads(loadCollectorConfig, env)].sort()).toEqual(table);
  expect([...COLLECTOR_ENV_VARIABLES].sort()).toEqual(table);
  expect(Object.keys(env).sort()).toEqual(table);
});
