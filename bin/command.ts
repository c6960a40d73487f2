/** What every command of the CLI shares: where it writes, and how it reports a usage error. */

/** Where a command writes: stdout and stderr, or a test's buffers. */
export interface Io { out: (s: string) => void; err: (s: string) => void }

export const stdio: Io = { out: s => process.stdout.write(s), err: s => process.stderr.write(s) };

/** A wrong invocation: exit code 2, with the command's usage line. */
export class UsageError extends Error {}

/** Usage errors of our own, and those parseArgs throws (unknown option, missing value). */
export function isUsageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
}

/** `-h` or `--help` among a command's options: checked before parsing, so that help never fails on another option. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const options = end === -1 ? argv : argv.slice(0, end);
  return options.includes('--help') || options.includes('-h');
}

/**
 * Reports a failed command: a usage error with the usage line and where the help is (exit 2), anything else as its
 * message (exit 1). `command` undefined: the CLI itself (no or an unknown command).
 */
export function reportError(io: Io, err: unknown, command: string | undefined, usage: string): number {
  const message = (err as Error).message;
  if (isUsageError(err)) {
    const help = command === undefined ? '\'proxy-telemetry --help\' for the commands' : `'proxy-telemetry ${command} --help' for its options and exit codes`;
    io.err(`proxy-telemetry: ${message}\n${usage.split('\n')[0]}\nRun ${help}.\n`);
    return 2;
  }
  io.err(`proxy-telemetry: ${message}\n`);
  return 1;
}
