import { isTerminal, type RunEvent, type RunStatus } from '@sovereign/protocol';
import type { Queryable } from '@sovereign/protocol/sql';
import type { RunsTable } from '../tables.ts';
import { enqueueRun, type JobForRun, selectJobForRun } from './store.ts';

/** Data planes to wake after the transaction that queued their runs commits. */
export type Wakes = Set<string>;

/**
 * Everything that follows a run's end, in the same transaction: another attempt when
 * the job has retries left (failures, timeouts and lost leases; never a cancel), or,
 * once the outcome is final, the jobs that run `after` this one.
 */
export async function afterRunEnded(tx: Queryable, run: RunsTable, wakes: Wakes): Promise<void> {
  const [job] = await tx.query<JobForRun>(`${selectJobForRun} WHERE j.job_id = $1`, [run.job_id]);
  if (job === undefined) return;
  const retryable = run.status === 'failed' || run.status === 'timed_out' || run.status === 'lost';
  if (retryable && run.attempt <= job.retries && job.archived_at === null) {
    const retry = await enqueueRun(tx, job, {
      trigger: 'retry',
      attempt: run.attempt + 1,
      rootRunId: run.root_run_id,
      createdBy: run.created_by,
    });
    if (retry !== undefined) {
      wakes.add(retry.dataplaneId);
      return;
    }
  }
  const outcome = run.status === 'succeeded' ? 'success' : run.status === 'cancelled' ? null : 'failure';
  const dependents = await tx.query<JobForRun>(
    `${selectJobForRun}
      WHERE j.workspace_id = $1 AND j.archived_at IS NULL AND NOT j.paused
        AND j.trigger->>'type' = 'after' AND j.trigger->>'job' = $2
        AND (j.trigger->>'on' = 'completion' OR j.trigger->>'on' = $3)`,
    [run.workspace_id, job.name, outcome ?? 'none'],
  );
  for (const dependent of dependents) {
    const queued = await enqueueRun(tx, dependent, { trigger: 'after', createdBy: run.created_by });
    if (queued !== undefined) wakes.add(queued.dataplaneId);
  }
  // A run of its workspace may have waited for this one's room (the workspace's limit):
  // a claim held open meanwhile is woken to take it.
  const [waiting] = await tx.query(
    `SELECT 1 FROM runs WHERE dataplane_id = $1 AND status = 'queued' AND workspace_id = $2 LIMIT 1`,
    [run.dataplane_id, run.workspace_id],
  );
  if (waiting !== undefined) wakes.add(run.dataplane_id);
}

/** Moves a run to a final status and runs what follows; a run that already ended stays as it is. */
export async function endRun(
  tx: Queryable,
  runId: string,
  status: RunStatus,
  fields: { exitCode?: number | null; reasonCode: string; at?: Date },
  wakes: Wakes,
): Promise<boolean> {
  const [ended] = await tx.query<RunsTable>(
    `UPDATE runs SET status = $2, exit_code = $3, reason_code = $4, finished_at = $5,
            lease_instance_id = NULL, lease_expires_at = NULL
      WHERE run_id = $1 AND status NOT IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost')
      RETURNING *`,
    [runId, status, fields.exitCode ?? null, fields.reasonCode, fields.at ?? new Date()],
  );
  if (ended === undefined) return false;
  await afterRunEnded(tx, ended, wakes);
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
): Promise<'accepted' | 'fenced'> {
  const [seen] = await tx.query('SELECT 1 FROM run_events WHERE run_id = $1 AND seq = $2', [event.runId, event.seq]);
  if (seen !== undefined) return 'accepted';
  const [run] = await tx.query<RunsTable>('SELECT * FROM runs WHERE run_id = $1 AND dataplane_id = $2 FOR UPDATE', [
    event.runId,
    dataplaneId,
  ]);
  if (run === undefined) return 'fenced';
  if (isTerminal(run.status)) {
    // Late, from the instance that held the run to its end: history, not a change of outcome.
    // A lost run's holder is another matter: it must stop, as a retry may be running.
    if (run.status === 'lost' || run.last_instance_id !== instanceId) return 'fenced';
    await tx.query(
      `INSERT INTO run_events (run_id, seq, status, exit_code, reason_code, instance_id, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [event.runId, event.seq, event.status, event.exitCode ?? null, event.reasonCode ?? null, instanceId, event.at],
    );
    if (event.status === 'running') {
      await tx.query('UPDATE runs SET started_at = coalesce(started_at, $2) WHERE run_id = $1', [
        event.runId,
        event.at,
      ]);
    }
    return 'accepted';
  }
  if (run.lease_instance_id !== instanceId) return 'fenced';
  await tx.query(
    `INSERT INTO run_events (run_id, seq, status, exit_code, reason_code, instance_id, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [event.runId, event.seq, event.status, event.exitCode ?? null, event.reasonCode ?? null, instanceId, event.at],
  );
  await tx.query('UPDATE runs SET last_seq = greatest(last_seq, $2) WHERE run_id = $1', [event.runId, event.seq]);
  if (event.status === 'running') {
    await tx.query(
      `UPDATE runs SET status = 'running', started_at = coalesce(started_at, $2) WHERE run_id = $1 AND status = 'claimed'`,
      [event.runId, event.at],
    );
    return 'accepted';
  }
  await endRun(
    tx,
    event.runId,
    event.status,
    { exitCode: event.exitCode ?? null, reasonCode: event.reasonCode ?? 'internal_error', at: new Date(event.at) },
    wakes,
  );
  return 'accepted';
}
