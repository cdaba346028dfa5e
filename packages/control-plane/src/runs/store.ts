import { randomUUID } from 'node:crypto';
import { interactiveUrl } from '@sovereign/protocol';
import type { Queryable } from '@sovereign/protocol/sql';
import { iso, isoOrNull } from '../context.ts';
import type { DataplanesTable, JobsTable, RunsTable, RunTrigger, WorkspacesTable } from '../tables.ts';

/** A run with its job's name and kind, its data plane's URL and its workspace's organization (selectRun). */
export type RunRow = RunsTable &
  Pick<WorkspacesTable, 'organization_id'> & {
    job_name: JobsTable['name'];
    job_kind: JobsTable['kind'];
    /** The public URL of the run's data plane, where an interactive run is opened. */
    dataplane_url: DataplanesTable['public_url'];
  };

export const selectRun = `SELECT r.*, j.name AS job_name, j.kind AS job_kind, d.public_url AS dataplane_url, w.organization_id
  FROM runs r JOIN jobs j USING (job_id) JOIN workspaces w ON w.workspace_id = r.workspace_id
  JOIN dataplanes d ON d.dataplane_id = r.dataplane_id`;

/**
 * Where an interactive run is opened: its data plane's URL for it. Metadata only: the
 * app's pages and answers travel between the client and the data plane, never here.
 */
export function runUrl(row: Pick<RunRow, 'run_id' | 'job_kind' | 'dataplane_url'>): string | null {
  return row.job_kind === 'interactive' && row.dataplane_url !== null
    ? interactiveUrl(row.dataplane_url, row.run_id)
    : null;
}

/**
 * The runs list: the caller's workspaces (all of them for an instance admin), optional
 * workspace, job and status filters, newest first, after a (queued_at, run_id) cursor.
 * Parameters: $1 is-admin, $2 user, $3 workspace, $4 job, $5 status, $6/$7 the cursor
 * (the last run's queued_at in microseconds since the epoch, and its id), $8 the limit.
 * Each filter that is null drops out of the plan (the query is planned with its values).
 *
 * Each workspace gives at most a page of its newest runs through its (workspace_id,
 * queued_at, run_id) index, and only those are merged and sorted: a user with a million
 * runs across their workspaces gets a page in milliseconds, where joining every run
 * first and sorting them took seconds (bench/scale.ts, docs/performance.md).
 */
export const listRunsSql = `SELECT r.*, j.name AS job_name, j.kind AS job_kind, d.public_url AS dataplane_url,
    w.organization_id, (extract(epoch FROM r.queued_at) * 1000000)::bigint AS queued_us
  FROM workspaces w
  CROSS JOIN LATERAL (
    SELECT * FROM runs
     WHERE runs.workspace_id = w.workspace_id
       AND ($4::uuid IS NULL OR runs.job_id = $4)
       AND ($5::text IS NULL OR runs.status = $5)
       AND ($6::bigint IS NULL
            OR (runs.queued_at, runs.run_id) < ('epoch'::timestamptz + $6 * interval '1 microsecond', $7::uuid))
     ORDER BY runs.queued_at DESC, runs.run_id DESC LIMIT $8) r
  JOIN jobs j ON j.job_id = r.job_id
  JOIN dataplanes d ON d.dataplane_id = r.dataplane_id
  WHERE w.deleted_at IS NULL
    AND ($1 OR w.organization_id IN (SELECT organization_id FROM memberships WHERE user_id = $2))
    AND ($3::uuid IS NULL OR w.workspace_id = $3)
    AND ($9::uuid IS NULL OR w.workspace_id = $9)
  ORDER BY r.queued_at DESC, r.run_id DESC LIMIT $8`;

export function toRun(row: RunRow) {
  return {
    runId: row.run_id,
    jobId: row.job_id,
    jobName: row.job_name,
    workspaceId: row.workspace_id,
    dataplaneId: row.dataplane_id,
    deploymentId: row.deployment_id,
    attempt: row.attempt,
    rootRunId: row.root_run_id,
    trigger: row.trigger,
    status: row.status,
    reasonCode: row.reason_code,
    exitCode: row.exit_code,
    scheduledFor: isoOrNull(row.scheduled_for),
    createdBy: row.created_by,
    queuedAt: iso(row.queued_at),
    claimedAt: isoOrNull(row.claimed_at),
    startedAt: isoOrNull(row.started_at),
    finishedAt: isoOrNull(row.finished_at),
    cancelRequested: row.cancel_requested_at !== null,
    url: runUrl(row),
  };
}

/** What queueing a run of a job needs: the job's definition and its workspace's data plane (selectJobForRun). */
export type JobForRun = Pick<
  JobsTable,
  | 'job_id'
  | 'workspace_id'
  | 'name'
  | 'kind'
  | 'trigger'
  | 'timeout_seconds'
  | 'retries'
  | 'max_running'
  | 'paused'
  | 'deployment_id'
  | 'archived_at'
