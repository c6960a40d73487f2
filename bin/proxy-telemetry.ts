/**
 * Command-line entry of proxy-telemetry. `proxy-telemetry validate --prometheus URL` checks a running
 * Prometheus against requirements A–D of the metric contract.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundleCrawler } from '../crawler';
import { parseArgs } from 'util';
import * as YAML from 'yaml';
import { checkHttpUrl } from '../core/validation';
import { VendorProps } from '../core/vendor';
import { missingDemoSecretManifests, requiredDemoSecrets } from './demo-secrets';
import { renderMixin } from './mixin';
import { EXIT, formatResult, httpQueryClient, parseDuration, PORT_FORWARD_HINT, validate } from './validate';

const USAGE = `Usage: proxy-telemetry validate --prometheus URL [--window 1h] [--top 5] [--timeout 10s] [--json]
       proxy-telemetry demo-secrets [--dir dist]
       proxy-telemetry crawl        (the synthetic crawler, configured by environment variables: crawler/README.md)
       proxy-telemetry mixin --out DIR [--vendors FILE] [--mode prometheus-operator|standalone] [--namespace monitoring]
                                    [--crawler-namespaces crawlers]

Queries a running Prometheus and reports, per proxy vendor, whether the metric contract works:
  A. request count (HTTP requests/s, TCP connections/s, counts over --window)
  B. destination tracking (top --top destinations)
  C. bandwidth sent (upload)
  D. bandwidth received (download)
and warns about traffic from crawler pods without the proxy-vendor label.

Options:
  --prometheus URL   Prometheus base URL, e.g. http://localhost:9090 (required)
                     For the in-cluster server: ${PORT_FORWARD_HINT}
  --window DUR       window of the request counts of A (default: 1h; e.g. 30m, 6h, 1d)
  --top N            destinations and pods listed per vendor (default: 5)
  --timeout DUR      timeout of each HTTP request (default: 10s)
  --json             print the result as JSON
  -h, --help         show this help

mixin writes the recording rules (rules.yaml), the alerts (alerts.yaml) and the dashboards (dashboards/*.json)
as MetricsStack deploys them, for the vendors of --vendors (a JSON or YAML list of vendor settings; default: the
demo's), for deploying them by other means (jsonnet, Helm, Terraform), like \`mixtool generate all\`.

demo-secrets prints a new CA and new proxy credentials for the demo gateways in the manifests of --dir, as
Secrets and ConfigMaps to create once: proxy-telemetry demo-secrets | kubectl create -f -
(npm run deploy does this itself, keeping what the cluster already has.)

Exit codes:
  0  all checks PASS
  1  some check FAILs
  2  usage error
  3  Prometheus unreachable (connection refused, DNS, timeout, not a Prometheus API)
  4  Prometheus has no Istio series (sidecars not scraped)
  5  the recording rules (group proxy-telemetry.rules) are not loaded`;

class UsageError extends Error {}

interface Io { out: (s: string) => void; err: (s: string) => void }

const stdio: Io = { out: s => process.stdout.write(s), err: s => process.stderr.write(s) };

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  if (argv[0] === 'demo-secrets') return demoSecretsCommand(argv.slice(1), io);
  if (argv[0] === 'crawl') return crawlCommand(argv.slice(1), io);
  if (argv[0] === 'mixin') return mixinCommand(argv.slice(1), io);
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        prometheus: { type: 'string' },
        window: { type: 'string', default: '1h' },
        top: { type: 'string', default: '5' },
        timeout: { type: 'string', default: '10s' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      io.out(`${USAGE}\n`);
      return EXIT.pass;
    }
    const [command, ...rest] = positionals;
    if (command === undefined) throw new UsageError('missing command: validate');
    if (command !== 'validate') throw new UsageError(`unknown command '${command}'`);
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
    const timeoutSeconds = parseDuration(values.timeout!);
    if (timeoutSeconds === undefined) throw new UsageError(`--timeout '${values.timeout}' is not a duration (e.g. 10s)`);

    const prometheus = values.prometheus.replace(/\/+$/, '');
    const result = await validate(httpQueryClient(prometheus, timeoutSeconds * 1000), { prometheus, window: values.window, top });
    if (values.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
    else if (result.outcome === 'checked') io.out(formatResult(result));
    else io.err(formatResult(result));
    return result.exitCode;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof UsageError || (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS'))) {
      io.err(`proxy-telemetry: ${e.message}\n${USAGE.split('\n')[0]}\nRun 'proxy-telemetry --help' for options and exit codes.\n`);
      return EXIT.usage;
    }
    io.err(`proxy-telemetry: ${e.message}\n`);
    return EXIT.fail;
  }
}

/** `demo-secrets [--dir DIR]`: the demo gateways' CA and credentials as manifests on stdout. */
function demoSecretsCommand(argv: string[], io: Io): number {
  try {
    const { values } = parseArgs({ args: argv, strict: true, options: { dir: { type: 'string', default: 'dist' }, help: { type: 'boolean', short: 'h', default: false } } });
    if (values.help) {
      io.out(`${USAGE}\n`);
      return EXIT.pass;
    }
    const dir = values.dir!;
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--dir '${dir}' is not a directory of synthesized manifests (run 'npm run synth' first)`);
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
    const e = err as Error & { code?: string };
    if (err instanceof UsageError || (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS'))) {
      io.err(`proxy-telemetry: ${e.message}\n`);
      return EXIT.usage;
    }
    io.err(`proxy-telemetry: ${e.message}\n`);
    return EXIT.fail;
  }
}

/**
 * `crawl`: the synthetic crawler on this machine, exactly as its pods run it: the bundle `VendorCrawler` mounts, run by
 * this Node.js with this environment (PROXY_VENDOR, TARGETS, HTTPS_PROXY, ...). Its exit code is returned; SIGINT and
 * SIGTERM are passed on, so it drains as in a pod.
 */
async function crawlCommand(argv: string[], io: Io): Promise<number> {
  if (argv.length > 0) {
    const help = argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help');
    (help ? io.out : io.err)(`Usage: PROXY_VENDOR=acme TARGETS=https://shop.example/ [HTTPS_PROXY=http://gw:8080 ...] proxy-telemetry crawl
The synthetic crawler, configured by environment variables only (crawler/README.md lists them).\n`);
    return help ? EXIT.pass : EXIT.usage;
  }
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

/** `mixin --out DIR ...`: rules, alerts and dashboards as files. */
function mixinCommand(argv: string[], io: Io): number {
  try {
    const { values } = parseArgs({
      args: argv, strict: true,
      options: {
        'out': { type: 'string' },
        'vendors': { type: 'string' },
        'mode': { type: 'string', default: 'prometheus-operator' },
        'namespace': { type: 'string', default: 'monitoring' },
        'crawler-namespaces': { type: 'string', default: 'crawlers' },
        'help': { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      io.out(`${USAGE}\n`);
      return EXIT.pass;
    }
    if (!values.out) throw new UsageError('--out DIR is required');
    if (values.mode !== 'prometheus-operator' && values.mode !== 'standalone') throw new UsageError(`--mode '${values.mode}' must be prometheus-operator or standalone`);
    let vendors: VendorProps[] | undefined;
    if (values.vendors !== undefined) {
      let text: string;
      try {
        text = fs.readFileSync(values.vendors, 'utf8');
      } catch (err) {
        throw new UsageError(`--vendors '${values.vendors}' cannot be read: ${(err as Error).message}`);
      }
      vendors = YAML.parse(text);
      if (!Array.isArray(vendors)) throw new UsageError(`--vendors '${values.vendors}' must hold a list of vendors ({ name, endpoints?, pricePerGiB?, ... })`);
    }
    const files = renderMixin({
      vendors, mode: values.mode, namespace: values.namespace,
      crawlerNamespaces: values['crawler-namespaces']!.split(',').map(n => n.trim()).filter(Boolean),
    });
    for (const [file, content] of Object.entries(files)) {
      const dest = path.join(values.out, file);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, content);
    }
    io.out(`wrote ${Object.keys(files).sort().join(', ')} into ${values.out}/\n`);
    return EXIT.pass;
  } catch (err) {
    const e = err as Error & { code?: string };
    const usage = err instanceof UsageError || (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS'));
    io.err(`proxy-telemetry: ${e.message}\n`);
    return usage ? EXIT.usage : EXIT.fail;
  }
}

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
