#!/usr/bin/env node
'use strict';
// Runs the compiled CLI of an installed build, or the TypeScript source of a checkout.
const fs = require('fs');
const path = require('path');

const compiled = path.join(__dirname, '..', 'build', 'bin', 'proxy-telemetry.js');
let cli;
if (fs.existsSync(compiled)) {
  cli = require(compiled);
} else {
  require('ts-node').register({ transpileOnly: true });
  cli = require('./proxy-telemetry.ts');
}
cli.run();
