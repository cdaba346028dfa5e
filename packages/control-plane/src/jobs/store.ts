import { randomUUID } from 'node:crypto';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { JobSchedulesTable, JobsTable, RunsTable, WorkspacesTable } from '../tables.ts';

/**
 * Whether the workspace of job `j` was moved (or is being moved) to another region
 * (issue 22): its schedules, `after` triggers and backfills stop.
 */
export const workspaceMoved = 'EXISTS (SELECT 1 FROM workspace_moves m WHERE m.from_workspace_id = j.workspace_id)';

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
    /** When the scheduler first saw the job's current trigger: where an `every` schedule counts from. */
    schedule_anchor: JobSchedulesTable['updated_at'] | null;
    /** Its workspace was moved to another region: its schedule no longer fires. */
    workspace_moved: boolean;
  };

/** A job with its newest run, so a list of jobs shows how each last went without a call per job. */
const selectJob = `SELECT j.*, w.organization_id, w.dataplane_id, lr.run_id AS last_run_id,
    lr.status AS last_run_status, lr.trigger AS last_run_trigger, lr.queued_at AS last_run_queued_at,
    lr.finished_at AS last_run_finished_at, s.updated_at AS schedule_anchor, ${workspaceMoved} AS workspace_moved
  FROM jobs j JOIN workspaces w USING (workspace_id)
  LEFT JOIN job_schedules s ON s.job_id = j.job_id AND s.trigger = j.trigger AND s.timezone = j.timezone
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

/** What queueing a run of a job needs: the job's definition and its workspace's data plane. */
export type JobToRun = Pick<
  JobsTable,
  | 'job_id'
  | 'workspace_id'
  | 'name'
  | 'kind'
  | 'trigger'
  | 'timeout_seconds'
  | 'retries'
  | 'retry_delay_seconds'
  | 'retry_backoff'
  | 'max_running'
  | 'paused'
  | 'deployment_id'
  | 'archived_at'
> &
  Pick<WorkspacesTable, 'dataplane_id'> & {
    /** Its workspace was moved to another region (issue 22): nothing new runs there. */
    workspace_moved: boolean;
  };

const selectJobToRun = `SELECT j.job_id, j.workspace_id, j.name, j.kind, j.trigger, j.timeout_seconds, j.retries,
    j.retry_delay_seconds, j.retry_backoff,
    j.max_running, j.paused, j.deployment_id, j.archived_at, w.dataplane_id, ${workspaceMoved} AS workspace_moved
  FROM jobs j JOIN workspaces w USING (workspace_id)`;

/** The jobs with these ids, as queueing their runs needs them (archived and paused ones too). */
export async function findJobsToRun(db: Queryable, jobIds: string[]): Promise<JobToRun[]> {
  return db.query<JobToRun>(`${selectJobToRun} WHERE j.job_id = ANY($1::uuid[])`, [jobIds]);
}

/**
 * The live, unpaused jobs of a workspace that run after `jobName` ends with `outcome`
 * (`success`, `failure`, or `none` for a cancel, which only `completion` follows). None
 * in a moved workspace: a run that ends there after the move started starts nothing.
 */
export async function findDependentJobs(
  db: Queryable,
  workspaceId: string,
  jobName: string,
  outcome: 'success' | 'failure' | 'none',
): Promise<JobToRun[]> {
  return db.query<JobToRun>(
    `${selectJobToRun}
      WHERE j.workspace_id = $1 AND j.archived_at IS NULL AND NOT j.paused AND NOT ${workspaceMoved}
        AND j.trigger->>'type' = 'after' AND j.trigger->>'job' = $2
        AND (j.trigger->>'on' = 'completion' OR j.trigger->>'on' = $3)`,
    [workspaceId, jobName, outcome],
  );
}

/** Every job of a workspace, archived ones too (a deployment report compares them with its own). */
export async function listWorkspaceJobs(db: Queryable, workspaceId: string): Promise<JobsTable[]> {
  return db.query<JobsTable>('SELECT * FROM jobs WHERE workspace_id = $1', [workspaceId]);
}

/** A job's definition, as a deployment declares it. */
export interface JobDefinition {
  kind: JobsTable['kind'];
  trigger: JobsTable['trigger'];
  timezone: string;
  timeoutSeconds: number;
  retries: number;
  retryDelaySeconds: number;
  retryBackoff: number;
  maxRunning: number | null;
  deploymentId: string;
}

/** A new job of a workspace; `paused` for a workspace being moved in, whose jobs wait for the move's end. */
export async function insertJob(
  tx: Queryable,
  workspaceId: string,
  name: string,
  job: JobDefinition,
  paused = false,
): Promise<void> {
  await tx.query(
    `INSERT INTO jobs (job_id, workspace_id, name, kind, trigger, timezone, timeout_seconds, retries, deployment_id,
                       max_running, retry_delay_seconds, retry_backoff, paused)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      randomUUID(),
      workspaceId,
      name,
      job.kind,
      JSON.stringify(job.trigger),
      job.timezone,
      job.timeoutSeconds,
      job.retries,
      job.deploymentId,
      job.maxRunning,
      job.retryDelaySeconds,
      job.retryBackoff,
      paused,
    ],
  );
}

/**
 * At the end of a move, the new workspace's jobs take the paused flags of the old one's
 * of the same name: what ran on its schedule there does here, what was paused stays so.
 * A job the old workspace did not have stays paused. Answers the jobs it resumed.
 */
export async function takePausesFrom(tx: Queryable, toWorkspaceId: string, fromWorkspaceId: string): Promise<string[]> {
  const rows = await tx.query<Pick<JobsTable, 'name'>>(
    `UPDATE jobs t SET paused = o.paused, updated_at = now()
       FROM jobs o
      WHERE t.workspace_id = $1 AND o.workspace_id = $2 AND o.name = t.name AND o.archived_at IS NULL
        AND t.paused AND NOT o.paused
      RETURNING t.name`,
    [toWorkspaceId, fromWorkspaceId],
  );
  return rows.map((r) => r.name).sort();
}

/** Gives a job the definition of a newer deployment, and brings it back if it was archived. */
export async function updateJobDefinition(tx: Queryable, jobId: string, job: JobDefinition): Promise<void> {
  await tx.query(
    `UPDATE jobs SET kind = $2, trigger = $3, timezone = $4, timeout_seconds = $5, retries = $6,
            deployment_id = $7, max_running = $8, retry_delay_seconds = $9, retry_backoff = $10,
            archived_at = NULL, updated_at = now()
      WHERE job_id = $1`,
    [
      jobId,
      job.kind,
      JSON.stringify(job.trigger),
      job.timezone,
      job.timeoutSeconds,
      job.retries,
      job.deploymentId,
      job.maxRunning,
      job.retryDelaySeconds,
      job.retryBackoff,
    ],
  );
}

/** Archives a job a deployment no longer names: it keeps its id and history, and comes back if named again. */
export async function archiveJob(tx: Queryable, jobId: string): Promise<void> {
  await tx.query('UPDATE jobs SET archived_at = now(), updated_at = now() WHERE job_id = $1', [jobId]);
}
