/**
 * Loopback-only fixtures for the usage collector: the bundled collector as a
 * child process (on test/support/program-process), its usage configuration
 * in a temporary file, and a vendor usage API whose answers a test sets.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as path from 'node:path';
import { bundleCollector } from '../../collector';
import { LOOPBACK, scrapeMetrics, unusedPort, waitUntil } from '../crawler/helpers';
import { Exit, ProgramRun, bundleFile, closeAfterTest, removeBundles, spawnProgram } from '../support/program-process';
import { tempDir } from '../support/temp-dir';

export { LOOPBACK, metricValue, scrapeMetrics, unusedPort, waitUntil } from '../crawler/helpers';
export { cleanup } from '../support/program-process';

/** For afterAll: deletes the temporary bundle (tempDir's folders go by themselves). */
export const removeBundle = removeBundles;

/** Writes bundleCollector() to a temporary file once per test file. */
export function bundledCollectorPath(): string {
  return bundleFile('collector.js', bundleCollector);
}

let folder: string | undefined;

/** Writes a file to this test file's temporary folder; returns its path. */
export function temporaryFile(name: string, content: string): string {
  folder ??= tempDir('collector-test');
  const file = path.join(folder, name);
  fs.writeFileSync(file, content);
  return file;
}

let configs = 0;

/** The usage configuration as the ConfigMap would mount it. */
export function writeUsageConfig(usage: unknown): string {
  return temporaryFile(`usage-${++configs}.json`, JSON.stringify(usage, null, 2));
}

export class CollectorRun extends ProgramRun<object> {
  metricsPort = 0;

  constructor(child: ChildProcess) {
    super(child, 'collector');
  }

  metrics(): Promise<string> {
    return scrapeMetrics(this.metricsPort);
  }

  /** Scrapes until `condition` holds on the metrics text; returns that text. */
  async scrapeUntil(condition: (metrics: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await this.metrics().catch(() => '');
      if (condition(text)) return text;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last scrape:\n${text}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGTERM, then the exit. */
  async stop(): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.waitForExit();
  }
}

/** Spawns the bundled collector (environment built from scratch) without waiting for it. */
export function spawnCollector(env: Record<string, string>): CollectorRun {
  return spawnProgram(CollectorRun, bundledCollectorPath(), { METRICS_PORT: '0', LOG_INTERVAL_SECONDS: '1', ...env });
}

/** Starts the bundled collector on `usage` with a metrics port, and waits for its `start` line. */
export async function startCollector(usage: unknown, env: Record<string, string> = {}): Promise<CollectorRun> {
  const metricsPort = await unusedPort();
  const run = spawnCollector({ USAGE_CONFIG_FILE: writeUsageConfig(usage), METRICS_PORT: String(metricsPort), METRICS_HOST: LOOPBACK, ...env });
  let exited = false;
  void run.exited.then(() => (exited = true));
  await waitUntil(() => exited || run.stdout.includes('"msg":"start"'), 20_000, 'the collector start line');
  if (exited) throw new Error(`collector did not start; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  run.metricsPort = metricsPort;
  return run;
}

/** Whether the metrics text has a series `name` with `labels`. */
export function hasSeries(metrics: string, name: string, labels: Record<string, string>): boolean {
  return metrics.split('\n').some((line) => {
    if (!line.startsWith(`${name}{`)) return false;
    return Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
  });
}

export interface Answer {
  status: number;
  body: string;
  /** Never answer (until the test ends). */
  hang?: boolean;
}

/** A vendor's usage API on loopback: every GET gets what `answer` gives now. */
export interface VendorApi {
  port: number;
  url(pathAndQuery: string): string;
  /** Every request received: URL and headers. */
  requests: Array<{ url: string; headers: http.IncomingHttpHeaders }>;
  answer: (req: http.IncomingMessage) => Answer;
}

export async function startVendorApi(answer: VendorApi['answer']): Promise<VendorApi> {
  const api: VendorApi = { port: 0, url: (p) => `http://${LOOPBACK}:${api.port}${p}`, requests: [], answer };
  const server = http.createServer((req, res) => {
    api.requests.push({ url: req.url ?? '', headers: req.headers });
    req.resume();
    const a = api.answer(req);
    if (a.hang) return;
    res.writeHead(a.status, { 'content-type': 'application/json' });
    res.end(a.body);
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  api.port = (server.address() as net.AddressInfo).port;
  closeAfterTest(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return api;
}
