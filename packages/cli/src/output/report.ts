import { CliError, ExitCode, presented } from '../errors.ts';
import { printable } from './format.ts';
import type { Output } from './output.ts';

/**
 * Prints a failure for a person (what went wrong, the server's code, what to do) or,
 * with --json, as `{"error": {...}}` on stderr. A stack trace only with --debug.
 * Answers the exit code.
 */
export function reportError(thrown: unknown, output: Output): number {
  const error = presented(thrown);
  const known = error instanceof CliError;
  const message = known ? error.message : `Unexpected error: ${error instanceof Error ? error.message : String(error)}`;
  const hint = known ? error.hint : 'Run again with --debug to see where it happened, and report it.';
  const code = known ? error.code : undefined;
  const details = known ? error.details : [];
  if (output.json) {
    output.stderr.write(
      `${JSON.stringify({
        error: {
          message,
          code: code ?? null,
          status: known ? (error.status ?? null) : null,
          hint: hint ?? null,
          details,
        },
      })}\n`,
    );
  } else {
    // A refusal's message and details are the server's words, with the names it was given: escaped (printable).
    const { err } = output;
    output.stderr.write(
      `${err.red(err.bold('Error:'))} ${printable(message)}${code === undefined ? '' : err.dim(` [${printable(code)}]`)}\n`,
    );
    for (const detail of details) output.stderr.write(`  - ${printable(detail)}\n`);
    if (hint !== undefined) output.stderr.write(`${err.cyan('Hint:')} ${printable(hint)}\n`);
  }
  if (output.debug && error instanceof Error) {
    output.stderr.write(`${printable(error.stack ?? '', { lines: true })}\n`);
    if (error.cause instanceof Error)
      output.stderr.write(`caused by: ${printable(error.cause.stack ?? error.cause.message, { lines: true })}\n`);
  }
  return known ? error.exitCode : ExitCode.failed;
}