> &
  Pick<WorkspacesTable, 'dataplane_id'>;

export const selectJobForRun = `SELECT j.job_id, j.workspace_id, j.name, j.kind, j.trigger, j.timeout_seconds, j.retries,
    j.max_running, j.paused, j.deployment_id, j.archived_at, w.dataplane_id
  FROM jobs j JOIN workspaces w USING (workspace_id)`;

/** Two-int advisory locks per job, apart from the one-bigint locks of migrations and the scheduler. */
const jobLockSpace = 0x5056_0011;

/**
 * The job's active runs (queued, claimed or running), oldest first, when it already has
 * as many as its `max_running` allows; undefined when another may be queued. Holds a
 * lock on the job until the transaction ends, so two triggers cannot both see room.
 * An advisory lock, not a row lock: a deployment report locks the workspace and then
 * its jobs, and a row lock taken here first would wait on it the other way round.
 */
export async function runsAtLimit(tx: Queryable, job: JobForRun): Promise<string[] | undefined> {
  if (job.max_running === null) return undefined;
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [jobLockSpace, job.job_id]);
  const active = await tx.query<Pick<RunsTable, 'run_id'>>(
    `SELECT run_id FROM runs WHERE job_id = $1 AND status IN ('queued', 'claimed', 'running')
      ORDER BY queued_at, run_id`,
    [job.job_id],
  );
  return active.length >= job.max_running ? active.map((r) => r.run_id) : undefined;
}

/**
 * Queues a run of a job on its workspace's data plane. A scheduled run names its due
 * time, and a second insert for the same due time does nothing: each fires once.
 * Returns the new run's id and data plane, or undefined when it already existed or the
 * job has as many active runs as it may (a due time that finds it so is skipped).
 */
export async function enqueueRun(
  tx: Queryable,
  job: JobForRun,
  options: {
    trigger: RunTrigger;
    createdBy?: string | null;
    scheduledFor?: Date | null;
    attempt?: number;
    rootRunId?: string;
  },
): Promise<{ runId: string; dataplaneId: string } | undefined> {
  if ((await runsAtLimit(tx, job)) !== undefined) return undefined;
  const runId = randomUUID();
  const rows = await tx.query<Pick<RunsTable, 'run_id'>>(
    `INSERT INTO runs (run_id, job_id, workspace_id, dataplane_id, deployment_id, attempt, root_run_id, trigger,
                       status, timeout_seconds, scheduled_for, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11)
     ON CONFLICT DO NOTHING RETURNING run_id`,
    [
      runId,
      job.job_id,
      job.workspace_id,
      job.dataplane_id,
      job.deployment_id,
      options.attempt ?? 1,
      options.rootRunId ?? runId,
      options.trigger,
      job.timeout_seconds,
      options.scheduledFor ?? null,
      options.createdBy ?? null,
    ],
  );
  return rows.length === 0 ? undefined : { runId, dataplaneId: job.dataplane_id };
}

/**
 * Queues the runs one scheduler tick fires, in one statement however many there are
 * (10,000 jobs due at one second were 10,000 statements in the tick's transaction). A
 * (job, due time) that already fired is skipped by the fire-once index. Returns the runs
 * queued.
 */
export async function enqueueScheduledRuns(
  tx: Queryable,
  due: ReadonlyArray<{ job: JobForRun; scheduledFor: Date }>,
): Promise<Array<{ runId: string; dataplaneId: string }>> {
  // A job with a limit (interactive ones) skips a due time that finds it at the limit.
  const fires: Array<{ job: JobForRun; scheduledFor: Date }> = [];
  for (const fire of due) {
    if (fire.job.max_running === null || (await runsAtLimit(tx, fire.job)) === undefined) fires.push(fire);
  }
  if (fires.length === 0) return [];
  const rows = await tx.query<Pick<RunsTable, 'run_id' | 'dataplane_id'>>(
    `INSERT INTO runs (run_id, job_id, workspace_id, dataplane_id, deployment_id, attempt, root_run_id, trigger,
                       status, timeout_seconds, scheduled_for)
     SELECT f.run_id, f.job_id, f.workspace_id, f.dataplane_id, f.deployment_id, 1, f.run_id, 'schedule',
            'queued', f.timeout_seconds, f.scheduled_for
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int[], $7::timestamptz[])
            AS f(run_id, job_id, workspace_id, dataplane_id, deployment_id, timeout_seconds, scheduled_for)
     ON CONFLICT DO NOTHING RETURNING run_id, dataplane_id`,
    [
      fires.map(() => randomUUID()),
      fires.map((f) => f.job.job_id),
      fires.map((f) => f.job.workspace_id),
      fires.map((f) => f.job.dataplane_id),
      fires.map((f) => f.job.deployment_id),
      fires.map((f) => f.job.timeout_seconds),
      fires.map((f) => f.scheduledFor.toISOString()),
    ],
  );
  return rows.map((r) => ({ runId: r.run_id, dataplaneId: r.dataplane_id }));
}
