import type { Queryable } from '@sovereign/protocol/sql';
import type { JobsTable, RunsTable, WorkspacesTable } from '../tables.ts';

/**
 * A job with its workspace's organization and data plane (what access checks and
 * queueing a run need), and its newest run's columns, all null when it never ran.
 */
export type JobRow = JobsTable &
  Pick<WorkspacesTable, 'organization_id' | 'dataplane_id'> & {
    last_run_id: RunsTable['run_id'] | null;
    last_run_status: RunsTable['status'] | null;
    last_run_trigger: RunsTable['trigger'] | null;
    last_run_queued_at: RunsTable['queued_at'] | null;
    last_run_finished_at: RunsTable['finished_at'];
  };

/** A job with its newest run, so a list of jobs shows how each last went without a call per job. */
const selectJob = `SELECT j.*, w.organization_id, w.dataplane_id, lr.run_id AS last_run_id,
    lr.status AS last_run_status, lr.trigger AS last_run_trigger, lr.queued_at AS last_run_queued_at,
    lr.finished_at AS last_run_finished_at
  FROM jobs j JOIN workspaces w USING (workspace_id)
  LEFT JOIN LATERAL (SELECT r.run_id, r.status, r.trigger, r.queued_at, r.finished_at FROM runs r
                      WHERE r.job_id = j.job_id ORDER BY r.queued_at DESC, r.run_id DESC LIMIT 1) lr ON true`;

/** The workspace's jobs by name; archived ones too when asked. */
export async function listJobs(db: Queryable, workspaceId: string, includeArchived: boolean): Promise<JobRow[]> {
  return db.query<JobRow>(`${selectJob} WHERE j.workspace_id = $1 AND ($2 OR j.archived_at IS NULL) ORDER BY j.name`, [
    workspaceId,
    includeArchived,
  ]);
}

/** A job of a live workspace. */
export async function findJob(db: Queryable, jobId: string): Promise<JobRow | undefined> {
  const [row] = await db.query<JobRow>(`${selectJob} WHERE j.job_id = $1 AND w.deleted_at IS NULL`, [jobId]);
  return row;
}

/** Pauses or resumes a job's schedule. */
export async function setJobPaused(tx: Queryable, jobId: string, paused: boolean): Promise<void> {
  await tx.query('UPDATE jobs SET paused = $2, updated_at = now() WHERE job_id = $1', [jobId, paused]);
}
