/**
 * Command-line entry of proxy-telemetry: `proxy-telemetry <command> [options]`, one CLI for a clone and for an
 * installed package. Each command has its usage text (options, defaults, exit codes) next to it; `--help` alone
 * lists the commands. The CLI never imports the demo app (main.ts): deploy runs an app as `cdk8s synth` does.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundleCrawler } from '../crawler';
import { parseArgs } from 'util';
import * as YAML from 'yaml';
import { checkHttpUrl } from '../core/validation';
import { Io, UsageError, reportError, stdio, wantsHelp } from './command';
import { DEPLOY_USAGE, deploy } from './deploy';
import { missingDemoSecretManifests, requiredDemoSecrets } from './demo-secrets';
import { MIXIN_USAGE, mixinCommand } from './mixin';
import { DEFAULT_BILL_TOLERANCE, EXIT, formatResult, httpQueryClient, parseBillTolerance, parseDuration, PORT_FORWARD_HINT, validate } from './validate';

export type { Io } from './command';

/** validate's exit codes, which tell why a check failed; the other commands use 0, 1 and 2 only. */
const VALIDATE_EXIT_CODES = `  0  all checks PASS
  1  some check FAILs
  2  usage error
  3  Prometheus unreachable (connection refused, DNS, timeout, not a Prometheus API)
  4  Prometheus has no Istio series (sidecars not scraped)
  5  the recording rules (group proxy-telemetry.rules) are not loaded`;

/** The overview `proxy-telemetry --help` prints. */
export const CLI_USAGE = `Usage: proxy-telemetry <command> [options]

Commands:
  validate      check a running Prometheus against the metric contract, per vendor (validate --prometheus URL)
  deploy        synthesize your cdk8s app (cdk8s.yaml's, or --app CMD), check the cluster's mesh, apply, make the
                demo secrets, wait for the rollouts and check a crawler sidecar
  mixin         write the recording rules, alerts and dashboards for your vendors as files
                (mixin --out DIR --vendors FILE)
  demo-secrets  print the demo gateways' CA, proxy credentials and usage tokens as manifests to create once
  crawl         run the synthetic crawler here, configured by environment variables

Run 'proxy-telemetry <command> --help' for a command's options, their defaults and its exit codes.
Every command exits 0 on success, 1 on failure and 2 on a usage error (crawl: the crawler's own codes).
validate's exit codes tell why it failed:
${VALIDATE_EXIT_CODES}`;

const VALIDATE_USAGE = `Usage: proxy-telemetry validate --prometheus URL [--window 1h] [--top 5] [--bill-tolerance 0.05] [--timeout 10s] [--json]

Queries a running Prometheus and reports, per proxy vendor, whether the metric contract works:
  A. request count (HTTP requests/s, TCP connections/s, counts over --window)
  B. destination tracking (top --top destinations)
  C. bandwidth sent (upload)
  D. bandwidth received (download)
  G. with a usage collector: each vendor's bill against the bytes the sidecars measured (within --bill-tolerance)
and warns about traffic from crawler pods without the proxy-vendor label.

Options:
  --prometheus URL      Prometheus base URL, e.g. http://localhost:9090 (required)
                        For the in-cluster server: ${PORT_FORWARD_HINT}
  --window DUR          window of the request counts of A (default: 1h; e.g. 30m, 6h, 1d)
  --top N               destinations and pods listed per vendor (default: 5)
  --bill-tolerance R    share by which a bill may differ from the measured bytes in G (default: ${DEFAULT_BILL_TOLERANCE}, i.e. 5%)
  --timeout DUR         timeout of each HTTP request (default: 10s)
  --json                print the result as JSON
  -h, --help            show this help

Exit codes:
${VALIDATE_EXIT_CODES}`;

type Command = (argv: string[], io: Io) => number | Promise<number>;

