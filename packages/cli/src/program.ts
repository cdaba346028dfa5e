import { Command, Option } from 'commander';
import manifest from '../package.json' with { type: 'json' };
import { authCommands } from './commands/auth.ts';
import { deployCommand } from './commands/deploy.ts';
import { jobCommands } from './commands/jobs.ts';
import { organizationCommands } from './commands/organizations.ts';
import { outputCommands } from './commands/outputs.ts';
import { regionCommands } from './commands/regions.ts';
import { runCommands } from './commands/runs.ts';
import { serviceCommands } from './commands/services.ts';
import { stateCommands } from './commands/state.ts';
import { variableCommands } from './commands/variables.ts';
import { workspaceCommands } from './commands/workspaces.ts';

/** The package's version, as package.json says: written once. */
export const version: string = manifest.version;

/** The `sov` command line: global options, then a command per area. */
export function buildProgram(): Command {
  const program = new Command('sov')
    .description('Sovereign: data jobs that keep their data in the region you choose.')
    .version(version, '-V, --version')
    .option('--json', 'machine-readable output (JSON on stdout; errors as JSON on stderr)')
    .option('--profile <name>', 'the profile to use (else SOV_PROFILE, else "default")')
    .option('--api <url>', "the control plane URL (else SOV_API_URL, the profile's, or http://127.0.0.1:8080)")
    .option(
      '--insecure-http',
      'send credentials over plain http to a host that is not this machine (else SOV_ALLOW_INSECURE_HTTP=1)',
    )
    .option('-w, --workspace <workspace>', 'the workspace (name or id) instead of the current one (or SOV_WORKSPACE)')
    .option('--no-color', 'no colours (also when NO_COLOR is set, or output is not a terminal)')
    .addOption(new Option('--debug', 'trace HTTP calls and show stack traces'))
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Start here:
  npm start                              # or: sov dev (a whole platform on this machine)
  sov login                              # admin@localhost; the password npm start printed
  sov workspace create demo --region eu
  sov deploy examples/hello
  sov job trigger hello --follow

Configuration and sessions live in ~/.config/sovereign (SOV_CONFIG_DIR, XDG_CONFIG_HOME).
Exit codes: 0 ok, 1 failed, 2 usage, 3 not signed in, 4 unreachable; a followed run:
10 failed, 11 timed out, 12 cancelled, 13 lost.`,
    );

  authCommands(program);
  organizationCommands(program);
  workspaceCommands(program);
  regionCommands(program);
  deployCommand(program);
  jobCommands(program);
  runCommands(program);
  variableCommands(program);
  outputCommands(program);
  stateCommands(program);
  serviceCommands(program);
  return program;
}
