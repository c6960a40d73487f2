#!/usr/bin/env node
'use strict';
// Runs the TypeScript source in a checkout (never a stale build of it), the compiled CLI in an installed package.
const fs = require('fs');
const path = require('path');

const source = path.join(__dirname, 'proxy-telemetry.ts');
let cli;
if (fs.existsSync(source)) {
  require('ts-node').register({ transpileOnly: true, project: path.join(__dirname, '..', 'tsconfig.json') });
  cli = require(source);
} else {
  cli = require(path.join(__dirname, '..', 'build', 'bin', 'proxy-telemetry.js'));
}
cli.run();
