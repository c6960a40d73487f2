/**
 * Our Node programs (the synthetic crawler, the demo gateway) for the tests
 * of both: the checks every program's bundle passes (describeProgramBundle),
 * and the bundle as a child process: written to a temporary file, spawned
 * with node in an environment built from scratch, its output and JSON log
 * lines collected, and everything a test started closed after it.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { readProgramBundle } from '../../crawler/bundle';
import { tempDir } from './temp-dir';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** One of our programs as the library ships it: `<folder>/dist/<folder>.js`, built by `<folder>/build.js`. */
export interface ProgramBundle {
  /** The workspace folder: `crawler`, `gateway`. */
  folder: string;
  /** The start of its banner comment. */
  banner: string;
  /** What it must stay under, in bytes, and why, for the test's title. */
  sizeLimit: { bytes: number; title: string };
  /** The program's version, which its workspace package reports too. */
  version: string;
  /** The library's function that reads the built file (bundleCrawler, bundleGateway). */
  read(): string;
  /** build.js's function that builds it from the sources now (buildCrawler, buildGateway). */
  build(): string;
}

/** The checks every program's bundle passes, as tests in the current describe block. */
export function describeProgramBundle(program: ProgramBundle): void {
  const { folder } = program;
  const file = `${folder}.js`;
  const built = `${folder}/dist/${file}`;
  const bundle = program.read();

  test(`is one self-contained CommonJS file, ${program.sizeLimit.title}, that needs only Node built-ins`, () => {
    expect(bundle.startsWith(program.banner)).toBe(true);
    expect(Buffer.byteLength(bundle)).toBeLessThan(program.sizeLimit.bytes);
    // Only Node built-ins are required at run time.
    const required = [...bundle.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1].replace(/^node:/, ''));
    expect(required.filter((r) => !builtinModules.includes(r))).toEqual([]);
    // No machine- or layout-specific paths.
    expect(bundle).not.toContain(REPO_ROOT);
    expect(bundle).not.toContain('"../');
    expect(bundle).toContain('__commonJS({"node_modules/prom-client/');
  });

  test(`is the built file ${built}, read once`, () => {
    expect(bundle).toBe(fs.readFileSync(path.join(REPO_ROOT, folder, 'dist', file), 'utf8'));
    expect(program.read()).toBe(bundle);
  });

  test('is what the build makes from the sources now, from any working directory', () => {
    // A stale file means sources changed without `npm run build -w <folder>` (npm test runs it first).
    const result = spawnSync(process.execPath, [path.join(REPO_ROOT, folder, 'build.js'), '--stdout'], { cwd: os.tmpdir(), encoding: 'utf8', maxBuffer: 1 << 24 });
    expect(result.stderr).toBe('');
    expect(result.stdout === bundle ? 'up to date' : `${built} is stale: run npm run build -w ${folder}`).toBe('up to date');
  });

  test('is deterministic', () => {
    const sha256 = (code: string): string => createHash('sha256').update(code).digest('hex');
    expect(sha256(program.build())).toBe(sha256(program.build()));
  });

  test('a missing bundle names the command that builds it', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-bundle-'));
    try {
      expect(() => readProgramBundle(folder, file, empty)).toThrow(`${built} is missing`);
      expect(() => readProgramBundle(folder, file, empty)).toThrow(`npm run build -w ${folder}`);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  test('the workspace package and the program report one version', () => {
    expect(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, folder, 'package.json'), 'utf8')).version).toBe(program.version);
  });
}

type Closer = () => Promise<void> | void;
const closers: Closer[] = [];

/** Registers what closes a server, socket or process a test started; cleanup() calls it. */
export function closeAfterTest(close: Closer): void {
  closers.push(close);
}

/** For afterEach: closes every server, socket and program the test started, the last one first. */
export async function cleanup(): Promise<void> {
  const pending = closers.splice(0).reverse();
  for (const close of pending) await close();
}

const bundles = new Map<string, string>();

/** Writes `build()` (a program's bundle) to a temporary file `file` once per test file; see removeBundles. */
export function bundleFile(file: string, build: () => string): string {
  let written = bundles.get(file);
  if (written === undefined) {
    written = path.join(tempDir('program-bundle'), file);
    fs.writeFileSync(written, build());
    bundles.set(file, written);
  }
  return written;
}

/** For afterAll: deletes the temporary bundles. */
export function removeBundles(): void {
  for (const file of bundles.values()) fs.rmSync(path.dirname(file), { recursive: true, force: true });
  bundles.clear();
}

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A program running as a child process; `Totals` are the figures of its `stop` line. */
export class ProgramRun<Totals extends object> {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;

  constructor(
    readonly child: ChildProcess,
    /** The program's name, for error messages. */
    readonly program: string,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  }

  lines(): LogLine[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as LogLine);
  }

  /** The final `stop` line (totals since start). */
  stopLine(): LogLine & Totals {
    const line = this.lines().find((l) => l.msg === 'stop');
    if (!line) throw new Error(`no stop line; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
    return line as LogLine & Totals;
  }

  async waitForExit(timeoutMs = 15_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.program} did not exit in ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Runs `bundle` with node: `nodeArgs` before it, and `env` as the whole
 * environment besides PATH (no inherited proxy variables). A program still
 * running at cleanup() is killed.
 */
export function spawnProgram<R extends ProgramRun<object>>(
  Run: new (child: ChildProcess) => R,
  bundle: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): R {
  const child = spawn(process.execPath, [...nodeArgs, bundle], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = new Run(child);
  closeAfterTest(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await run.exited;
    }
  });
  return run;
}
