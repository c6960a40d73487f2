import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import { requireBinary } from './binaries';
import { PrometheusApi } from './prometheus-api';

export type { InstantSample, RangeSeries } from './prometheus-api';

/**
 * A real Prometheus server on 127.0.0.1 and a free port, with its TSDB in a temporary directory.
 * Queries use the HTTP API with Node's global fetch.
 */


export interface PrometheusStartOptions {
  /** Prometheus configuration file (e.g. from materializeConfig); its rule_files must be absolute paths. */
  configFile: string;
  /** Extra command-line flags. */
  args?: string[];
  readyTimeoutMs?: number;
}

const running = new Set<PrometheusProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Never leave a server or its TSDB behind, even if a test forgets stop().
  process.once('exit', () => {
    for (const p of running) p.killNow();
  });
}

/**
 * Starts a server on a free port and waits until `ready`; a port picked as free can be taken before the server binds
 * it, so on "address already in use" it retries with another (three tries).
 */
export async function startOnFreePort<P extends { stop(): Promise<void> }>(make: (port: number) => P, ready: (p: P) => Promise<void>): Promise<P> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const p = make(await freePort());
    try {
      await ready(p);
      return p;
    } catch (err) {
      lastError = err as Error;
      await p.stop();
      if (!/address already in use/.test(lastError.message)) break;
    }
  }
  throw lastError!;
}

/** A port on 127.0.0.1 that nothing listens on (free at the time of the call). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export class PrometheusProcess extends PrometheusApi {
  /** Starts Prometheus and waits for /-/ready. Fails (never skips) when the binary is missing. */
  public static async start(opts: PrometheusStartOptions): Promise<PrometheusProcess> {
    const binary = requireBinary('prometheus');
    return startOnFreePort(port => new PrometheusProcess(binary, port, opts), p => p.waitReady(opts.readyTimeoutMs ?? 30_000));
  }

  public readonly port: number;
  public readonly url: string;
  /** Temporary directory with the TSDB, the effective config and the log. */
  public readonly dir: string;
  public readonly configFile: string;
  private readonly child: ChildProcess;
  private readonly logFile: string;
  private exited = false;
  private readonly exitPromise: Promise<void>;

  private constructor(binary: string, port: number, opts: PrometheusStartOptions) {
    super();
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prometheus-run-'));
    // The self-scrape job points at localhost:9090 (the in-cluster port); aim it at this server instead.
    const config = YAML.parse(fs.readFileSync(opts.configFile, 'utf8')) ?? {};
    for (const job of config.scrape_configs ?? []) {
      for (const sc of job.static_configs ?? []) {
        sc.targets = (sc.targets ?? []).map((t: string) => (t === 'localhost:9090' ? `127.0.0.1:${port}` : t));
      }
    }
    this.configFile = path.join(this.dir, 'prometheus.yml');
    fs.writeFileSync(this.configFile, YAML.stringify(config));

    // Logs to a file, not a pipe: a pipe nobody drains while this process runs a synchronous child (promtool) fills
    // up, and Prometheus then blocks on a log write while holding its TSDB lock, so every query hangs.
    this.logFile = path.join(this.dir, 'prometheus.log');
    const logFd = fs.openSync(this.logFile, 'a');
    this.child = spawn(binary, [
      `--config.file=${this.configFile}`,
      `--storage.tsdb.path=${path.join(this.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      ...(opts.args ?? []),
    ], { stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    this.exitPromise = new Promise(resolve => this.child.once('exit', () => {
      this.exited = true;
      resolve();
    }));
    running.add(this);
    installExitHook();
  }

  /** Process id of the server (for /proc measurements). */
  public get pid(): number | undefined {
    return this.child.pid;
  }

  /** Prometheus's own log output (tail). */
  public logs(): string {
    return this.log;
  }

  /** The tail of the log: enough for error messages. */
  private get log(): string {
    try {
      const text = fs.readFileSync(this.logFile, 'utf8');
      return text.slice(-64 * 1024);
    } catch {
      return '';
    }
  }

  /** /api/v1/targets: `activeTargets` (labels, health, lastError, scrapeUrl, ...) and `droppedTargets`. */
  public async targets(): Promise<{ activeTargets: any[]; droppedTargets: any[] }> {
    return this.api('/api/v1/targets', {});
  }

  /** /api/v1/rules: rule groups with their rules' health, lastError and (for alerts) state. */
  public async rules(): Promise<any[]> {
    return (await this.api('/api/v1/rules', {})).groups;
  }

  protected exitedWith(): string | undefined {
    return this.exited ? `Prometheus exited:\n${this.log}` : undefined;
  }

  /** Re-reads the config and rule files (after editing the files in `dir`). */
  public async reload(): Promise<void> {
    const res = await fetch(`${this.url}/-/reload`, { method: 'POST' });
    if (!res.ok) throw new Error(`reload failed: ${res.status} ${await res.text()}`);
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its temporary directory. */
  public async stop(): Promise<void> {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exitPromise;
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    running.delete(this);
  }

  /** @internal synchronous cleanup for process exit */
  public killNow(): void {
    if (!this.exited) this.child.kill('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`Prometheus exited during startup (exit code ${this.child.exitCode}):\n${this.log}`);
      try {
        const res = await fetch(`${this.url}/-/ready`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise(r => setTimeout(r, 100));
    }
    throw new Error(`Prometheus not ready after ${timeoutMs} ms:\n${this.log}`);
  }
}
