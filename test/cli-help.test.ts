import { spawnSync } from 'child_process';
import * as path from 'path';
import type * as Cli from '../bin/proxy-telemetry';

/** `proxy-telemetry <command> --help`: each command prints its own usage, options with defaults, and exit codes. */

// The TypeScript source, not the bin/ shim of the same name that jest would resolve first.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { main: cli, CLI_USAGE, COMMAND_USAGE }: typeof Cli = require('../bin/proxy-telemetry.ts');

const ROOT = path.join(__dirname, '..');
const COMMANDS = ['validate', 'deploy', 'mixin', 'demo-secrets', 'crawl'];

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cli(args, { out: s => out.push(s), err: s => err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

test('every command has a usage text', () => {
  expect(Object.keys(COMMAND_USAGE).sort()).toEqual([...COMMANDS].sort());
});

describe.each(COMMANDS)('%s', command => {
  test.each(['--help', '-h'])(`${command} %s prints its own usage, its options with their defaults and its exit codes`, async flag => {
    const r = await run([command, flag]);
    expect(r).toEqual({ code: 0, out: `${COMMAND_USAGE[command]}\n`, err: '' });
    // crawl's usage line starts with the environment it is configured by.
    expect(r.out.split('\n')[0]).toMatch(new RegExp(`^Usage: (\\S+=\\S+ |\\[.*\\] )*proxy-telemetry ${command}( |$)`));
    expect(r.out).toMatch(/^Exit codes/m);
    expect(r.out).toMatch(/^ {2}2 {2}.*(usage error|argument)/m);
    expect(r.out).toContain('-h, --help');
    if (command !== 'crawl') expect(r.out).toContain('(default:');
  });

  test(`${command} --help wins over other arguments, valid or not`, async () => {
    expect(await run([command, '--no-such-option', '--help'])).toEqual({ code: 0, out: `${COMMAND_USAGE[command]}\n`, err: '' });
  });
});

test('no command\'s help is another\'s', () => {
  const texts = COMMANDS.map(c => COMMAND_USAGE[c]);
  expect(new Set(texts).size).toBe(COMMANDS.length);
  for (const c of COMMANDS.filter(x => x !== 'validate')) expect(COMMAND_USAGE[c]).not.toContain('--prometheus URL');
});

test('--help alone lists the commands and where their help is', async () => {
  for (const flag of ['--help', '-h']) {
    const r = await run([flag]);
    expect(r).toEqual({ code: 0, out: `${CLI_USAGE}\n`, err: '' });
  }
  for (const c of COMMANDS) expect(CLI_USAGE).toMatch(new RegExp(`^ {2}${c} `, 'm'));
  expect(CLI_USAGE).toContain('proxy-telemetry <command> --help');
});

test.each<[string[], string]>([
  [[], 'missing command (commands: validate, deploy, mixin, demo-secrets, crawl)'],
  [['deplyo'], 'unknown command \'deplyo\''],
])('%j is a usage error that lists the commands', async (args, message) => {
  const r = await run(args);
  expect(r.code).toBe(2);
  expect(r.err).toContain(message);
  expect(r.err).toContain('Run \'proxy-telemetry --help\' for the commands.');
});

test('a command\'s usage error names its own help', async () => {
  const r = await run(['deploy', '--timeout', 'soon']);
  expect(r.code).toBe(2);
  expect(r.err).toBe(`proxy-telemetry: --timeout 'soon' is not a duration such as 90s, 5m or 1h\n${COMMAND_USAGE.deploy.split('\n')[0]}\n`
    + 'Run \'proxy-telemetry deploy --help\' for its options and exit codes.\n');
});

test('npm run deploy is the CLI\'s deploy', () => {
  const r = spawnSync('npm', ['run', '--silent', 'deploy', '--', '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: `${COMMAND_USAGE.deploy}\n` });
});