/** The commands by name; each parses the arguments after its name. */
const COMMANDS: Record<string, Command> = {
  'validate': (argv, io) => validateCommand(argv, io, false),
  'deploy': deploy,
  'mixin': mixinCommand,
  'demo-secrets': demoSecretsCommand,
  'crawl': crawlCommand,
};

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [first, ...rest] = argv;
  if (first !== undefined && Object.prototype.hasOwnProperty.call(COMMANDS, first)) return COMMANDS[first](rest, io);
  if (first === undefined || !first.startsWith('-')) {
    const message = first === undefined ? 'missing command' : `unknown command '${first}'`;
    return reportError(io, new UsageError(`${message} (commands: ${Object.keys(COMMANDS).join(', ')})`), undefined, CLI_USAGE);
  }
  // Options before the command name, as validate has always taken them: `--prometheus URL validate`.
  if (wantsHelp(argv) && !argv.includes('validate')) {
    io.out(`${CLI_USAGE}\n`);
    return EXIT.pass;
  }
  return validateCommand(argv, io, true);
}

/**
 * `validate --prometheus URL ...`. `named`: the command name is among `argv` (options came first), as a positional
 * that must be `validate`.
 */
async function validateCommand(argv: string[], io: Io, named: boolean): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(`${VALIDATE_USAGE}\n`);
    return EXIT.pass;
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        prometheus: { type: 'string' },
        window: { type: 'string', default: '1h' },
        top: { type: 'string', default: '5' },
        'bill-tolerance': { type: 'string', default: String(DEFAULT_BILL_TOLERANCE) },
        timeout: { type: 'string', default: '10s' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const rest = named ? positionals.slice(1) : positionals;
    if (named && positionals[0] === undefined) throw new UsageError('missing command: validate');
    if (named && positionals[0] !== 'validate') throw new UsageError(`unknown command '${positionals[0]}'`);
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    if (!values.prometheus) throw new UsageError('--prometheus URL is required');
    try {
      checkHttpUrl('--prometheus', values.prometheus);
    } catch (e) {
      throw new UsageError(`${(e as Error).message} (e.g. http://localhost:9090)`);
    }
    if (parseDuration(values.window!) === undefined) throw new UsageError(`--window '${values.window}' is not a duration (e.g. 30m, 1h, 1d)`);
    const top = Number(values.top);
    if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top '${values.top}' must be a positive integer`);
    const billTolerance = parseBillTolerance(values['bill-tolerance']!);
    const timeoutSeconds = parseDuration(values.timeout!);
    if (timeoutSeconds === undefined) throw new UsageError(`--timeout '${values.timeout}' is not a duration (e.g. 10s)`);

    const prometheus = values.prometheus.replace(/\/+$/, '');
    const result = await validate(httpQueryClient(prometheus, timeoutSeconds * 1000), { prometheus, window: values.window, top, billTolerance });
    if (values.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
    else if (result.outcome === 'checked') io.out(formatResult(result));
    else io.err(formatResult(result));
    return result.exitCode;
  } catch (err) {
    return reportError(io, err, 'validate', VALIDATE_USAGE);
  }
}

const DEMO_SECRETS_USAGE = `Usage: proxy-telemetry demo-secrets [--dir dist]

Prints a new CA, new proxy credentials and new usage API tokens for the demo gateways in the manifests of --dir, as
Secrets and ConfigMaps to create once: proxy-telemetry demo-secrets | kubectl create -f -
(deploy does this itself, keeping what the cluster already has.)

Options:
  --dir DIR    directory of synthesized manifests (default: dist)
  -h, --help   show this help

Exit codes:
  0  printed, or nothing to make (no demo gateway in --dir)
  1  the manifests cannot be read
  2  usage error (a bad option, or --dir is not a directory)`;

/** `demo-secrets [--dir DIR]`: the demo gateways' CA, credentials and usage tokens as manifests on stdout. */
function demoSecretsCommand(argv: string[], io: Io): number {
  if (wantsHelp(argv)) {
    io.out(`${DEMO_SECRETS_USAGE}\n`);
    return EXIT.pass;
  }
  try {
    const { values } = parseArgs({ args: argv, strict: true, options: { dir: { type: 'string', default: 'dist' }, help: { type: 'boolean', short: 'h', default: false } } });
    const dir = values.dir!;
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new UsageError(`--dir '${dir}' is not a directory of synthesized manifests (synthesize first: cdk8s synth, or npm run synth in this repository)`);
    }
    const objects = fs.readdirSync(dir).filter(f => f.endsWith('.yaml')).sort()
      .flatMap(f => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map(d => d.toJSON()));
    const needed = requiredDemoSecrets(objects);
    if (needed.length === 0) {
      io.err(`proxy-telemetry: no demo gateway in ${dir}: nothing to make\n`);
      return EXIT.pass;
    }
    io.out(missingDemoSecretManifests(needed).map(o => YAML.stringify(o)).join('---\n'));
    return EXIT.pass;
  } catch (err) {
    return reportError(io, err, 'demo-secrets', DEMO_SECRETS_USAGE);
  }
}

// The usage line shows the environment: the crawler takes no argument.
const CRAWL_USAGE = `Usage: PROXY_VENDOR=acme TARGETS=https://shop.example/ [HTTPS_PROXY=http://gw.acme.example:22225 ...] proxy-telemetry crawl

Runs the synthetic crawler on this machine exactly as its pods run it (the bundle VendorCrawler mounts, run by this
Node.js), configured by environment variables only: PROXY_VENDOR and TARGETS are required; HTTPS_PROXY,
REQUESTS_PER_SECOND, CONCURRENCY, DURATION_SECONDS, ... (crawler/README.md lists them all). SIGINT and SIGTERM make
it drain, as in a pod.

Options:
  -h, --help   show this help (the crawler takes no other argument)

Exit codes (the crawler's own):
  0  done (DURATION_SECONDS) or drained after SIGINT/SIGTERM
  1  runtime failure (e.g. the metrics port in use), or a second signal
  2  invalid configuration (the variable and its value are named), or an argument given`;

/**
 * `crawl`: the synthetic crawler on this machine, exactly as its pods run it: the bundle `VendorCrawler` mounts, run by
 * this Node.js with this environment (PROXY_VENDOR, TARGETS, HTTPS_PROXY, ...). Its exit code is returned; SIGINT and
 * SIGTERM are passed on, so it drains as in a pod.
 */
async function crawlCommand(argv: string[], io: Io): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(`${CRAWL_USAGE}\n`);
    return EXIT.pass;
  }
  if (argv.length > 0) return reportError(io, new UsageError(`unexpected argument '${argv[0]}': the crawler is configured by environment variables only`), 'crawl', CRAWL_USAGE);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-telemetry-crawler-'));
  const script = path.join(dir, 'crawler.js');
  fs.writeFileSync(script, bundleCrawler());
  try {
    const child = spawn(process.execPath, [script], { stdio: 'inherit', env: process.env });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (status, signal) => resolve(status ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : EXIT.fail)));
    });
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    return code;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Each command's usage text: what `proxy-telemetry <command> --help` prints. */
export const COMMAND_USAGE: Readonly<Record<string, string>> = {
  'validate': VALIDATE_USAGE,
  'deploy': DEPLOY_USAGE,
  'mixin': MIXIN_USAGE,
  'demo-secrets': DEMO_SECRETS_USAGE,
  'crawl': CRAWL_USAGE,
};

/** Runs with the process arguments and sets the exit code. */
export function run(): void {
  main(process.argv.slice(2)).then(code => {
    process.exitCode = code;
  }, err => {
    process.stderr.write(`proxy-telemetry: ${(err as Error).message}\n`);
    process.exitCode = EXIT.fail;
  });
}

if (require.main === module) run();
