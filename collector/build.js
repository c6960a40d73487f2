// @ts-check
'use strict';
/**
 * Builds the vendor usage collector: src/main.ts and everything it imports
 * (the code it shares with the other programs included) as one
 * self-contained CommonJS file for Node.js 20, dist/collector.js, with the
 * crawler's esbuild recipe.
 *
 *   npm run build -w collector          writes collector/dist/collector.js (the root `prepare` runs it on npm ci)
 *   node collector/build.js --stdout    prints the bundle instead, writes nothing
 */
const path = require('node:path');
const { buildCommand, buildNodeProgram } = require('../crawler/build.js');

const BANNER = [
  '/*! proxy-telemetry vendor usage collector: one self-contained CommonJS file for Node.js 20,',
  ' * run with `node collector.js`, configured through environment variables and a JSON file.',
  ' * Polls proxy vendors\' usage sources and exports what they billed as Prometheus counters.',
  ' * Includes prom-client and @opentelemetry/api (Apache-2.0) and tdigest, bintrees, csv-parse (MIT);',
  ' * see their licenses in the npm registry. Generated file: do not edit. */',
].join('\n');

/** The collector's bundle, built now from the sources. */
function buildCollector() {
  return buildNodeProgram({ root: __dirname, banner: BANNER });
}

module.exports = { buildCollector };

if (require.main === module) buildCommand(buildCollector, path.join(__dirname, 'dist', 'collector.js'));
