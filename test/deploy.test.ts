import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A stand-in kubectl that records its arguments and answers like a cluster with Istio installed. */
function fakeKubectl(dir: string, behaviour: { istio?: boolean; applyFails?: boolean } = {}): { bin: string; log: string } {
  const log = path.join(dir, 'calls.log');
  const bin = path.join(dir, 'kubectl');
  fs.writeFileSync(bin, `#!/bin/sh
echo "$*" >> "${log}"
case "$*" in
  *"get crd"*) ${behaviour.istio === false ? 'echo "Error from server (NotFound)" >&2; exit 1' : 'exit 0'} ;;
  *apply*) ${behaviour.applyFails ? 'echo "error: unable to recognize" >&2; exit 1' : 'echo "applied"; exit 0'} ;;
  *"get secret"*) exit 1 ;;
  *) exit 0 ;;
esac
`, { mode: 0o755 });
  return { bin, log };
}

function runDeploy(dir: string, args: string[], env: Record<string, string>): { status: number; output: string } {
  const root = path.join(__dirname, '..');
  const r = spawnSync(path.join(root, 'node_modules', '.bin', 'ts-node'), ['--transpile-only', path.join(root, 'bin', 'deploy.ts'), ...args], {
    encoding: 'utf8', cwd: dir, env: { ...process.env, ...env }, timeout: 60_000,
  });
  return { status: r.status ?? -1, output: r.stdout + r.stderr };
}

describe('npm run deploy', () => {
  test('synthesizes, checks Istio, applies server-side, waits for every rollout and prints port-forwards', () => {
    // GIVEN
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-'));
    const { log } = fakeKubectl(dir);

    // WHEN
    const { status, output } = runDeploy(dir, ['--outdir', 'out', '--context', 'prod', '--timeout', '2m'], { PATH: `${dir}:${process.env.PATH}` });

    // THEN
    expect(status).toBe(0);
    const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(calls[0]).toBe('--context prod get crd telemetries.telemetry.istio.io serviceentries.networking.istio.io sidecars.networking.istio.io');
    expect(calls[1]).toBe('--context prod apply --server-side --field-manager=proxy-telemetry -f out');
    expect(calls.filter(c => c.includes('rollout status'))).toEqual([
      '--context prod rollout status deployment/crawler-vendor-a -n crawlers --timeout=2m',
      '--context prod rollout status deployment/crawler-vendor-b -n crawlers --timeout=2m',
      '--context prod rollout status deployment/crawler-vendor-c -n crawlers --timeout=2m',
      '--context prod rollout status deployment/prometheus -n monitoring --timeout=2m',
      '--context prod rollout status deployment/grafana -n monitoring --timeout=2m',
    ]);
    // kubectl apply -f is not recursive: the dashboards for import stay out of the apply.
    expect(fs.readdirSync(path.join(dir, 'out'))).toEqual(['0000-mesh.k8s.yaml', '0001-crawlers.k8s.yaml', '0002-monitoring.k8s.yaml', 'dashboards']);
    expect(output).toContain('kubectl port-forward -n monitoring svc/grafana 3000:3000');
    expect(output).toContain('kubectl port-forward -n monitoring svc/prometheus 9090:9090');
    // No admin Secret yet: the command to create one is printed, with a generated password.
    expect(output).toContain('kubectl create secret generic grafana-admin -n monitoring');
  });

  test('stops with a clear message when Istio is missing, before applying anything', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-'));
    const { log } = fakeKubectl(dir, { istio: false });
    const { status, output } = runDeploy(dir, ['--outdir', 'out'], { PATH: `${dir}:${process.env.PATH}` });
    expect(status).toBe(1);
    expect(output).toContain('Istio is not installed in this cluster');
    expect(fs.readFileSync(log, 'utf8')).not.toContain('apply');
  });

  test('a failed apply fails the deploy and skips the rollouts', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-'));
    const { log } = fakeKubectl(dir, { applyFails: true });
    const { status, output } = runDeploy(dir, ['--outdir', 'out'], { PATH: `${dir}:${process.env.PATH}` });
    expect(status).not.toBe(0);
    expect(output).toContain('kubectl apply failed');
    expect(fs.readFileSync(log, 'utf8')).not.toContain('rollout');
  });

  test('a missing kubectl is reported by name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-'));
    const { status, output } = runDeploy(dir, ['--outdir', 'out'], { KUBECTL: path.join(dir, 'no-such-kubectl') });
    expect(status).toBe(1);
    expect(output).toContain('cannot run');
  });
});
