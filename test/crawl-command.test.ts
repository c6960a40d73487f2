import { spawn, spawnSync } from 'child_process';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';

/** `npx proxy-telemetry crawl`: the synthetic crawler's bundle run locally, configured by the environment. */

const CLI = path.join(__dirname, '..', 'bin', 'proxy-telemetry.js');

test('crawls the targets of TARGETS, and drains and exits 0 on SIGTERM, as in a pod', async () => {
  // GIVEN a local site that counts requests
  let requests = 0;
  let onRequest = () => undefined as void;
  const site = http.createServer((_req, res) => {
    requests++;
    onRequest();
    res.end('ok');
  });
  await new Promise<void>(resolve => site.listen(0, '127.0.0.1', () => resolve()));
  const port = (site.address() as AddressInfo).port;

  // WHEN the crawler runs until the site has seen three requests
  const child = spawn(CLI, ['crawl'], {
    env: { ...process.env, PROXY_VENDOR: 'acme', TARGETS: `http://127.0.0.1:${port}/`, REQUESTS_PER_SECOND: '20', METRICS_PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  await new Promise<void>(resolve => {
    onRequest = () => { if (requests === 3) resolve(); };
  });
  child.kill('SIGTERM');
  const code = await new Promise<number | null>(resolve => child.once('exit', status => resolve(status)));
  site.close();

  // THEN
  expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
  expect(requests).toBeGreaterThanOrEqual(3);
  const stop = output.split('\n').filter(Boolean).map(l => JSON.parse(l)).find(l => l.msg === 'stop');
  expect(stop).toBeDefined();
}, 60_000);

test.each<[string[], Record<string, string>, number, string]>([
  [['crawl', '--help'], {}, 0, 'configured by environment variables only'],
  [['crawl', 'extra'], {}, 2, 'Usage: PROXY_VENDOR=acme'],
  [['crawl'], { TARGETS: 'http://127.0.0.1:1/' }, 2, 'PROXY_VENDOR'],
])('%j with %j exits %i', (args, env, status, message) => {
  const { PROXY_VENDOR: _unset, ...base } = process.env;
  const r = spawnSync(CLI, args, { env: { ...base, ...env }, encoding: 'utf8', timeout: 60_000 });
  expect({ status: r.status, output: (r.stdout + r.stderr).includes(message) }).toEqual({ status, output: true });
});
