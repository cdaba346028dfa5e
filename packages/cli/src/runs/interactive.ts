import { isTerminal, type RunStatus } from '@sovereign/protocol/run-states';
import type { ControlPlane, Run } from '../api/control-plane.ts';
import { ApiError, CliError } from '../errors.ts';
import type { Output } from '../output/output.ts';
import { exitCodeFor } from './follow.ts';

export interface OpenedApp {
  run: Run;
  /** True when the job was already at its limit and this is its active run. */
  existing: boolean;
  /** The app's address on its data plane, for tools that send a bearer token. */
  url: string;
  /** The same address carrying a short-lived token: a browser opens it and keeps a session cookie. */
  openUrl: string;
  expiresAt: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts an interactive job, or finds its active run when it allows no more (409
 * run_limit_reached names it), and waits until its app answers: the data plane reports
 * `running` only then. The link it answers signs a browser in once, with a token that
 * carries just the `interactive` scope.
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
        `Run ${run.runId} of ${run.jobName} ended ${run.status}${run.reasonCode === null ? '' : ` (${run.reasonCode})`} before its app answered.`,
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
  const { token, expiresAt } = await cp.dataplaneToken(run.workspaceId, ['interactive']);
  return { run, existing, url: run.url, openUrl: `${run.url}?sov_token=${encodeURIComponent(token)}`, expiresAt };
}
