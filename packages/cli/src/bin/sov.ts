#!/usr/bin/env node
import { dev } from '../dev.ts';

const usage = `usage: sov <command>

  dev    run a whole platform on this machine (control plane, data planes us-1 and eu-1)

More commands (login, workspace, deploy, job, run, logs, vars, outputs, state) are coming.`;

const [command] = process.argv.slice(2);
if (command === 'dev') {
  const code = await dev();
  if (code >= 0) process.exitCode = code;
} else {
  console.error(command === undefined ? usage : `sov: unknown command "${command}"\n\n${usage}`);
  process.exitCode = command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}
