import { type ControlPlaneClient, type DataPlaneClient, followLogs } from '@sovereign/client';
import type { LogEnd, LogLine, Run } from '@sovereign/contract';
import { isTerminal, type RunStatus } from '@sovereign/contract/run-states';
import { CliError, ExitCode } from '../errors.ts';
import { relativeTime } from '../output/format.ts';
import type { Output } from '../output/output.ts';

/** How a followed run ended: from its data plane, or from the control plane when it ended before it got there. */
export type RunEnd = LogEnd;

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
 * Why a run is still waiting, in words: its status, and whether its data plane is up.
 * A queued run of a data plane that never came online, or went quiet, starts once it
 * is back: say so, rather than leave the user guessing.
 */
async function whyWaiting(cp: ControlPlaneClient, run: Run, unreachable: boolean): Promise<string> {
  const health = await cp.dataplaneHealth(run.dataplaneId).catch(() => undefined);
  const plane = health === undefined ? 'its data plane' : `its data plane (${health.publicUrl ?? run.dataplaneId})`;
  if (health?.status === 'unknown')
    return `The run is ${run.status}: ${plane} has not come online yet; it starts when it does.`;
  if (unreachable || health?.status === 'unhealthy' || health?.status === 'degraded') {
    const since = health?.lastHeartbeatAt ? `, last heard from ${relativeTime(health.lastHeartbeatAt)}` : '';
    return `The run is ${run.status}: ${plane} cannot be reached${since}; it goes on when the data plane is back.`;
  }
  return `Waiting for the run to start (it is ${run.status})…`;
}

/**
 * Follows a run's logs on its data plane until the run ends, and answers how it ended
 * (the client's followLogs: a dropped stream resumes after the last line, an expired
 * token is renewed). A run its data plane has not claimed yet is not there, and a data
 * plane that is down cannot be asked: the CLI waits, watching the control plane in case
 * the run ends meanwhile (cancelled while queued), and says why after a few seconds.
 */
export async function followRun(
  cp: ControlPlaneClient,
  dp: DataPlaneClient,
  runId: string,
  output: Output,
  onLine: (line: LogLine) => void,
): Promise<RunEnd> {
  let noted = '';
  let endSeen = false;
  const started = Date.now();
  const waiting = async (unreachable: boolean) => {
    const run = await cp.run(runId);
    if (isTerminal(run.status as RunStatus)) {
      // A short run can end between the data plane's "not here yet" and this look: one
      // that was claimed has its logs there, so the data plane is asked once more before
      // the run is said to have ended with no line shown.
      if (!unreachable && run.claimedAt !== null && !endSeen) {
        endSeen = true;
        return undefined;
      }
      return { status: run.status, exitCode: run.exitCode, durationMs: run.durationMs };
    }
    if (unreachable || Date.now() - started > 3000) {
      const why = await whyWaiting(cp, run, unreachable);
      if (why !== noted) output.note(output.err.dim(why));
      noted = why;
    }
    return undefined;
  };
  const end = await followLogs(dp, runId, {
    onLine,
    notThere: () => waiting(false),
    whileUnreachable: () => waiting(true),
  });
  // Neither happens here: nothing stops the follow, and notThere never gives up.
  if (end === 'absent' || end === 'stopped') throw new CliError(`Stopped following run ${runId}.`);
  return end;
}
