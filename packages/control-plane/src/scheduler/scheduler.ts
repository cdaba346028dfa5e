import type { Database, Queryable } from '@sovereign/protocol/sql';
import type { FastifyBaseLogger } from 'fastify';
import type { LeaseExpiry } from '../leases/expiry.ts';
import type { Dispatcher } from '../runs/dispatcher.ts';
import type { Wakes } from '../runs/lifecycle.ts';
import { enqueueScheduledRuns, type JobForRun, selectJobForRun } from '../runs/store.ts';
import type { JobSchedulesTable, JobsTable } from '../tables.ts';
import { isScheduled, nextDue } from './due-times.ts';

/** Advisory lock that makes one replica at a time run a scheduler tick. */
const schedulerLock = 0x50_56_10;

/**
 * Fires scheduled jobs, and has the leases that ran out expired (leases/expiry.ts) under
 * the same lock. Every replica ticks; an advisory lock lets one of them work at a time,
 * and a unique index on (job, due time) makes each due time fire once whatever happens
 * (restarts, two leaders).
 *
 * Catch-up policy: after downtime, a job fires once for its most recent missed due
 * time, and the older missed times are skipped (like Airflow's catchup=False): a
 * backlog of identical runs helps nobody. Paused jobs skip their due times.
 */
export class Scheduler {
  readonly #db: Database;
  readonly #dispatcher: Dispatcher;
  readonly #log: FastifyBaseLogger;
  readonly #now: () => Date;
  readonly #tickMs: number;
  readonly #leases: LeaseExpiry;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(options: {
    db: Database;
    dispatcher: Dispatcher;
    log: FastifyBaseLogger;
    now: () => Date;
    tickMs: number;
    leases: LeaseExpiry;
  }) {
    this.#db = options.db;
    this.#dispatcher = options.dispatcher;
    this.#log = options.log;
    this.#now = options.now;
    this.#tickMs = options.tickMs;
    this.#leases = options.leases;
  }

  start(): void {
    const loop = () => {
      if (this.#closed) return;
      this.#running = this.tick()
        .then(() => {})
        .catch((error: unknown) => {
          this.#log.error({ err: error instanceof Error ? error.message : String(error) }, 'scheduler tick failed');
        })
        .finally(() => {
          this.#running = undefined;
          if (this.#closed) return;
          // Wake at the next tick boundary, so due times are met within one tick.
          const delay = this.#tickMs - (Date.now() % this.#tickMs);
          this.#timer = setTimeout(loop, delay);
          this.#timer.unref();
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass: returns how many runs it queued. */
  async tick(): Promise<number> {
    const wakes: Wakes = new Set();
    const queued = await this.#db.transaction(async (tx) => {
      const [lock] = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [schedulerLock]);
      if (lock?.ok !== true) return 0;
      const now = this.#now();
      await this.#leases.expire(tx, now, wakes);
      await this.#syncSchedules(tx, now);
      return this.#fireDue(tx, now, wakes);
    });
    for (const dataplaneId of wakes) await this.#dispatcher.wake(dataplaneId);
    return queued;
  }

  /** Gives every live scheduled job a next due time, and starts afresh when its trigger changed. */
  async #syncSchedules(tx: Queryable, now: Date): Promise<void> {
    const jobs = await tx.query<Pick<JobsTable, 'job_id' | 'trigger' | 'timezone'> & { known: boolean; same: boolean }>(
      `SELECT j.job_id, j.trigger, j.timezone, s.job_id IS NOT NULL AS known,
              coalesce(s.trigger = j.trigger AND s.timezone = j.timezone, false) AS same
         FROM jobs j JOIN workspaces w USING (workspace_id)
         LEFT JOIN job_schedules s USING (job_id)
        WHERE j.archived_at IS NULL AND w.deleted_at IS NULL
          AND j.trigger->>'type' IN ('cron', 'every', 'once')
          AND (s.job_id IS NULL OR NOT (s.trigger = j.trigger AND s.timezone = j.timezone))`,
    );
    for (const job of jobs) {
      if (!isScheduled(job.trigger)) continue;
      const next =
        job.trigger.type === 'once' ? new Date(job.trigger.at) : nextDue(job.trigger, job.timezone, now, now);
      await tx.query(
        `INSERT INTO job_schedules (job_id, trigger, timezone, next_due_at, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job_id) DO UPDATE SET trigger = EXCLUDED.trigger, timezone = EXCLUDED.timezone,
           next_due_at = EXCLUDED.next_due_at, updated_at = EXCLUDED.updated_at`,
        [job.job_id, JSON.stringify(job.trigger), job.timezone, next, now],
      );
    }
  }

  async #fireDue(tx: Queryable, now: Date, wakes: Wakes): Promise<number> {
    const due = await tx.query<JobSchedulesTable>(
      `SELECT s.* FROM job_schedules s JOIN jobs j USING (job_id)
        WHERE s.next_due_at <= $1 AND j.archived_at IS NULL
        ORDER BY s.next_due_at LIMIT 10000`,
      [now],
    );
    if (due.length === 0) return 0;
    const jobs = await tx.query<JobForRun>(`${selectJobForRun} WHERE j.job_id = ANY($1::uuid[])`, [
      due.map((d) => d.job_id),
    ]);
    const byId = new Map(jobs.map((j) => [j.job_id, j]));
    const fires: Array<{ job: JobForRun; scheduledFor: Date }> = [];
    const nextDues: Array<{ jobId: string; next: Date | null }> = [];
    for (const schedule of due) {
      const job = byId.get(schedule.job_id);
      if (job === undefined || schedule.next_due_at === null) continue;
      // The most recent due time at or before now; older missed ones are skipped.
      let fireAt = schedule.next_due_at;
      let next = nextDue(schedule.trigger, schedule.timezone, fireAt, schedule.updated_at);
      while (next !== null && next.getTime() <= now.getTime()) {
        fireAt = next;
        next = nextDue(schedule.trigger, schedule.timezone, fireAt, schedule.updated_at);
      }
      if (!job.paused) fires.push({ job, scheduledFor: fireAt });
      nextDues.push({ jobId: schedule.job_id, next });
    }
    // One statement for the runs and one for the next due times, however many are due.
    const queued = await enqueueScheduledRuns(tx, fires);
    for (const run of queued) wakes.add(run.dataplaneId);
    await tx.query(
      `UPDATE job_schedules s SET next_due_at = f.next
         FROM unnest($1::uuid[], $2::timestamptz[]) AS f(job_id, next) WHERE s.job_id = f.job_id`,
      [nextDues.map((d) => d.jobId), nextDues.map((d) => d.next?.toISOString() ?? null)],
    );
    return queued.length;
  }
}
