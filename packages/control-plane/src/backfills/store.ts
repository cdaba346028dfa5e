import type { Queryable } from '@sovereign/server-kit/sql';
import type { BackfillsTable, JobsTable, RunsTable } from '../tables.ts';

/** A backfill with its job's name and how its intervals stand. */
export type BackfillRow = BackfillsTable & {
  job_name: JobsTable['name'];
  succeeded: number;
  failed: number;
  active: number;
  waiting: number;
};

/**
 * How each backfill's intervals stand: by the last attempt of each run it queued (a
 * retry's outcome is its interval's), and those not queued yet.
 */
const selectBackfill = `SELECT b.*, j.name AS job_name,
    (SELECT count(*) FROM backfill_intervals i WHERE i.backfill_id = b.backfill_id AND i.run_id IS NULL)::int AS waiting,
    coalesce(p.succeeded, 0)::int AS succeeded, coalesce(p.failed, 0)::int AS failed, coalesce(p.active, 0)::int AS active
  FROM backfills b JOIN jobs j USING (job_id)
  LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE last.status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE last.status IN ('failed', 'timed_out', 'cancelled', 'lost')) AS failed,
           count(*) FILTER (WHERE last.status IN ('queued', 'claimed', 'running')) AS active
      FROM (SELECT DISTINCT ON (r.root_run_id) r.status FROM runs r
             WHERE r.backfill_id = b.backfill_id ORDER BY r.root_run_id, r.attempt DESC) last
  ) p ON true`;

export async function findBackfill(db: Queryable, backfillId: string): Promise<BackfillRow | undefined> {
  const [row] = await db.query<BackfillRow>(`${selectBackfill} WHERE b.backfill_id = $1`, [backfillId]);
  return row;
}

/** A backfill of a live workspace. */
export async function findLiveBackfill(db: Queryable, backfillId: string): Promise<BackfillRow | undefined> {
  const [row] = await db.query<BackfillRow>(
    `${selectBackfill} WHERE b.backfill_id = $1
       AND EXISTS (SELECT 1 FROM workspaces w WHERE w.workspace_id = b.workspace_id AND w.deleted_at IS NULL)`,
    [backfillId],
  );
  return row;
}

/** A job's newest backfills, newest first. */
export async function listJobBackfills(db: Queryable, jobId: string, limit: number): Promise<BackfillRow[]> {
  return db.query<BackfillRow>(
    `${selectBackfill} WHERE b.job_id = $1 ORDER BY b.created_at DESC, b.backfill_id DESC LIMIT $2`,
    [jobId, limit],
  );
}

/**
 * A backfill, its row locked until the transaction ends: whoever queues its runs holds it.
 * FOR NO KEY UPDATE, not FOR UPDATE: a transaction that updates a run twice (running,
 * then ended, in one batch of events) holds a key-share lock on the run's backfill from
 * the foreign key's check, and two such transactions each waiting to turn theirs into
 * FOR UPDATE deadlocked (seen on PostgreSQL with two run ends at once).
 */
export async function lockBackfill(tx: Queryable, backfillId: string): Promise<BackfillsTable | undefined> {
  const [row] = await tx.query<BackfillsTable>('SELECT * FROM backfills WHERE backfill_id = $1 FOR NO KEY UPDATE', [
    backfillId,
  ]);
  return row;
}

