/** The `sov` command line: parse, run, and turn any failure into a message and an exit code. */
import { CommanderError } from 'commander';
import { ExitCode } from './errors.ts';
import { Output } from './output/output.ts';
import { reportError } from './output/report.ts';
import { buildProgram } from './program.ts';

// `sov logs <run> | head -2`: the reader went away before the output ended. Nothing
// failed that the user cares about: stop quietly, as git and gh do, not with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(ExitCode.ok);
    throw error;
  });
}

const program = buildProgram();
// Commander reports its own usage errors; exit with 2 for them, 0 for --help and --version.
program.exitOverride();
for (const command of program.commands) {
  command.exitOverride();
  for (const sub of command.commands) sub.exitOverride();
}

const argv = process.argv.slice(2);
try {
  if (argv.length === 0) {
    program.outputHelp();
  } else {
    await program.parseAsync(argv, { from: 'user' });
  }
} catch (error) {
  if (error instanceof CommanderError) {
    const ok =
      error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help';
    process.exitCode = ok ? ExitCode.ok : ExitCode.usage;
  } else {
    const options = program.opts<{ json?: boolean; debug?: boolean; color?: boolean }>();
    const output = new Output({
      json: options.json === true || argv.includes('--json'),
      debug: options.debug === true || argv.includes('--debug'),
      color: options.color !== false && !argv.includes('--no-color'),
    });
    process.exitCode = reportError(error, output);
  }
}
