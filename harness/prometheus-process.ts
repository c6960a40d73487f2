import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import { requireBinary } from './binaries';

/**
 * A real Prometheus server on 127.0.0.1 and a free port, with its TSDB in a temporary directory.
 * Queries use the HTTP API with Node's global fetch.
 */

export interface InstantSample { metric: Record<string, string>; value: number }
export interface RangeSeries { metric: Record<string, string>; values: Array<[number, number]> }

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

/** Seconds since the epoch, as the API expects, from a ms timestamp or Date. */
function apiTime(t: number | Date): string {
  return String((t instanceof Date ? t.getTime() : t) / 1000);
}

export class PrometheusProcess {
  /** Starts Prometheus and waits for /-/ready. Fails (never skips) when the binary is missing. */
  public static async start(opts: PrometheusStartOptions): Promise<PrometheusProcess> {
    const binary = requireBinary('prometheus');
    let lastError: Error | undefined;
    // A port picked as free can be taken before Prometheus binds it: retry with another.
    for (let attempt = 0; attempt < 3; attempt++) {
      const p = new PrometheusProcess(binary, await freePort(), opts);
      try {
        await p.waitReady(opts.readyTimeoutMs ?? 30_000);
        return p;
      } catch (err) {
        lastError = err as Error;
        await p.stop();
        if (!/address already in use/.test(lastError.message)) break;
      }
    }
    throw lastError!;
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

  /** Instant query; `time` in ms since the epoch (default: now). */
  public async query(expr: string, time?: number | Date): Promise<InstantSample[]> {
    const params: Record<string, string> = { query: expr };
    if (time !== undefined) params.time = apiTime(time);
    const data = await this.api('/api/v1/query', params);
    if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
    if (data.resultType !== 'vector') throw new Error(`query '${expr}' returned a ${data.resultType}, not a vector`);
    return data.result.map((r: any) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** Range query; times in ms since the epoch, step in seconds. Sample times come back in ms. */
  public async queryRange(expr: string, startMs: number, endMs: number, stepSeconds: number): Promise<RangeSeries[]> {
    const data = await this.api('/api/v1/query_range', { query: expr, start: apiTime(startMs), end: apiTime(endMs), step: String(stepSeconds) });
    return data.result.map((r: any) => ({ metric: r.metric, values: r.values.map(([t, v]: [number, string]) => [t * 1000, Number(v)]) }));
  }

  /** /api/v1/label/<label>/values of the series matching `match` with samples in [start, end]; times in ms. */
  public async labelValues(label: string, match: string, startMs: number, endMs: number): Promise<string[]> {
    return this.api(`/api/v1/label/${encodeURIComponent(label)}/values`, { 'match[]': match, start: apiTime(startMs), end: apiTime(endMs) });
  }

  /** /api/v1/series: the label sets of the series matching `match` with samples in [start, end]; times in ms. */
  public async series(match: string, startMs: number, endMs: number): Promise<Array<Record<string, string>>> {
    return this.api('/api/v1/series', { 'match[]': match, start: apiTime(startMs), end: apiTime(endMs) });
  }

  /** /api/v1/targets: `activeTargets` (labels, health, lastError, scrapeUrl, ...) and `droppedTargets`. */
  public async targets(): Promise<{ activeTargets: any[]; droppedTargets: any[] }> {
    return this.api('/api/v1/targets', {});
  }

  /** /api/v1/rules: rule groups with their rules' health, lastError and (for alerts) state. */
  public async rules(): Promise<any[]> {
    return (await this.api('/api/v1/rules', {})).groups;
  }

  /** Polls `check` until it returns a truthy value, which is returned; fails after timeoutMs with the last value. */
  public async waitFor<T>(check: () => Promise<T> | T, timeoutMs: number, description = 'condition', intervalMs = 250): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        last = await check();
        if (last) return last as T;
      } catch (err) {
        last = err;
      }
      if (this.exited) throw new Error(`Prometheus exited while waiting for ${description}:\n${this.log}`);
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}; last result: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
      }
      await new Promise(r => setTimeout(r, intervalMs));
    }
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

  private async api(endpoint: string, params: Record<string, string>): Promise<any> {
    const res = await fetch(`${this.url}${endpoint}?${new URLSearchParams(params)}`);
    const body: any = await res.json().catch(() => ({ status: 'error', error: `HTTP ${res.status}` }));
    if (body.status !== 'success') throw new Error(`${endpoint} ${JSON.stringify(params)}: ${body.errorType ?? ''} ${body.error}`);
    return body.data;
  }
}
