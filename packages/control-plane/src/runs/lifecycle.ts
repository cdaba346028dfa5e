import { isTerminal, type RunEvent, type RunStatus } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import { advanceBackfill } from '../backfills/progress.ts';
import { lockBackfill } from '../backfills/store.ts';
import { findDependentJobs, findJobsToRun, type JobToRun } from '../jobs/store.ts';
import type { RunsTable } from '../tables.ts';
import { retryDelayMs } from './retry-delay.ts';
import {
  enqueueRun,
  finishRun,
  hasQueuedRun,
  insertRunEvent,
  lockRunForEvent,
  lockRunsForEvents,
  markRunning,
  markStarted,
} from './store.ts';
import type { Wakes } from './wakes.ts';

export type { Wakes } from './wakes.ts';

/**
 * A batch run its data plane stopped on purpose (a restart): cancelled, as it is not the
 * job's failure, but retried like one when attempts are left, since nobody asked for it
 * to stop. An app stopped so has simply ended.
 */
function stoppedByShutdown(run: RunsTable, job: JobToRun): boolean {
  return run.status === 'cancelled' && run.reason_code === 'dataplane_shutdown' && job.kind === 'batch';
}

/**
 * Everything that follows a run's end, in the same transaction: another attempt when
 * the job has retries left (failures, timeouts, lost leases and batch runs stopped by a
 * data plane's shutdown; never a cancel asked for), or, once the outcome is final, the
 * jobs that run `after` this one.
 */
export async function afterRunEnded(tx: Queryable, run: RunsTable, wakes: Wakes, now: Date): Promise<void> {
  // A backfill's run: its backfill is locked first (the lock order of backfills/progress.ts),
  // and queues its next run once this one's retry, if any, is queued.
  if (run.backfill_id !== null) await lockBackfill(tx, run.backfill_id);
  await followRun(tx, run, wakes, now);
  if (run.backfill_id !== null) await advanceBackfill(tx, run.backfill_id, wakes, now);
}

async function followRun(tx: Queryable, run: RunsTable, wakes: Wakes, now: Date): Promise<void> {
  const [job] = await findJobsToRun(tx, [run.job_id]);
  if (job === undefined) return;
  const retryable =
    run.status === 'failed' || run.status === 'timed_out' || run.status === 'lost' || stoppedByShutdown(run, job);
  if (retryable && run.attempt <= job.retries && job.archived_at === null) {
    // A failure waits its delay (what failed may need the time to recover), shown as
    // the retry's `scheduledFor` and not claimed before; the scheduler wakes its data
    // plane then. A run a restart interrupted failed at nothing: it goes again at once.
    const delayMs = stoppedByShutdown(run, job) ? 0 : retryDelayMs(job, run.attempt);
    const retry = await enqueueRun(tx, job, {
      trigger: 'retry',
      attempt: run.attempt + 1,
      rootRunId: run.root_run_id,
      createdBy: run.created_by,
      // Another attempt of the same run: the same parameters.
      parametersId: run.parameters_id,
      scheduledFor: delayMs > 0 ? new Date(now.getTime() + delayMs) : null,
      // A retry covers the same interval, for the same backfill.
      interval:
        run.interval_start === null || run.interval_end === null
          ? null
          : { start: run.interval_start, end: run.interval_end },
      backfillId: run.backfill_id,
    });
    if (retry !== undefined) {
      if (delayMs === 0) wakes.add(retry.dataplaneId, job.kind);
      return;
    }
  }
  const outcome = run.status === 'succeeded' ? 'success' : run.status === 'cancelled' ? 'none' : 'failure';
  for (const dependent of await findDependentJobs(tx, run.workspace_id, job.name, outcome)) {
    const queued = await enqueueRun(tx, dependent, { trigger: 'after', createdBy: run.created_by });
    if (queued !== undefined) wakes.add(queued.dataplaneId, dependent.kind);
  }
  // A run of its workspace may have waited for this one's room (the workspace's limit):
  // a claim held open meanwhile is woken to take it.
  // The workspace's limit counts batch runs only.
  if (job.kind === 'batch' && (await hasQueuedRun(tx, run.dataplane_id, run.workspace_id))) {
    wakes.add(run.dataplane_id, 'batch');
  }
}

/** Moves a run to a final status and runs what follows; a run that already ended stays as it is. */
export async function endRun(
  tx: Queryable,
  runId: string,
  status: RunStatus,
  fields: { exitCode?: number | null; reasonCode: string; at?: Date; seq?: number },
  wakes: Wakes,
  now: Date,
): Promise<boolean> {
  const ended = await finishRun(tx, runId, status, {
    exitCode: fields.exitCode ?? null,
    reasonCode: fields.reasonCode,
    at: fields.at ?? new Date(),
    ...(fields.seq === undefined ? {} : { seq: fields.seq }),
  });
  if (ended === undefined) return false;
  await afterRunEnded(tx, ended, wakes, now);
  return true;
}

/**
 * Applies one event from a data plane instance. Idempotent by (runId, seq); refused
 * (fenced) when the instance no longer holds the run's lease, so a process that was
 * taken over cannot report, and is told to stop.
 */
export async function applyRunEvent(
  tx: Queryable,
  dataplaneId: string,
  instanceId: string,
  event: RunEvent,
  wakes: Wakes,
  now: Date,
): Promise<'accepted' | 'fenced'> {
  const run = await lockRunForEvent(tx, event.runId, dataplaneId, event.seq);
  if (run === undefined) return 'fenced';
  if (run.event_recorded) return 'accepted';
  if (isTerminal(run.status)) {
    // Late, from the instance that held the run to its end: history, not a change of outcome.
    // A lost run's holder is another matter: it must stop, as a retry may be running.
    if (run.status === 'lost' || run.last_instance_id !== instanceId) return 'fenced';
    await insertRunEvent(tx, instanceId, event, { late: true });
    if (event.status === 'running') await markStarted(tx, event.runId, event.at);
    return 'accepted';
  }
  if (run.lease_instance_id !== instanceId) return 'fenced';
  await insertRunEvent(tx, instanceId, event, { late: false });
  if (event.status === 'running') {
    await markRunning(tx, event.runId, event.at, event.seq);
    return 'accepted';
  }
  await endRun(
    tx,
    event.runId,
    event.status,
    {
      exitCode: event.exitCode ?? null,
      reasonCode: event.reasonCode ?? 'internal_error',
      at: new Date(event.at),
      seq: event.seq,
    },
    wakes,
    now,
  );
  return 'accepted';
}

/**
 * Applies a data plane instance's batch of events in order, in the caller's transaction.
 * The batch's runs are locked first, in run id order (a heartbeat renewing their leases
 * locks them so too: two orders would deadlock).
 */
export async function applyRunEvents(
  tx: Queryable,
  dataplaneId: string,
  instanceId: string,
  events: RunEvent[],
  wakes: Wakes,
  now: Date,
): Promise<{ accepted: Array<{ runId: string; seq: number }>; fenced: string[] }> {
  const runIds = [...new Set(events.map((event) => event.runId))];
  if (runIds.length > 1) await lockRunsForEvents(tx, dataplaneId, runIds);
  const accepted: Array<{ runId: string; seq: number }> = [];
  const fenced = new Set<string>();
  for (const event of events) {
    const outcome = await applyRunEvent(tx, dataplaneId, instanceId, event, wakes, now);
    if (outcome === 'accepted') accepted.push({ runId: event.runId, seq: event.seq });
    else fenced.add(event.runId);
  }
  return { accepted, fenced: [...fenced] };
}
