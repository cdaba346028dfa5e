import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { dev } from '../dev.ts';

const controlPlaneMain = fileURLToPath(new URL('../../../control-plane/src/main.ts', import.meta.url));
const dataPlaneMain = fileURLToPath(new URL('../../../data-plane/src/main.ts', import.meta.url));

/** Runs a service's entry point in this process, as if it had been started directly. */
async function serve(main: string, args: string[]): Promise<void> {
  process.argv = [process.argv[0] ?? process.execPath, main, ...args];
  await import(main);
}

/** `sov dev`, `sov control-plane`, `sov data-plane`: the services themselves. */
export function serviceCommands(program: Command): void {
  program
    .command('dev')
    .description('run a whole platform on this machine: a control plane and data planes us-1 and eu-1 (npm start)')
    .addHelpText(
      'after',
      `
State lives under .sovereign/ (SOV_HOME); ports are 8080, 8081, 8082 (SOV_PORT sets the
first). The administrator is admin@localhost, with SOV_ADMIN_PASSWORD or a generated
password saved in $SOV_HOME/admin-password. Ctrl-C stops everything.`,
    )
    .action(async () => {
      const code = await dev();
      if (code >= 0) process.exitCode = code;
    });

  program
    .command('control-plane')
    .description('serve a control plane, configured by SOV_* environment variables (see the README)')
    .argument(
      '[args...]',
      'keys list|rotate|retire: manage signing keys in its database; master-key id|rotate: the key that seals them',
    )
    .allowUnknownOption()
    .action(async (args: string[]) => serve(controlPlaneMain, args));

  program
    .command('data-plane')
    .description('serve a data plane, configured by SOV_* environment variables (see the README)')
    .argument('[args...]', 'master-key id|rotate: manage the key that wraps its secrets')
    .allowUnknownOption()
    .action(async (args: string[]) => serve(dataPlaneMain, args));
}