export async function insertBackfill(
  tx: Queryable,
  b: Omit<BackfillsTable, 'created_at' | 'finished_at'>,
  intervals: ReadonlyArray<{ start: Date; end: Date }>,
): Promise<void> {
  await tx.query(
    `INSERT INTO backfills (backfill_id, job_id, workspace_id, organization_id, range_from, range_to, max_running,
                            force, intervals, skipped, status, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [
      b.backfill_id,
      b.job_id,
      b.workspace_id,
      b.organization_id,
      b.range_from,
      b.range_to,
      b.max_running,
      b.force,
      b.intervals,
      b.skipped,
      b.status,
      b.created_by,
    ],
  );
  await tx.query(
    `INSERT INTO backfill_intervals (backfill_id, position, interval_start, interval_end)
     SELECT $1, f.position, f.interval_start, f.interval_end
       FROM unnest($2::int[], $3::timestamptz[], $4::timestamptz[]) AS f(position, interval_start, interval_end)`,
    [
      b.backfill_id,
      intervals.map((_, i) => i),
      intervals.map((i) => i.start.toISOString()),
      intervals.map((i) => i.end.toISOString()),
    ],
  );
}

/**
 * The intervals (by their end) of a job that a backfill skips: a run of the job for the
 * same interval succeeded (unless `force`), or is queued, claimed or running.
 */
export async function intervalsCovered(
  db: Queryable,
  jobId: string,
  intervals: ReadonlyArray<{ start: Date; end: Date }>,
  force: boolean,
): Promise<Set<number>> {
  const rows = await db.query<Pick<RunsTable, 'interval_end'>>(
    `SELECT DISTINCT r.interval_end FROM runs r
       JOIN unnest($2::timestamptz[], $3::timestamptz[]) AS f(interval_start, interval_end)
         ON r.interval_end = f.interval_end AND r.interval_start = f.interval_start
      WHERE r.job_id = $1
        AND (r.status IN ('queued', 'claimed', 'running') OR (r.status = 'succeeded' AND NOT $4))`,
    [jobId, intervals.map((i) => i.start.toISOString()), intervals.map((i) => i.end.toISOString()), force],
  );
  return new Set(rows.map((r) => new Date(r.interval_end as Date).getTime()));
}

/** How many of a backfill's runs are queued, claimed or running. */
export async function countActiveRuns(tx: Queryable, backfillId: string): Promise<number> {
  const [row] = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM runs WHERE backfill_id = $1 AND status IN ('queued', 'claimed', 'running')`,
    [backfillId],
  );
  return row?.n ?? 0;
}

/** A backfill's next intervals to queue, in order. */
export async function nextIntervals(
  tx: Queryable,
  backfillId: string,
  limit: number,
): Promise<Array<{ position: number; interval_start: Date; interval_end: Date }>> {
  return tx.query(
    `SELECT position, interval_start, interval_end FROM backfill_intervals
      WHERE backfill_id = $1 AND run_id IS NULL ORDER BY position LIMIT $2`,
    [backfillId, limit],
  );
}

export async function setIntervalRun(
  tx: Queryable,
  backfillId: string,
  position: number,
  runId: string,
): Promise<void> {
  await tx.query('UPDATE backfill_intervals SET run_id = $3 WHERE backfill_id = $1 AND position = $2', [
    backfillId,
    position,
    runId,
  ]);
}

/** Ends a running backfill: done (every run ended) or cancelled. */
export async function finishBackfill(
  tx: Queryable,
  backfillId: string,
  status: 'done' | 'cancelled',
  at: Date,
): Promise<void> {
  await tx.query(`UPDATE backfills SET status = $2, finished_at = $3 WHERE backfill_id = $1 AND status = 'running'`, [
    backfillId,
    status,
    at,
  ]);
}

/** The backfills still running (the scheduler's tick queues what their run ends could not). */
export async function listRunningBackfills(db: Queryable): Promise<string[]> {
  const rows = await db.query<Pick<BackfillsTable, 'backfill_id'>>(
    `SELECT backfill_id FROM backfills WHERE status = 'running' ORDER BY created_at LIMIT 1000`,
  );
  return rows.map((r) => r.backfill_id);
}

/**
 * A backfill's queued runs, locked until the transaction ends (a cancel ends them); those
 * another transaction holds (a claim, a cancel of the run) are skipped, not waited for.
 */
export async function lockQueuedRuns(tx: Queryable, backfillId: string): Promise<string[]> {
  const rows = await tx.query<Pick<RunsTable, 'run_id'>>(
    `SELECT run_id FROM runs WHERE backfill_id = $1 AND status = 'queued' ORDER BY run_id FOR UPDATE SKIP LOCKED`,
    [backfillId],
  );
  return rows.map((r) => r.run_id);
}
