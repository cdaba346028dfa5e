import type { ControlPlaneClient, DataPlaneClient } from '@sovereign/client';
import { digestOfHeader } from '@sovereign/contract/digest';
import { CliError } from '../errors.ts';
import type { MovePlan } from './plan.ts';

/**
 * The steps of a move that copy, each from the old workspace's data plane to the new
 * one's through this client (never through the control plane, R2, nor from one data plane
 * to the other, R8). Each is idempotent, so a move run again after it was killed at any
 * point does nothing twice: what is already there, the same, is left as it is.
 */

/** What a step did: how many it wrote, and how many were there already. */
export interface StepResult {
  written: string[];
  there: string[];
}

/** JSON with object keys sorted: a state read back from jsonb has its keys in another order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/**
 * The current deployment's bundle, streamed from the old data plane into the new one
 * (never whole in memory, never on disk here), its Digest header passed on so the new data
 * plane checks the bytes. Already there (the new workspace's current deployment has the
 * same digest): not uploaded again. Answers the new deployment's id.
 */
export async function copyBundle(
  plan: MovePlan,
  source: DataPlaneClient,
  target: DataPlaneClient,
  onBuildLine: ((line: string) => void) | undefined,
): Promise<{ deploymentId: string; copied: boolean } | undefined> {
  const wanted = plan.deployment;
  if (wanted === null) return undefined;
  const current = (await target.deployments()).find((d) => d.current);
  if (current?.digest === wanted.digest) return { deploymentId: current.deploymentId, copied: false };
  const response = await source.bundle(wanted.deploymentId);
  const digestHeader = response.headers.get('digest') ?? undefined;
  const sizeBytes = Number(response.headers.get('content-length'));
  if (response.body === null || digestOfHeader(digestHeader) !== wanted.digest || sizeBytes !== wanted.sizeBytes) {
    await response.body?.cancel();
    throw new CliError(`The old data plane answered another bundle than deployment ${wanted.deploymentId}'s.`, {
      hint: 'Run the move again.',
    });
  }
  await target.ready();
  const result = await target.deploy(response.body, sizeBytes, false, onBuildLine, { digest: digestHeader as string });
  if (result.deploymentId === null || result.digest !== wanted.digest) {
    throw new CliError('The new data plane stored another bundle than the one sent.', { hint: 'Run the move again.' });
  }
  return { deploymentId: result.deploymentId, copied: true };
}

/** The plain variables, each set to its value unless the new workspace has it so already. */
export async function copyVariables(plan: MovePlan, target: DataPlaneClient): Promise<StepResult> {
  const existing = new Map((await target.variables()).map((v) => [v.name, v]));
  const result: StepResult = { written: [], there: [] };
  for (const { name, value } of plan.variables) {
    const there = existing.get(name);
    if (there !== undefined && !there.secret && there.value === value) {
      result.there.push(name);
      continue;
    }
    await target.setVariable(name, value, false);
    result.written.push(name);
  }
  return result;
}

/**
 * The secrets given again (asked, or from a file), each set unless the new workspace has
 * it already (a move run again does not ask twice). Answers the ones left unset too.
 */
export async function copySecrets(
  plan: MovePlan,
  target: DataPlaneClient,
  values: ReadonlyMap<string, string>,
): Promise<StepResult & { unset: string[] }> {
  const existing = new Set((await target.variables()).filter((v) => v.secret).map((v) => v.name));
  const result = { written: [] as string[], there: [] as string[], unset: [] as string[] };
  for (const name of plan.secrets) {
    if (existing.has(name)) result.there.push(name);
    else {
      const value = values.get(name);
      if (value === undefined) result.unset.push(name);
      else {
        await target.setVariable(name, value, true);
        result.written.push(name);
      }
    }
  }
  return result;
}

/** Each job's state, put unless the new workspace's job has the same one. */
export async function copyStates(plan: MovePlan, target: DataPlaneClient): Promise<StepResult> {
  const result: StepResult = { written: [], there: [] };
  for (const { job, state } of plan.states) {
    const there = await target.state(job);
    if (there !== null && canonical(there.state) === canonical(state)) {
      result.there.push(job);
      continue;
    }
    await target.setState(job, state);
    result.written.push(job);
  }
  return result;
}

const activeStatuses = ['queued', 'claimed', 'running'] as const;

/** The old workspace's active runs (it takes no new ones once the move started). */
export async function activeRuns(cp: ControlPlaneClient, workspaceId: string): Promise<string[]> {
  const found: string[] = [];
  for (const status of activeStatuses) {
    const { data } = await cp.runs({ workspaceId, status, limit: 200 });
    found.push(...data.map((r) => r.runId));
  }
  return found;
}

/**
 * Waits until the old workspace has no active run (a run still going could change the
 * state after it was copied); `onWaiting` hears how many there are, once.
 */
export async function waitForIdle(
  cp: ControlPlaneClient,
  workspaceId: string,
  onWaiting: (runIds: string[]) => void,
): Promise<void> {
  let told = false;
  for (;;) {
    const active = await activeRuns(cp, workspaceId);
    if (active.length === 0) return;
    if (!told) onWaiting(active);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** How long the new data plane's report of the deployment may take to reach the control plane. */
const reportWaitMs = 60_000;

/** Waits until the control plane lists a deployment with this digest in the new workspace (its jobs with it). */
export async function waitForDeployment(cp: ControlPlaneClient, workspaceId: string, digest: string): Promise<void> {
  const deadline = Date.now() + reportWaitMs;
  while (Date.now() < deadline) {
    if ((await cp.deployments(workspaceId)).some((d) => d.digest === digest)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new CliError('The new data plane has not reported the deployment to the control plane yet.', {
    hint: 'Run the move again in a moment: what was copied stays, and it picks up from there.',
  });
}
