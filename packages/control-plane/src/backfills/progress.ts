import type { Queryable } from '@sovereign/server-kit/sql';
import { findJobsToRun } from '../jobs/store.ts';
import { enqueueRun } from '../runs/store.ts';
import type { Wakes } from '../runs/wakes.ts';
import { countActiveRuns, finishBackfill, lockBackfill, nextIntervals, setIntervalRun } from './store.ts';

/**
 * Queues a backfill's next runs, in order, while fewer than its max_running are queued,
 * claimed or running, and marks it done once every interval's run ended. Called when it
 * is created, when one of its runs ends (in that transaction), and by the scheduler's
 * tick (a run the job's own max_running held back). The backfill's row lock makes two
 * callers (two control plane replicas) take turns, so neither sees room the other took.
 *
 * Lock order, everywhere: a run's row, then its backfill's row, then the job's advisory
 * lock of runsAtLimit; a run's end locks the backfill before it queues a retry, and a
 * cancel of the backfill locks its queued runs after it with SKIP LOCKED (never waiting).
 */
export async function advanceBackfill(tx: Queryable, backfillId: string, wakes: Wakes, now: Date): Promise<void> {
  const backfill = await lockBackfill(tx, backfillId);
  if (backfill === undefined || backfill.status !== 'running') return;
  let active = await countActiveRuns(tx, backfillId);
  const next = active < backfill.max_running ? await nextIntervals(tx, backfillId, backfill.max_running - active) : [];
  if (next.length > 0) {
    const [job] = await findJobsToRun(tx, [backfill.job_id]);
    if (job === undefined || job.archived_at !== null || job.workspace_moved) {
      // Its job left the deployment, or its workspace moved to another region: nothing more can run.
      await finishBackfill(tx, backfillId, 'cancelled', now);
      return;
    }
    for (const interval of next) {
      const queued = await enqueueRun(tx, job, {
        trigger: 'backfill',
        createdBy: backfill.created_by,
        interval: { start: interval.interval_start, end: interval.interval_end },
        backfillId,
      });
      // The job is at its own max_running: the rest wait for a later run end or tick.
      if (queued === undefined) break;
      await setIntervalRun(tx, backfillId, interval.position, queued.runId);
      wakes.add(queued.dataplaneId, 'batch');
      active++;
    }
  }
  if (active === 0 && (await nextIntervals(tx, backfillId, 1)).length === 0) {
    await finishBackfill(tx, backfillId, 'done', now);
  }
}
