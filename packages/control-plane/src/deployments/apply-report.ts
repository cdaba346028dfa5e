import {
  type DeploymentReport,
  type DeploymentReportResponse,
  defaultRetryBackoff,
  defaultRetryDelaySeconds,
  ErrorCode,
  type JobMetadata,
} from '@sovereign/contract';
import { scheduleProblem } from '@sovereign/contract/schedules';
import { BadRequestProblem, ConflictProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { archiveJob, insertJob, type JobDefinition, listWorkspaceJobs, updateJobDefinition } from '../jobs/store.ts';
import { findMoveFrom, findMoveTo } from '../moves/store.ts';
import type { JobsTable } from '../tables.ts';
import { lockWorkspace } from '../workspaces/store.ts';
import { findDeploymentChanges, hasNewerDeployment, insertDeployment, setDeploymentChanges } from './store.ts';

/** A data plane that predates `maxRunning` still gets one run at a time for its interactive jobs. */
function maxRunningOf(job: JobMetadata): number | null {
  return job.maxRunning ?? (job.kind === 'interactive' ? 1 : null);
}

function definitionOf(job: JobMetadata, deploymentId: string): JobDefinition {
  return {
    kind: job.kind,
    trigger: job.trigger,
    timezone: job.timezone,
    timeoutSeconds: job.timeoutSeconds,
    retries: job.retries,
    retryDelaySeconds: job.retryDelaySeconds ?? defaultRetryDelaySeconds,
    retryBackoff: job.retryBackoff ?? defaultRetryBackoff,
    maxRunning: maxRunningOf(job),
    deploymentId,
  };
}

function sameDefinition(row: JobsTable, job: JobMetadata): boolean {
  return (
    row.archived_at === null &&
    row.kind === job.kind &&
    JSON.stringify(row.trigger) === JSON.stringify(job.trigger) &&
    row.timezone === job.timezone &&
    row.timeout_seconds === job.timeoutSeconds &&
    row.retries === job.retries &&
    row.retry_delay_seconds === (job.retryDelaySeconds ?? defaultRetryDelaySeconds) &&
    row.retry_backoff === (job.retryBackoff ?? defaultRetryBackoff) &&
    row.max_running === maxRunningOf(job)
  );
}

/**
 * A report naming a schedule the scheduler cannot compute (a time zone or cron pattern
 * it cannot read, a `once` that is no date) is refused whole, before anything is kept:
 * stored, it would fail the scheduler's every tick, for every organization's jobs. A data
 * plane checks its manifests with the same rules, so only a faulty or rogue one sends it.
 */
export class ScheduleInvalidProblem extends BadRequestProblem {
  constructor(errors: Array<{ path: string; message: string }>) {
    super(ErrorCode.validationFailed, 'The report names a schedule the control plane cannot compute.', { errors });
  }
}

export function checkSchedules(report: DeploymentReport): void {
  const errors = report.jobs.flatMap((job, i) => {
    const problem = scheduleProblem(job.trigger, job.timezone);
    return problem === undefined ? [] : [{ path: `jobs[${i}]`, message: problem }];
  });
  if (errors.length > 0) throw new ScheduleInvalidProblem(errors);
}

/**
 * Applies a data plane's deployment report: upserts the jobs it names and archives
 * the workspace's jobs it no longer names. Delivered twice, it answers the first
 * outcome; delivered after a newer deployment, it is recorded but moves no job back.
 */
export async function applyDeploymentReport(
  tx: Queryable,
  dataplaneId: string,
  report: DeploymentReport,
): Promise<DeploymentReportResponse['jobs']> {
  // One report at a time per workspace, so two deployments cannot interleave their upserts.
  await lockWorkspace(tx, report.workspaceId);
  const existing = await findDeploymentChanges(tx, report.deploymentId);
  // The same report again answers what it did the first time; the id of another
  // workspace's deployment is refused, neither telling its jobs nor taking its place.
  if (existing !== undefined && existing.workspace_id !== report.workspaceId) {
    throw new ConflictProblem(ErrorCode.deploymentIdTaken, 'Another deployment has that id.');
  }
  if (existing !== undefined) return existing.changes;

  const newer = await hasNewerDeployment(tx, report.workspaceId, report.createdAt);
  const changes: DeploymentReportResponse['jobs'] = { added: [], updated: [], unchanged: [], archived: [] };
  await insertDeployment(tx, dataplaneId, report, changes);
  // A late report of an older deployment is kept as history; the jobs follow the newest.
  if (newer) return changes;
  // A workspace moved to another region keeps the jobs it had when the move started: a
  // deployment made there since (with a token issued before the move, before its
  // revocation reached the data plane) is history, and runs nothing.
  if ((await findMoveFrom(tx, report.workspaceId)) !== undefined) return changes;
  // A workspace being moved in gets its jobs paused: the move resumes them at its end, as
  // they were in the workspace it came from.
  const movingIn = (await findMoveTo(tx, report.workspaceId))?.status === 'in_progress';

  const rows = await listWorkspaceJobs(tx, report.workspaceId);
  const byName = new Map(rows.map((r) => [r.name, r]));
  for (const job of report.jobs) {
    const row = byName.get(job.name);
    if (row === undefined) {
      await insertJob(tx, report.workspaceId, job.name, definitionOf(job, report.deploymentId), movingIn);
      changes.added.push(job.name);
      continue;
    }
    (sameDefinition(row, job) ? changes.unchanged : changes.updated).push(job.name);
    await updateJobDefinition(tx, row.job_id, definitionOf(job, report.deploymentId));
  }
  const named = new Set(report.jobs.map((j) => j.name));
  for (const row of rows) {
    if (row.archived_at === null && !named.has(row.name)) {
      await archiveJob(tx, row.job_id);
      changes.archived.push(row.name);
    }
  }
  await setDeploymentChanges(tx, report.deploymentId, changes);
  return changes;
}
