import { execFileSync, spawnSync } from 'child_process';

const INSTALL_HINT: Record<string, string> = {
  promtool: 'apt-get install -y prometheus',
  prometheus: 'apt-get install -y prometheus',
  amtool: 'apt-get install -y prometheus-alertmanager',
  'prometheus-alertmanager': 'apt-get install -y prometheus-alertmanager',
  'victoria-metrics': 'apt-get install -y victoria-metrics',
  vmalert: 'apt-get install -y victoria-metrics',
  vmagent: 'apt-get install -y victoria-metrics',
};

/** Absolute path of a required binary; fails loudly (never skips) when it is missing. */
export function requireBinary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const location = found.stdout.trim();
  if (found.status !== 0 || location === '') {
    throw new Error(`'${name}' is not installed: these tests need the real binary. Install it with \`${INSTALL_HINT[name] ?? name}\` (.ci/run does this).`);
  }
  return location;
}

export interface RunResult { status: number; stdout: string; stderr: string }

/** Runs a binary and returns its exit status and output. */
export function run(binary: string, args: string[], opts: { cwd?: string; input?: string; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(requireBinary(binary), args, { encoding: 'utf8', cwd: opts.cwd, input: opts.input, timeout: opts.timeoutMs ?? 60_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function binaryVersion(name: string): string {
  return execFileSync(requireBinary(name), ['--version'], { encoding: 'utf8' }).split('\n')[0];
}
