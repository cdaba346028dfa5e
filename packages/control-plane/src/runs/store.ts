import { randomUUID } from 'node:crypto';
import type { RunEvent, RunStatus, RunTrigger } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { JobToRun } from '../jobs/store.ts';
import { LockKeys, lockOneForTransaction } from '../locks.ts';
import type { DataplanesTable, JobsTable, RunsTable, WorkspacesTable } from '../tables.ts';

/** A run with its job's name and kind, its data plane's URL and its workspace's organization. */
export type RunRow = RunsTable &
  Pick<WorkspacesTable, 'organization_id'> & {
    job_name: JobsTable['name'];
    job_kind: JobsTable['kind'];
    /** The public URL of the run's data plane, where an interactive run is opened. */
    dataplane_url: DataplanesTable['public_url'];
  };

const selectRun = `SELECT r.*, j.name AS job_name, j.kind AS job_kind, d.public_url AS dataplane_url, w.organization_id
  FROM runs r JOIN jobs j USING (job_id) JOIN workspaces w ON w.workspace_id = r.workspace_id
  JOIN dataplanes d ON d.dataplane_id = r.dataplane_id`;

/** A run, whatever its workspace became (a run read back in the transaction that changed it). */
export async function findRun(db: Queryable, runId: string): Promise<RunRow | undefined> {
  const [row] = await db.query<RunRow>(`${selectRun} WHERE r.run_id = $1`, [runId]);
  return row;
}

/** A run of a live workspace. */
export async function findLiveRun(db: Queryable, runId: string): Promise<RunRow | undefined> {
  const [row] = await db.query<RunRow>(`${selectRun} WHERE r.run_id = $1 AND w.deleted_at IS NULL`, [runId]);
  return row;
}

