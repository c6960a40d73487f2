import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { requireBinary } from '../../harness/binaries';
import { freePort } from '../../harness/prometheus-process';

/** A real Alertmanager (Debian's `prometheus-alertmanager`) on 127.0.0.1, without gossip, its storage in a temporary directory. */
export class AlertmanagerProcess {
  public static async start(configFile: string, readyTimeoutMs = 20_000): Promise<AlertmanagerProcess> {
    const am = new AlertmanagerProcess(requireBinary('prometheus-alertmanager'), await freePort(), configFile);
    try {
      await am.waitReady(readyTimeoutMs);
    } catch (err) {
      am.stop();
      throw err;
    }
    return am;
  }

  public readonly port: number;
  public readonly url: string;
  private readonly dir: string;
  private readonly child: ChildProcess;
  private log = '';

  private constructor(binary: string, port: number, configFile: string) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alertmanager-run-'));
    this.child = spawn(binary, [
      `--config.file=${configFile}`,
      `--storage.path=${this.dir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const append = (chunk: Buffer): void => {
      this.log = (this.log + chunk.toString()).slice(-32 * 1024);
    };
    this.child.stdout!.on('data', append);
    this.child.stderr!.on('data', append);
  }

  public logs(): string {
    return this.log;
  }

  /** Alerts Alertmanager holds (API v2). */
  public async alerts(): Promise<any[]> {
    const res = await fetch(`${this.url}/api/v2/alerts`);
    return res.json() as Promise<any[]>;
  }

  public stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`Alertmanager exited during startup (${this.child.exitCode}):\n${this.log}`);
      try {
        if ((await fetch(`${this.url}/-/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise(r => setTimeout(r, 100));
    }
    throw new Error(`Alertmanager not ready after ${timeoutMs} ms:\n${this.log}`);
  }
}
