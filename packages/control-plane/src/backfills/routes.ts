import { randomUUID } from 'node:crypto';
import {
  Backfill,
  BackfillList,
  BackfillRequest,
  Closed,
  ErrorCode,
  maxBackfillIntervals,
  type Role,
  Uuid,
} from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { ConflictProblem, HttpProblem, NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { type AuditEntry, audited, userAuthor } from '../audit/record.ts';
import { requireRole } from '../auth/access.ts';
import { type Principal, principalOf } from '../auth/principal.ts';
import { type Deps, iso, isoOrNull } from '../context.ts';
import { jobFor } from '../jobs/access.ts';
import { assertNotMoved } from '../moves/guard.ts';
import { endRun } from '../runs/lifecycle.ts';
import { Wakes } from '../runs/wakes.ts';
import { intervalsWithin } from '../scheduler/due-times.ts';
import { advanceBackfill } from './progress.ts';
import {
  type BackfillRow,
  findBackfill,
  findLiveBackfill,
  finishBackfill,
  insertBackfill,
  intervalsCovered,
  listJobBackfills,
  lockBackfill,
  lockQueuedRuns,
} from './store.ts';

const tags = ['Backfills'];

const backfillNotFound = () => new NotFoundProblem(ErrorCode.backfillNotFound, 'No such backfill.');

/** A refusal of what a request asks, well formed as it is (422). */
const unprocessable = (code: ErrorCode, detail: string, extensions?: Record<string, unknown>) =>
  new HttpProblem(422, code, detail, extensions);

function toBackfill(row: BackfillRow) {
  return {
    backfillId: row.backfill_id,
    jobId: row.job_id,
    jobName: row.job_name,
    workspaceId: row.workspace_id,
    from: iso(row.range_from),
    to: iso(row.range_to),
    maxRunning: row.max_running,
    force: row.force,
    status: row.status,
    intervals: row.intervals,
    toRun: row.intervals - row.skipped,
    skipped: row.skipped,
    succeeded: row.succeeded,
    failed: row.failed,
    active: row.active,
    waiting: row.waiting,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    finishedAt: isoOrNull(row.finished_at),
  };
}

/** A backfill of a live workspace whose organization the caller holds `minimum` in; else not found. */
async function backfillFor(db: Queryable, principal: Principal, backfillId: string, minimum: Role) {
  const row = await findLiveBackfill(db, backfillId);
  if (row === undefined) throw backfillNotFound();
  await requireRole(db, principal, row.organization_id, minimum, backfillNotFound(), row.workspace_id);
  return row;
}

function backfillEvent(row: { organization_id: string }, action: string, backfillId: string): AuditEntry {
  return { organizationId: row.organization_id, action, targetType: 'backfill', targetId: backfillId };
}

/** Backfills: one run per interval of a job's schedule over a range, a few at a time. */
export async function backfillRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.post(
    '/jobs/:jobId/backfills',
    {
      schema: {
        tags,
        summary: 'Backfill a range of a job’s schedule: one run per interval (members and up)',
        description: `The intervals are the schedule's own (a cron's consecutive fire times in the job's time zone, or an every schedule's steps, as scheduled runs cover them) that lie within [from, to]: start ≥ from and end ≤ to. One run is queued per interval, in order, at most maxRunning (default 2) of them queued, claimed or running at once; each sees its interval as SOV_INTERVAL_START and SOV_INTERVAL_END. Intervals for which a run of the job succeeded are skipped unless force is set, and so are those with a run going. A backfill with nothing to run is done at once. Pausing the job does not hold its backfills back (a pause skips due times only); archiving it cancels them. 422: backfill_range_invalid (from is not before to), backfill_too_large (more than ${maxBackfillIntervals} intervals), job_not_scheduled (a manual, after or once trigger has no intervals).`,
        params: Closed({ jobId: Uuid }),
        body: BackfillRequest,
        response: { 200: Backfill },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const job = await jobFor(db, principal, request.params.jobId, 'member');
      if (job.archived_at !== null) {
        throw new ConflictProblem(ErrorCode.jobArchived, 'The job is archived: it is no longer in the deployment.');
      }
      await assertNotMoved(db, job.workspace_id, 'It starts no new backfill');
      const from = new Date(request.body.from);
      const to = new Date(request.body.to);
      if (!(from.getTime() < to.getTime())) {
        throw unprocessable(ErrorCode.backfillRangeInvalid, 'The backfill’s from must be before its to.');
      }
      const intervals = intervalsWithin(
        job.trigger,
        job.timezone,
        { from, to },
        job.schedule_anchor ?? new Date(0),
        maxBackfillIntervals,
      );
      if (intervals === null) {
        throw unprocessable(
          ErrorCode.jobNotScheduled,
          `The job ${job.name} has no schedule with intervals (its trigger is ${job.trigger.type}): only cron and every schedules can be backfilled.`,
        );
      }
      if (intervals.length > maxBackfillIntervals) {
        throw unprocessable(
          ErrorCode.backfillTooLarge,
          `The range holds more than ${maxBackfillIntervals} intervals of the job’s schedule: backfill it in parts.`,
          { maxIntervals: maxBackfillIntervals },
        );
      }
      // Same bucket as triggers: a backfill queues runs like them.
      deps.limiter.take([
        { key: `trigger:workspace:${job.workspace_id}`, limit: deps.config.rateLimits.triggersPerWorkspace },
      ]);
      const force = request.body.force ?? false;
      const backfillId = randomUUID();
      const wakes = new Wakes();
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const covered = await intervalsCovered(tx, job.job_id, intervals, force);
        const toRun = intervals.filter((i) => !covered.has(i.end.getTime()));
        await insertBackfill(
          tx,
          {
            backfill_id: backfillId,
            job_id: job.job_id,
            workspace_id: job.workspace_id,
            organization_id: job.organization_id,
            range_from: from,
            range_to: to,
            max_running: request.body.maxRunning ?? 2,
            force,
            intervals: intervals.length,
            skipped: intervals.length - toRun.length,
            status: 'running',
            created_by: principal.userId,
          },
          toRun,
        );
        await advanceBackfill(tx, backfillId, wakes, deps.now());
        return { result: await findBackfill(tx, backfillId), audit: backfillEvent(job, 'backfill.create', backfillId) };
      });
      if (row === undefined) throw backfillNotFound();
      for (const [dataplaneId, what] of wakes) await deps.dispatcher.wake(dataplaneId, what);
      return toBackfill(row);
    },
  );

  app.get(
    '/jobs/:jobId/backfills',
    {
      schema: {
        tags,
        summary: 'A job’s backfills, newest first (its newest 100)',
        params: Closed({ jobId: Uuid }),
        response: { 200: BackfillList },
      },
    },
    async (request) => {
      const job = await jobFor(db, principalOf(request), request.params.jobId, 'viewer');
      return { data: (await listJobBackfills(db, job.job_id, 100)).map(toBackfill) };
    },
  );

  app.get(
    '/backfills/:backfillId',
    {
      schema: {
        tags,
        summary: 'Get a backfill, with how its intervals stand',
        params: Closed({ backfillId: Uuid }),
        response: { 200: Backfill },
      },
    },
    async (request) => toBackfill(await backfillFor(db, principalOf(request), request.params.backfillId, 'viewer')),
  );

  app.post(
    '/backfills/:backfillId/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a backfill: its queued runs are cancelled and no more are queued (runs going finish)',
        params: Closed({ backfillId: Uuid }),
        response: { 200: Backfill },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const wakes = new Wakes();
      const row = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const found = await backfillFor(tx, principal, request.params.backfillId, 'member');
        // The backfill first: whoever queues its runs holds it, so none is queued after this.
        const backfill = await lockBackfill(tx, found.backfill_id);
        if (backfill?.status === 'running') {
          await finishBackfill(tx, found.backfill_id, 'cancelled', deps.now());
          // Runs another transaction holds are skipped, never waited for (a run's end locks
          // its run, then this backfill): one being claimed runs, one being cancelled ends.
          for (const runId of await lockQueuedRuns(tx, found.backfill_id)) {
            await endRun(tx, runId, 'cancelled', { reasonCode: 'cancelled', at: deps.now() }, wakes, deps.now());
          }
        }
        return {
          result: await findBackfill(tx, found.backfill_id),
          audit: backfill?.status === 'running' ? backfillEvent(found, 'backfill.cancel', found.backfill_id) : [],
        };
      });
      if (row === undefined) throw backfillNotFound();
      for (const dataplaneId of wakes.dataplanes()) await deps.dispatcher.wake(dataplaneId, 'cancels');
      return toBackfill(row);
    },
  );
}
