// @ts-check
'use strict';
/**
 * Builds the demo gateway: src/main.ts and everything it imports (the code it
 * shares with the crawler included) as one self-contained CommonJS file for
 * Node.js 20, dist/gateway.js, with the crawler's esbuild recipe.
 *
 *   npm run build -w gateway          writes gateway/dist/gateway.js (the root `prepare` runs it on npm ci)
 *   node gateway/build.js --stdout    prints the bundle instead, writes nothing
 */
const path = require('node:path');
const { buildCommand, buildNodeProgram } = require('../crawler/build.js');

const BANNER = [
  '/*! proxy-telemetry demo gateway: one self-contained CommonJS file for Node.js 20,',
  ' * run with `node gateway.js`, configured through environment variables.',
  ' * A forward proxy that serves synthetic pages itself and never connects out.',
  ' * Includes prom-client and @opentelemetry/api (Apache-2.0) and tdigest, bintrees (MIT);',
  ' * see their licenses in the npm registry. Generated file: do not edit. */',
].join('\n');

/** The gateway's bundle, built now from the sources. */
function buildGateway() {
  return buildNodeProgram({ root: __dirname, banner: BANNER });
}

module.exports = { buildGateway };

if (require.main === module) buildCommand(buildGateway, path.join(__dirname, 'dist', 'gateway.js'));
