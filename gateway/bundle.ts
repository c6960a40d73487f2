import { buildNodeProgram } from '../crawler/bundle';

const BANNER = [
  '/*! proxy-telemetry demo gateway: one self-contained CommonJS file for Node.js 20,',
  ' * run with `node gateway.js`, configured through environment variables.',
  ' * A forward proxy that serves synthetic pages itself and never connects out.',
  ' * Includes prom-client and @opentelemetry/api (Apache-2.0) and tdigest, bintrees (MIT);',
  ' * see their licenses in the npm registry. Generated file: do not edit. */',
].join('\n');

let cached: string | undefined;

/**
 * The whole gateway as one CommonJS file (under 230 KB) for a ConfigMap.
 * Built once per process, then reused.
 */
export function bundleGateway(): string {
  cached ??= buildGatewayBundle();
  return cached;
}

/** Runs esbuild over the gateway, as over the crawler; see buildNodeProgram. */
export function buildGatewayBundle(): string {
  return buildNodeProgram({ dirname: __dirname, folder: 'gateway', banner: BANNER });
}

if (require.main === module) {
  // `ts-node gateway/bundle.ts > gateway.js`, for a local run or an image.
  process.stdout.write(bundleGateway());
}
