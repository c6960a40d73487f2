import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdk8s';

/** Files written next to the manifests, relative to the output directory. */
export type ExtraFiles = Record<string, string>;

/**
 * Synthesizes into a fresh directory beside `outdir` and swaps it in only when everything succeeded,
 * so invalid props never leave a half-written or emptied output directory.
 */
export function synthesizeInto(outdir: string, build: (app: App) => ExtraFiles | void): string[] {
  const target = path.resolve(outdir);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const staging = fs.mkdtempSync(path.join(path.dirname(target), '.cdk8s-tmp-'));
  try {
    const app = new App({ outdir: staging });
    const extra = build(app) ?? {};
    app.synth();
    for (const [file, content] of Object.entries(extra)) {
      const dest = path.join(staging, file);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, content);
    }
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(staging, target);
  // mkdtemp creates the directory private to its owner.
  fs.chmodSync(target, 0o755);
  return listFiles(target);
}

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]).sort();
}