/** A run of a live workspace, its row locked until the transaction ends (a cancel races its end). */
export async function lockLiveRun(tx: Queryable, runId: string): Promise<RunRow | undefined> {
  const [row] = await tx.query<RunRow>(`${selectRun} WHERE r.run_id = $1 AND w.deleted_at IS NULL FOR UPDATE OF r`, [
    runId,
  ]);
  return row;
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

/** One page of the runs list (see listRunsSql), each run with its queued_at in microseconds for the cursor. */
export async function listRuns(
  db: Queryable,
  query: {
    isInstanceAdmin: boolean;
    userId: string;
    workspaceId: string | null;
    jobId: string | null;
    status: RunStatus | null;
    after: { queuedMicros: string; runId: string } | null;
    limit: number;
    boundWorkspaceId: string | null;
  },
): Promise<Array<RunRow & { queued_us: number }>> {
  return db.query<RunRow & { queued_us: number }>(listRunsSql, [
    query.isInstanceAdmin,
    query.userId,
    query.workspaceId,
    query.jobId,
    query.status,
    query.after?.queuedMicros ?? null,
    query.after?.runId ?? null,
    query.limit,
    query.boundWorkspaceId,
  ]);
}

/** Asks the data plane holding a run to stop it: the cancel travels with its next claim or heartbeat. */
export async function requestCancel(tx: Queryable, runId: string, at: Date): Promise<void> {
  await tx.query('UPDATE runs SET cancel_requested_at = coalesce(cancel_requested_at, $2) WHERE run_id = $1', [
    runId,
    at,
  ]);
}

/** Moves a run that has not ended to a final status, its lease released; undefined when it had ended. */
export async function finishRun(
  tx: Queryable,
  runId: string,
  status: RunStatus,
  fields: { exitCode: number | null; reasonCode: string; at: Date; seq?: number },
): Promise<RunsTable | undefined> {
  // `seq`: the event that ended it, when one did (kept as the highest applied).
  const [ended] = await tx.query<RunsTable>(
    `UPDATE runs SET status = $2, exit_code = $3, reason_code = $4, finished_at = $5,
            lease_instance_id = NULL, lease_expires_at = NULL, last_seq = greatest(last_seq, coalesce($6, last_seq))
      WHERE run_id = $1 AND status NOT IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost')
      RETURNING *`,
    [runId, status, fields.exitCode, fields.reasonCode, fields.at, fields.seq ?? null],
  );
  return ended;
}

/** Whether a workspace has a run queued on a data plane. */
export async function hasQueuedRun(db: Queryable, dataplaneId: string, workspaceId: string): Promise<boolean> {
  const [row] = await db.query(
    `SELECT 1 FROM runs WHERE dataplane_id = $1 AND status = 'queued' AND workspace_id = $2 LIMIT 1`,
    [dataplaneId, workspaceId],
  );
  return row !== undefined;
}

/**
 * A run of a data plane, locked until the transaction ends (an event about it is being
 * applied), and whether event `seq` of it was recorded already: one query, as it is
 * asked for every event of every run.
 */
export async function lockRunForEvent(
  tx: Queryable,
  runId: string,
  dataplaneId: string,
  seq: number,
): Promise<(RunsTable & { event_recorded: boolean }) | undefined> {
  const [run] = await tx.query<RunsTable & { event_recorded: boolean }>(
    `SELECT r.*, EXISTS (SELECT 1 FROM run_events e WHERE e.run_id = r.run_id AND e.seq = $3) AS event_recorded
       FROM runs r WHERE r.run_id = $1 AND r.dataplane_id = $2 FOR UPDATE OF r`,
    [runId, dataplaneId, seq],
  );
  return run;
}

/**
 * Locks the runs a batch of events is about, in run id order, before any is applied: the
 * events come in the order they happened, and a heartbeat renewing the same runs' leases
 * locks them in run id order too; two orders would deadlock.
 */
export async function lockRunsForEvents(tx: Queryable, dataplaneId: string, runIds: string[]): Promise<void> {
  await tx.query(
    'SELECT run_id FROM runs WHERE run_id = ANY($1::uuid[]) AND dataplane_id = $2 ORDER BY run_id FOR UPDATE',
    [runIds, dataplaneId],
  );
}

/** Marks a claimed run running, from the time its instance started it, and keeps `seq` as the highest event applied. */
export async function markRunning(tx: Queryable, runId: string, at: string, seq: number): Promise<void> {
  await tx.query(
    `UPDATE runs SET last_seq = greatest(last_seq, $3),
            status = CASE WHEN status = 'claimed' THEN 'running' ELSE status END,
            started_at = CASE WHEN status = 'claimed' THEN coalesce(started_at, $2) ELSE started_at END
      WHERE run_id = $1`,
    [runId, at, seq],
  );
}

/** Notes when a run started without changing its status (a late event about a run that ended). */
export async function markStarted(tx: Queryable, runId: string, at: string): Promise<void> {
  await tx.query('UPDATE runs SET started_at = coalesce(started_at, $2) WHERE run_id = $1', [runId, at]);
}

const insertRunEventSql = `INSERT INTO run_events (run_id, seq, status, exit_code, reason_code, instance_id, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`;
const insertLateRunEventSql = `${insertRunEventSql} ON CONFLICT DO NOTHING`;

/**
 * Records an event from the instance: once (a second record of the same (runId, seq)
 * fails the transaction), or, for a late event about a run that ended, at most once.
 */
export async function insertRunEvent(
  tx: Queryable,
  instanceId: string,
  event: RunEvent,
  options: { late: boolean },
): Promise<void> {
  await tx.query(options.late ? insertLateRunEventSql : insertRunEventSql, [
    event.runId,
    event.seq,
    event.status,
    event.exitCode ?? null,
    event.reasonCode ?? null,
    instanceId,
    event.at,
  ]);
}

/**
 * The job's active runs (queued, claimed or running), oldest first, when it already has
 * as many as its `max_running` allows; undefined when another may be queued. Holds a
 * lock on the job until the transaction ends, so two triggers cannot both see room.
 * An advisory lock, not a row lock: a deployment report locks the workspace and then
 * its jobs, and a row lock taken here first would wait on it the other way round.
 */
export async function runsAtLimit(tx: Queryable, job: JobToRun): Promise<string[] | undefined> {
  if (job.max_running === null) return undefined;
  await lockOneForTransaction(tx, LockKeys.jobRuns, job.job_id);
  const active = await tx.query<Pick<RunsTable, 'run_id'>>(
    `SELECT run_id FROM runs WHERE job_id = $1 AND status IN ('queued', 'claimed', 'running')
      ORDER BY queued_at, run_id`,
    [job.job_id],
  );
  return active.length >= job.max_running ? active.map((r) => r.run_id) : undefined;
}

/** A workspace's active runs (queued, claimed or running), oldest first, `limit` at most. */
export async function listActiveRunIds(db: Queryable, workspaceId: string, limit: number): Promise<string[]> {
  const rows = await db.query<Pick<RunsTable, 'run_id'>>(
    `SELECT run_id FROM runs WHERE workspace_id = $1 AND status IN ('queued', 'claimed', 'running')
      ORDER BY queued_at, run_id LIMIT $2`,
    [workspaceId, limit],
  );
  return rows.map((r) => r.run_id);
}

/**
 * Queues a run of a job on its workspace's data plane. A scheduled run names its due
 * time, and a second insert for the same due time does nothing: each fires once.
 * Returns the new run's id and data plane, or undefined when it already existed or the
 * job has as many active runs as it may (a due time that finds it so is skipped).
 */
export async function enqueueRun(
  tx: Queryable,
  job: JobToRun,
  options: {
    trigger: RunTrigger;
    createdBy?: string | null;
    scheduledFor?: Date | null;
    attempt?: number;
    rootRunId?: string;
    /** The interval it covers (a backfill's run, or a retry of a run that had one). */
    interval?: { start: Date; end: Date } | null;
    backfillId?: string | null;
    /** Parameters stored on the data plane (issue 20): their id only. */
    parametersId?: string | null;
  },
): Promise<{ runId: string; dataplaneId: string } | undefined> {
  if ((await runsAtLimit(tx, job)) !== undefined) return undefined;
  const runId = randomUUID();
  const rows = await tx.query<Pick<RunsTable, 'run_id'>>(
    `INSERT INTO runs (run_id, job_id, workspace_id, dataplane_id, deployment_id, attempt, root_run_id, trigger,
                       status, timeout_seconds, scheduled_for, created_by, interval_start, interval_end, backfill_id,
                       parameters_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11, $12, $13, $14, $15)
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
      options.interval?.start ?? null,
      options.interval?.end ?? null,
      options.backfillId ?? null,
      options.parametersId ?? null,
    ],
  );
  return rows.length === 0 ? undefined : { runId, dataplaneId: job.dataplane_id };
}

/** A due time the scheduler fires: the job, the due time, and the interval it closes (none for a `once`). */
export interface ScheduledFire {
  job: JobToRun;
  scheduledFor: Date;
  interval: { start: Date; end: Date } | null;
}

/**
 * Queues the runs one scheduler tick fires, in one statement however many there are
 * (10,000 jobs due at one second were 10,000 statements in the tick's transaction). A
 * (job, due time) that already fired is skipped by the fire-once index, and a due time
 * of a job whose earlier scheduled run still waits in the queue is skipped (as the
 * scheduler's catch-up skips missed times). Returns the runs queued.
 */
export async function enqueueScheduledRuns(
  tx: Queryable,
  due: ReadonlyArray<ScheduledFire>,
): Promise<Array<{ runId: string; dataplaneId: string }>> {
  // A job with a limit (interactive ones) skips a due time that finds it at the limit.
  const fires: ScheduledFire[] = [];
  for (const fire of due) {
    if (fire.job.max_running === null || (await runsAtLimit(tx, fire.job)) === undefined) fires.push(fire);
  }
  if (fires.length === 0) return [];
  const rows = await tx.query<Pick<RunsTable, 'run_id' | 'dataplane_id'>>(
    `INSERT INTO runs (run_id, job_id, workspace_id, dataplane_id, deployment_id, attempt, root_run_id, trigger,
                       status, timeout_seconds, scheduled_for, interval_start, interval_end)
     SELECT f.run_id, f.job_id, f.workspace_id, f.dataplane_id, f.deployment_id, 1, f.run_id, 'schedule',
            'queued', f.timeout_seconds, f.scheduled_for, f.interval_start, f.interval_end
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int[], $7::timestamptz[],
                   $8::timestamptz[], $9::timestamptz[])
            AS f(run_id, job_id, workspace_id, dataplane_id, deployment_id, timeout_seconds, scheduled_for,
                 interval_start, interval_end)
      -- A due time is skipped while the job's run of an earlier one still waits for its
      -- first attempt: a data plane that is down (or never claims) would otherwise have a
      -- run queued at every due time until it is back, then run them all.
      WHERE NOT EXISTS (SELECT 1 FROM runs q
                         WHERE q.job_id = f.job_id AND q.status = 'queued' AND q.trigger = 'schedule'
                           AND q.attempt = 1)
     ON CONFLICT DO NOTHING RETURNING run_id, dataplane_id`,
    [
      fires.map(() => randomUUID()),
      fires.map((f) => f.job.job_id),
      fires.map((f) => f.job.workspace_id),
      fires.map((f) => f.job.dataplane_id),
      fires.map((f) => f.job.deployment_id),
      fires.map((f) => f.job.timeout_seconds),
      fires.map((f) => f.scheduledFor.toISOString()),
      fires.map((f) => f.interval?.start.toISOString() ?? null),
      fires.map((f) => f.interval?.end.toISOString() ?? null),
    ],
  );
  return rows.map((r) => ({ runId: r.run_id, dataplaneId: r.dataplane_id }));
}

/** The data planes with a delayed retry that came due in (since, now]: their claims held open are woken. */
export async function dataplanesWithRetriesDue(db: Queryable, since: Date, now: Date): Promise<string[]> {
  const rows = await db.query<Pick<RunsTable, 'dataplane_id'>>(
    `SELECT DISTINCT dataplane_id FROM runs
      WHERE status = 'queued' AND attempt > 1 AND scheduled_for > $1 AND scheduled_for <= $2`,
    [since, now],
  );
  return rows.map((r) => r.dataplane_id);
}
