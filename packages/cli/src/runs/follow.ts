import { type ControlPlaneClient, type DataPlaneClient, followLogs } from '@sovereign/client';
import type { LogLine } from '@sovereign/contract';
import { isTerminal, type RunStatus } from '@sovereign/contract/run-states';
import { CliError, ExitCode } from '../errors.ts';
import type { Output } from '../output/output.ts';

export interface RunEnd {
  status: string;
  exitCode: number | null;
}

/** The exit code `sov` ends with after following a run to its end. */
export function exitCodeFor(status: string): number {
  switch (status) {
    case 'succeeded':
      return ExitCode.ok;
    case 'timed_out':
      return ExitCode.runTimedOut;
    case 'cancelled':
      return ExitCode.runCancelled;
    case 'lost':
      return ExitCode.runLost;
    default:
      return ExitCode.runFailed;
  }
}

/**
 * Follows a run's logs on its data plane until the run ends, and answers how it ended
 * (the client's followLogs: a dropped stream resumes after the last line, an expired
 * token is renewed). A run its data plane has not claimed yet is not there: the CLI
 * waits for it, watching the control plane in case the run ends before it starts
 * (cancelled while queued), and says so after a few seconds.
 */
export async function followRun(
  cp: ControlPlaneClient,
  dp: DataPlaneClient,
  runId: string,
  output: Output,
  onLine: (line: LogLine) => void,
): Promise<RunEnd> {
  let waitingNoted = false;
  const started = Date.now();
  const end = await followLogs(dp, runId, {
    onLine,
    async notThere() {
      const run = await cp.run(runId);
      if (isTerminal(run.status as RunStatus)) return { status: run.status, exitCode: run.exitCode };
      if (!waitingNoted && Date.now() - started > 3000) {
        output.note(output.err.dim(`Waiting for the run to start (it is ${run.status})…`));
        waitingNoted = true;
      }
      return undefined;
    },
  });
  // Neither happens here: nothing stops the follow, and notThere never gives up.
  if (end === 'absent' || end === 'stopped') throw new CliError(`Stopped following run ${runId}.`);
  return end;
}
