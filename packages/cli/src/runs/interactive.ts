import { ApiError, type ControlPlaneClient as ControlPlane, UnreachableError } from '@sovereign/client';
import type { Run } from '@sovereign/contract';
import { isTerminal, type RunStatus } from '@sovereign/contract/run-states';
import { CliError } from '../errors.ts';
import { statusWord } from '../output/format.ts';
import type { Output } from '../output/output.ts';
import { exitCodeFor } from './follow.ts';

export interface OpenedApp {
  run: Run;
  /** True when the job was already at its limit and this is its active run. */
  existing: boolean;
  /**
   * The app's own origin. A browser opening it is let in through the dashboard, as the
   * user signed in there; tools send a bearer token with the interactive scope.
   */
  appUrl: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Where a run's app is served: the run's URL on its data plane answers with a redirect
 * to the app's own origin. The CLI hands out no token for a browser: a link carrying
 * one would let in whoever follows it as the CLI's user.
 */
async function appUrlOf(runUrl: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(runUrl, { redirect: 'manual' });
  } catch (error) {
    throw new UnreachableError('the data plane', new URL(runUrl).origin, error);
  }
  await response.body?.cancel();
  const location = response.headers.get('location');
  if (response.status !== 308 || location === null) {
    throw new CliError(`The data plane did not say where the app is served (it answered ${response.status}).`);
  }
  return new URL(location, runUrl).href;
}

/**
 * Starts an interactive job, or finds its active run when it allows no more (409
 * run_limit_reached names it), and waits until its app answers: the data plane reports
 * `running` only then. Answers the app's address.
 */
export async function openApp(cp: ControlPlane, jobId: string, output: Output): Promise<OpenedApp> {
  let run: Run;
  let existing = false;
  try {
    run = await cp.trigger(jobId);
  } catch (error) {
    const active = error instanceof ApiError && error.code === 'run_limit_reached' ? error.problem.runId : undefined;
    if (typeof active !== 'string') throw error;
    run = await cp.run(active);
    existing = true;
  }
  let noted = false;
  while (run.status !== 'running') {
    if (isTerminal(run.status as RunStatus)) {
      throw new CliError(
        `Run ${run.runId} of ${run.jobName} ended ${statusWord(run.status)}${run.reasonCode === null ? '' : ` (${run.reasonCode})`} before its app answered.`,
        {
          exitCode: exitCodeFor(run.status),
          hint: `Its log says why: sov logs ${run.runId}`,
        },
      );
    }
    if (!noted) {
      output.note(output.err.dim(`Starting ${run.jobName}; waiting for its app to answer…`));
      noted = true;
    }
    await sleep(300);
    run = await cp.run(run.runId);
  }
  if (run.url === null) throw new CliError(`Run ${run.runId} is not an interactive run.`);
  return { run, existing, appUrl: await appUrlOf(run.url) };
}
