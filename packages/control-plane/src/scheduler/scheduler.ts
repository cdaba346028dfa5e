import type { JobTrigger } from '@sovereign/contract';
import type { Database, Queryable } from '@sovereign/server-kit/sql';
import type { FastifyBaseLogger } from 'fastify';
import { advanceBackfill } from '../backfills/progress.ts';
import { listRunningBackfills } from '../backfills/store.ts';
import { findJobsToRun } from '../jobs/store.ts';
import type { LeaseExpiry } from '../leases/expiry.ts';
import { LockKeys, tryLockForTransaction } from '../locks.ts';
import type { Dispatcher } from '../runs/dispatcher.ts';
import { dataplanesWithRetriesDue, enqueueScheduledRuns, type ScheduledFire } from '../runs/store.ts';
import { Wakes } from '../runs/wakes.ts';
import { dueOrError, intervalEndingAt, isScheduled, nextDue } from './due-times.ts';
import { listDueSchedules, listSchedulesToSync, setNextDueTimes, upsertSchedule } from './store.ts';

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
  /** The clock at the last tick that did the work: retries due since then wake their data planes. */
  #lastTick: Date | undefined;
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
          this.#log.error({ err: error }, 'scheduler tick failed');
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
    const wakes = new Wakes();
    const queued = await this.#db.transaction(async (tx) => {
      if (!(await tryLockForTransaction(tx, LockKeys.scheduler))) return 0;
      const now = this.#now();
      await this.#leases.expire(tx, now, wakes);
      await this.#syncSchedules(tx, now);
      // A clock that went back (or a first tick) looks one tick back.
      const last = this.#lastTick;
      const since = last !== undefined && last <= now ? last : new Date(now.getTime() - this.#tickMs);
      this.#lastTick = now;
      for (const dataplaneId of await dataplanesWithRetriesDue(tx, since, now)) wakes.add(dataplaneId);
      const fired = await this.#fireDue(tx, now, wakes);
      // A backfill's runs are queued as its runs end; a run its job's own max_running held
      // back then is queued here.
      for (const backfillId of await listRunningBackfills(tx)) await advanceBackfill(tx, backfillId, wakes, now);
      return fired;
    });
    for (const [dataplaneId, what] of wakes) await this.#dispatcher.wake(dataplaneId, what);
    return queued;
  }

  /**
   * A job's next due time as `compute` gives it, or null (never again) when it cannot be
   * computed (due-times.ts, dueOrError): one such job must never fail the tick, which
   * would stop every organization's schedules and lease expiries; it is logged instead.
   */
  #nextDue(job: { job_id: string; trigger: JobTrigger }, compute: () => Date | null): Date | null {
    const due = dueOrError(job.trigger, compute);
    if ('next' in due) return due.next;
    this.#log.error({ jobId: job.job_id, err: due.error }, 'the job’s schedule cannot be computed: it does not fire');
    return null;
  }

  /** Gives every live scheduled job a next due time, and starts afresh when its trigger changed. */
  async #syncSchedules(tx: Queryable, now: Date): Promise<void> {
    for (const job of await listSchedulesToSync(tx)) {
      if (!isScheduled(job.trigger)) continue;
      const { trigger, timezone } = job;
      // A `once` is due at its time, even one already past at first sight.
      const next = this.#nextDue(job, () =>
        trigger.type === 'once' ? new Date(trigger.at) : nextDue(trigger, timezone, now, now),
      );
      await upsertSchedule(tx, { ...job, next_due_at: next, updated_at: now });
    }
  }

  async #fireDue(tx: Queryable, now: Date, wakes: Wakes): Promise<number> {
    const due = await listDueSchedules(tx, now);
    if (due.length === 0) return 0;
    const jobs = await findJobsToRun(
      tx,
      due.map((d) => d.job_id),
    );
    const byId = new Map(jobs.map((j) => [j.job_id, j]));
    const fires: ScheduledFire[] = [];
    const nextDues: Array<{ jobId: string; next: Date | null }> = [];
    for (const schedule of due) {
      const job = byId.get(schedule.job_id);
      if (job === undefined || schedule.next_due_at === null) continue;
      // The most recent due time at or before now; older missed ones are skipped.
      let fireAt = schedule.next_due_at;
      const after = (at: Date) =>
        this.#nextDue(schedule, () => nextDue(schedule.trigger, schedule.timezone, at, schedule.updated_at));
      let next = after(fireAt);
      while (next !== null && next.getTime() <= now.getTime()) {
        fireAt = next;
        next = after(fireAt);
      }
      // The run covers its schedule's interval ending at its due time (skipped ones too:
      // catch-up does not widen it).
      const interval = intervalEndingAt(schedule.trigger, schedule.timezone, fireAt);
      if (!job.paused && !job.workspace_moved) fires.push({ job, scheduledFor: fireAt, interval });
      nextDues.push({ jobId: schedule.job_id, next });
    }
    // One statement for the runs and one for the next due times, however many are due.
    const queued = await enqueueScheduledRuns(tx, fires);
    for (const run of queued) wakes.add(run.dataplaneId);
    await setNextDueTimes(tx, nextDues);
    return queued.length;
  }
}
