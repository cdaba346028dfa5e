import type { ControlPlaneClient, DataPlaneClient } from '@sovereign/client';
import type { Deployment, OutputFile, Run, Workspace } from '@sovereign/contract';

/** A job's saved state, as read from the old workspace's data plane. */
export interface JobStateCopy {
  job: string;
  state: unknown;
  /** Its size as JSON, as the dry run shows it. */
  sizeBytes: number;
}

/** A run whose outputs `--with-outputs` copies, and its files. */
export interface RunOutputs {
  run: Pick<Run, 'runId' | 'jobName' | 'status' | 'queuedAt'>;
  files: OutputFile[];
}

/**
 * What a move copies, read from the old workspace's data plane with a read-only token:
 * the current deployment (its bundle is downloaded when copied, not here), the plain
 * variables with their values, the names of the secrets (their values are never read
 * back: they are asked again), each current job's state, and the outputs of the last
 * runs when asked.
 */
export interface MovePlan {
  deployment: Pick<Deployment, 'deploymentId' | 'digest' | 'sizeBytes' | 'createdAt'> | null;
  jobs: string[];
  variables: Array<{ name: string; value: string }>;
  secrets: string[];
  states: JobStateCopy[];
  /** Null when --with-outputs was not given. */
  outputs: RunOutputs[] | null;
}

const utf8 = new TextEncoder();

/** The saved state of each of these jobs that has one. */
export async function readStates(source: DataPlaneClient, jobs: readonly string[]): Promise<JobStateCopy[]> {
  const states: JobStateCopy[] = [];
  for (const job of jobs) {
    const saved = await source.state(job);
    if (saved === null) continue;
    states.push({ job, state: saved.state, sizeBytes: utf8.encode(JSON.stringify(saved.state)).length });
  }
  return states;
}

/** Reads what a move copies from the old workspace; changes nothing. */
export async function readPlan(
  cp: ControlPlaneClient,
  source: DataPlaneClient,
  workspace: Workspace,
  withOutputs: number | undefined,
): Promise<MovePlan> {
  const [deployments, variables] = await Promise.all([source.deployments(), source.variables()]);
  const current = deployments.find((d) => d.current) ?? null;
  const jobs = (current?.jobs ?? []).map((j) => j.name).sort();
  const states = await readStates(source, jobs);
  let outputs: RunOutputs[] | null = null;
  if (withOutputs !== undefined) {
    const runs = (await cp.runs({ workspaceId: workspace.workspaceId, limit: withOutputs })).data;
    outputs = [];
    for (const run of runs) {
      const files = await source.outputs(run.runId);
      if (files.length > 0) outputs.push({ run, files });
    }
  }
  return {
    deployment:
      current === null
        ? null
        : {
            deploymentId: current.deploymentId,
            digest: current.digest,
            sizeBytes: current.sizeBytes,
            createdAt: current.createdAt,
          },
    jobs,
    variables: variables
      .filter((v) => !v.secret)
      .map((v) => ({ name: v.name, value: v.value ?? '' }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    secrets: variables
      .filter((v) => v.secret)
      .map((v) => v.name)
      .sort(),
    states,
    outputs,
  };
}
