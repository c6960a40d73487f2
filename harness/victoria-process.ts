import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { requireBinary } from './binaries';
import { PrometheusApi } from './prometheus-api';
import { startOnFreePort } from './prometheus-process';

/**
 * VictoriaMetrics as a global tier, as real processes on 127.0.0.1: `victoria-metrics` (single node: remote-write
 * receiver, storage and a Prometheus query API) and `vmalert` (its rule evaluator, which queries it and writes the
 * rules' results back to it). Debian's `victoria-metrics` package ships both. Queries use the Prometheus HTTP API with
 * Node's global fetch, with the same methods as PrometheusProcess, so that the same checks run on either engine.
 */

/** `victoria-metrics -version`'s first line, e.g. `victoria-metrics-20230409-...-v1.79.5`. */
export function victoriaVersion(): string {
  const r = spawnSync(requireBinary('victoria-metrics'), ['-version'], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? '';
}

const running = new Set<ServerProcess>();
let exitHookInstalled = false;
function track(p: ServerProcess): void {
  running.add(p);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Never leave a server or its data behind, even if a test forgets stop().
  process.once('exit', () => {
    for (const s of running) s.killNow();
  });
}

/** One child process with a temporary directory, its log in a file, stopped by SIGTERM then SIGKILL. */
abstract class ServerProcess extends PrometheusApi {
  public readonly url: string;
  public readonly dir: string;
  protected readonly logFile: string;
  private child?: ChildProcess;
  private exited = false;
  private exitPromise: Promise<void> = Promise.resolve();

  protected constructor(public readonly name: string, public readonly port: number) {
    super();
    this.url = `http://127.0.0.1:${port}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-run-`));
    this.logFile = path.join(this.dir, `${name}.log`);
  }

  public get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The tail of the log: enough for error messages. */
  public logs(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').slice(-64 * 1024);
    } catch {
      return '';
    }
  }

  protected exitedWith(): string | undefined {
    return this.exited ? `${this.name} exited:\n${this.logs()}` : undefined;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its temporary directory. */
  public async stop(): Promise<void> {
    if (this.child && !this.exited) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child!.kill('SIGKILL'), 5000);
      await this.exitPromise;
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    running.delete(this);
  }

  /** @internal synchronous cleanup for process exit */
  public killNow(): void {
    if (this.child && !this.exited) this.child.kill('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  protected spawn(binary: string, args: string[]): void {
    const logFd = fs.openSync(this.logFile, 'a');
    this.child = spawn(binary, args, { stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    this.exitPromise = new Promise(resolve => this.child!.once('exit', () => {
      this.exited = true;
      resolve();
    }));
    track(this);
  }

  protected async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`${this.name} exited during startup (exit code ${this.child?.exitCode}):\n${this.logs()}`);
      try {
        const res = await fetch(`${this.url}/health`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise(r => setTimeout(r, 100));
    }
    throw new Error(`${this.name} not healthy after ${timeoutMs} ms:\n${this.logs()}`);
  }

  /** Starts a server on a free port, retrying with another if it was taken in between. */
  protected static async startOn<P extends ServerProcess>(make: (port: number) => P, timeoutMs: number): Promise<P> {
    return startOnFreePort(make, p => p.waitHealthy(timeoutMs));
  }
}

export interface VictoriaMetricsStartOptions {
  /**
   * Extra flags. The defaults here: `-retentionPeriod=100y` (the benchmark writes hours into the past) and
   * `-search.latencyOffset=0s` unless given (VictoriaMetrics hides the last 30 s by default; a test that waits for a
   * condition wants what was written).
   */
  args?: string[];
  readyTimeoutMs?: number;
}

/** A single-node VictoriaMetrics: remote-write receiver at /api/v1/write, Prometheus query API at /api/v1/*. */
export class VictoriaMetricsProcess extends ServerProcess {
  public static async start(opts: VictoriaMetricsStartOptions = {}): Promise<VictoriaMetricsProcess> {
    const binary = requireBinary('victoria-metrics');
    return ServerProcess.startOn(port => new VictoriaMetricsProcess(binary, port, opts), opts.readyTimeoutMs ?? 30_000);
  }

  /** Where Prometheus remote-writes to it. */
  public readonly writeUrl: string;

  private constructor(binary: string, port: number, opts: VictoriaMetricsStartOptions) {
    super('victoria-metrics', port);
    this.writeUrl = `${this.url}/api/v1/write`;
    const args = opts.args ?? [];
    const has = (flag: string) => args.some(a => a.startsWith(`${flag}=`) || a === flag);
    this.spawn(binary, [
      `-storageDataPath=${path.join(this.dir, 'data')}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      ...(has('-retentionPeriod') ? [] : ['-retentionPeriod=100y']),
      ...(has('-search.latencyOffset') ? [] : ['-search.latencyOffset=0s']),
      '-loggerLevel=WARN',
      ...args,
    ]);
  }

  /** Makes every sample received so far searchable (VictoriaMetrics buffers new samples for about a second). */
  public async flush(): Promise<void> {
    const res = await fetch(`${this.url}/internal/force_flush`);
    if (!res.ok) throw new Error(`force_flush: HTTP ${res.status}`);
  }

  /** A counter or gauge of its own /metrics (summed over label sets). */
  public async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const lines = text.split('\n').filter(l => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    if (lines.length === 0) throw new Error(`no ${name} in /metrics`);
    return lines.reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  }
}

export interface VmalertStartOptions {
  /** Rule files in vmalert's format (see lib/prometheus/global-tier.ts). */
  ruleFiles: string[];
  /** Query API it evaluates against: the VictoriaMetrics URL. */
  datasourceUrl: string;
  /** Where it writes the recording rules' results (and alert states): the VictoriaMetrics URL. */
  remoteWriteUrl: string;
  /** Default evaluation interval of groups without their own. */
  evaluationInterval?: string;
  /** Extra flags. */
  args?: string[];
  /** Port to listen on (e.g. one VictoriaMetrics' -vmalert.proxyURL already names); default a free one. */
  port?: number;
  readyTimeoutMs?: number;
}

/** vmalert: evaluates rule groups against a datasource and writes recording rules' results back by remote write. */
export class VmalertProcess extends ServerProcess {
  public static async start(opts: VmalertStartOptions): Promise<VmalertProcess> {
    const binary = requireBinary('vmalert');
    // vmalert 1.79 needs a notifier for alerting rules (no -notifier.blackhole yet): a local Alertmanager API stand-in
    // that keeps what it is sent.
    const received: any[] = [];
    const notifier = http.createServer((req, res) => {
      let body = '';
      req.on('data', c => body += c);
      req.on('end', () => {
        try {
          received.push(...JSON.parse(body));
        } catch {
          // not an alert list
        }
        res.writeHead(200).end();
      });
    });
    await new Promise<void>(resolve => notifier.listen(0, '127.0.0.1', resolve));
    const notifierUrl = `http://127.0.0.1:${(notifier.address() as { port: number }).port}`;
    try {
      const make = (port: number) => new VmalertProcess(binary, port, opts, notifier, notifierUrl, received);
      if (opts.port === undefined) return await ServerProcess.startOn(make, opts.readyTimeoutMs ?? 30_000);
      const p = make(opts.port);
      await p.waitHealthy(opts.readyTimeoutMs ?? 30_000).catch(async err => {
        await p.stop();
        throw err;
      });
      return p;
    } catch (err) {
      notifier.close();
      throw err;
    }
  }

  private constructor(binary: string, port: number, opts: VmalertStartOptions, private readonly notifier: http.Server, notifierUrl: string,
    /** Alerts vmalert sent to its notifier, in Alertmanager's API format. */
    public readonly notified: any[]) {
    super('vmalert', port);
    this.spawn(binary, [
      ...opts.ruleFiles.map(f => `-rule=${f}`),
      `-datasource.url=${opts.datasourceUrl}`,
      `-remoteWrite.url=${opts.remoteWriteUrl}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      `-evaluationInterval=${opts.evaluationInterval ?? '30s'}`,
      `-notifier.url=${notifierUrl}`,
      '-loggerLevel=WARN',
      ...(opts.args ?? []),
    ]);
  }

  public override async stop(): Promise<void> {
    await super.stop();
    this.notifier.close();
  }

  /** /api/v1/rules: groups with their rules' health, lastError, and (alerts) state. */
  public async rules(): Promise<any[]> {
    return (await this.api('/api/v1/rules', {})).groups;
  }

  /**
   * From vmalert's own metrics (1.79): group iterations so far, and rules whose last evaluation failed
   * (`vmalert_{recording,alerting}_rules_error` is 1 for such a rule).
   */
  public async evaluations(): Promise<{ iterations: number; failingRules: number }> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const sum = (re: RegExp) => text.split('\n').filter(l => re.test(l)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    return { iterations: sum(/^vmalert_iteration_total\b/), failingRules: sum(/^vmalert_(recording|alerting)_rules_error\b/) };
  }
}

/** Checks a rule file the way vmalert loads it (`vmalert -dryRun`): MetricsQL parse of every expression, templates. */
export function vmalertCheckRules(ruleFile: string): { status: number; output: string } {
  const r = spawnSync(requireBinary('vmalert'), [`-rule=${ruleFile}`, '-dryRun', '-loggerLevel=WARN'], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}
