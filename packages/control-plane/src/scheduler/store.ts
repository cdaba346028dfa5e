import type { Queryable } from '@sovereign/server-kit/sql';
import { workspaceMoved } from '../jobs/store.ts';
import type { JobSchedulesTable, JobsTable } from '../tables.ts';

/** A workspace moved to another region: its schedules stopped when the move started (issue 22). */
const notMoved = `NOT ${workspaceMoved}`;

/**
 * Live scheduled jobs whose schedule is missing or was computed for another trigger or
 * time zone: the scheduler gives them a next due time, afresh. A moved workspace's jobs
 * get none.
 */
export async function listSchedulesToSync(
  db: Queryable,
): Promise<Array<Pick<JobsTable, 'job_id' | 'trigger' | 'timezone'>>> {
  return db.query<Pick<JobsTable, 'job_id' | 'trigger' | 'timezone'>>(
    `SELECT j.job_id, j.trigger, j.timezone
       FROM jobs j JOIN workspaces w USING (workspace_id)
       LEFT JOIN job_schedules s USING (job_id)
      WHERE j.archived_at IS NULL AND w.deleted_at IS NULL AND ${notMoved}
        AND j.trigger->>'type' IN ('cron', 'every', 'once')
        AND (s.job_id IS NULL OR NOT (s.trigger = j.trigger AND s.timezone = j.timezone))`,
  );
}

/** Starts a job's schedule afresh: its trigger and time zone as now, and its next due time. */
export async function upsertSchedule(
  tx: Queryable,
  schedule: Pick<JobSchedulesTable, 'job_id' | 'trigger' | 'timezone' | 'next_due_at' | 'updated_at'>,
): Promise<void> {
  await tx.query(
    `INSERT INTO job_schedules (job_id, trigger, timezone, next_due_at, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (job_id) DO UPDATE SET trigger = EXCLUDED.trigger, timezone = EXCLUDED.timezone,
       next_due_at = EXCLUDED.next_due_at, updated_at = EXCLUDED.updated_at`,
    [schedule.job_id, JSON.stringify(schedule.trigger), schedule.timezone, schedule.next_due_at, schedule.updated_at],
  );
}

/**
 * The schedules of live jobs due at `now`, the earliest first (10,000 at most a tick).
 * A moved workspace's are dropped when its move starts; the check here holds anyway.
 */
export async function listDueSchedules(db: Queryable, now: Date): Promise<JobSchedulesTable[]> {
  return db.query<JobSchedulesTable>(
    `SELECT s.* FROM job_schedules s JOIN jobs j USING (job_id)
      WHERE s.next_due_at <= $1 AND j.archived_at IS NULL AND ${notMoved}
      ORDER BY s.next_due_at LIMIT 10000`,
    [now],
  );
}

/** Stops a workspace's schedules: its jobs' due times are forgotten (a moved workspace's, for good). */
export async function deleteWorkspaceSchedules(tx: Queryable, workspaceId: string): Promise<void> {
  await tx.query('DELETE FROM job_schedules WHERE job_id IN (SELECT job_id FROM jobs WHERE workspace_id = $1)', [
    workspaceId,
  ]);
}

/** Moves schedules to their next due times (null: none left), in one statement however many. */
export async function setNextDueTimes(
  tx: Queryable,
  nextDues: ReadonlyArray<{ jobId: string; next: Date | null }>,
): Promise<void> {
  await tx.query(
    `UPDATE job_schedules s SET next_due_at = f.next
       FROM unnest($1::uuid[], $2::timestamptz[]) AS f(job_id, next) WHERE s.job_id = f.job_id`,
    [nextDues.map((d) => d.jobId), nextDues.map((d) => d.next?.toISOString() ?? null)],
  );
}
