import {
  type ClaimedRun,
  InternalRoutes,
  protocolVersion,
  type ReasonCode,
  type RunEvent,
  type RunEventsRequest,
} from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { OutboxKind } from '../outbox/outbox.ts';
import type { Row } from '../storage/tables.ts';

/**
 * Run events of one instance travel together: the running and final events of short runs
 * are one call and one transaction at the control plane, not one each.
 */
export const runEventKind: OutboxKind<RunEventsRequest> = {
  kind: 'run_event',
  route: InternalRoutes.runEvents,
  merge: {
    key: (payload) => payload.instanceId,
    payloads: ([first, ...rest]) => {
      if (first === undefined) throw new Error('no run events to merge');
      return { ...first, events: [first, ...rest].flatMap((p) => p.events) };
    },
  },
};

export type ReportedStatus = RunEvent['status'];

/** A run as this data plane keeps it: its row, every column. */
export type LocalRun = Row<'runs'>;

export const terminalLocal = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'abandoned']);

/**
 * Records a claimed run here before anything runs, so its logs and outputs have a home,
 * and reads its job's saved state (undefined when there is none) in the same statement:
 * both are on the start path of every run, where PGlite answers one query at a time.
 */
export async function recordClaim(
  db: Queryable,
  run: ClaimedRun,
  instanceId: string,
): Promise<{ state: unknown } | undefined> {
  // A data-modifying WITH runs to completion whether or not the query reads it.
  // Its job's state, or null (LEFT JOIN) when the job saved none.
  const [row] = await db.query<Row<'job_state', 'state'>>(
    `WITH claimed AS (
       INSERT INTO runs (run_id, workspace_id, job_name, deployment_id, attempt, kind, instance_id, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'claimed')
       ON CONFLICT (run_id) DO UPDATE SET instance_id = EXCLUDED.instance_id, status = 'claimed'
     )
     SELECT s.state FROM (SELECT 1) AS one
       LEFT JOIN job_state s ON s.workspace_id = $2 AND s.job_name = $3`,
    [run.runId, run.workspaceId, run.jobName, run.deploymentId, run.attempt, run.kind, instanceId],
  );
  return row?.state === null || row?.state === undefined ? undefined : { state: row.state };
}

/**
 * Moves a run to a status here and, in the same statement, puts the event for the
 * control plane in the outbox: the status, the exit code and a reason code, never
 * text from the job (R5). Returns the event's sequence number. One statement (a
 * data-modifying WITH is atomic) where a transaction took four round trips: it is on
 * the path of every run, twice.
 */
export async function recordStatus(
  db: Queryable,
  runId: string,
  instanceId: string,
  status: ReportedStatus,
  fields: { exitCode?: number | null; reasonCode?: ReasonCode; pgid?: number; at?: Date },
): Promise<number> {
  // A run's times are its process's: running from when it started, ended when it ended
  // (not when its outputs were collected or its app first answered). Its duration, the
  // one every client shows, is the difference.
  const at = fields.at ?? new Date();
  const event: Omit<RunEvent, 'seq'> = {
    runId,
    status,
    at: at.toISOString(),
    ...(fields.exitCode === undefined ? {} : { exitCode: fields.exitCode }),
    ...(fields.reasonCode === undefined ? {} : { reasonCode: fields.reasonCode }),
  };
  const message: Omit<RunEventsRequest, 'events'> & { events: Array<Omit<RunEvent, 'seq'>> } = {
    protocolVersion,
    instanceId,
    events: [event],
  };
  const [row] = await db.query<Row<'runs', 'last_seq'>>(
    `WITH moved AS (
       UPDATE runs SET status = $2, last_seq = last_seq + 1,
              exit_code = coalesce($3, exit_code), reason_code = coalesce($4, reason_code), pgid = coalesce($5, pgid),
              started_at = CASE WHEN $2 = 'running' THEN $6 ELSE started_at END,
              finished_at = CASE WHEN $2 <> 'running' THEN $6 ELSE finished_at END
        WHERE run_id = $1 RETURNING last_seq
     ), queued AS (
       INSERT INTO outbox (kind, idempotency_key, group_key, payload)
       SELECT $7, 'run:' || $1 || ':' || moved.last_seq, 'run:' || $1,
              jsonb_set($8::jsonb, '{events,0,seq}', to_jsonb(moved.last_seq))
         FROM moved
       ON CONFLICT (idempotency_key) DO NOTHING
     )
     SELECT last_seq FROM moved`,
    [
      runId,
      status,
      fields.exitCode ?? null,
      fields.reasonCode ?? null,
      fields.pgid ?? null,
      at,
      runEventKind.kind,
      JSON.stringify(message),
    ],
  );
  if (row === undefined) throw new Error(`no local run ${runId}`);
  return row.last_seq;
}

export async function localRun(db: Queryable, runId: string): Promise<LocalRun | undefined> {
  const [row] = await db.query<LocalRun>('SELECT * FROM runs WHERE run_id = $1', [runId]);
  return row;
}

/** Marks this instance alive, for the orphan sweep of the other instances. */
export async function touchInstance(db: Queryable, instanceId: string): Promise<void> {
  await db.query(
    `INSERT INTO instances (instance_id, last_seen) VALUES ($1, now())
     ON CONFLICT (instance_id) DO UPDATE SET last_seen = now()`,
    [instanceId],
  );
}

/** Instances of this data plane seen in the last `staleSeconds`. */
export async function liveInstances(db: Queryable, staleSeconds: number): Promise<Set<string>> {
  const rows = await db.query<Row<'instances', 'instance_id'>>(
    `SELECT instance_id FROM instances WHERE last_seen > now() - ($1::int * interval '1 second')`,
    [staleSeconds],
  );
  return new Set(rows.map((r) => r.instance_id));
}

/**
 * Runs whose instance has not been seen for `staleSeconds` died with it: they end here
 * as abandoned (their followers stop waiting); the control plane ends them as lost
 * when their lease lapses, and retries them if the job allows.
 */
export async function sweepOrphans(db: Queryable, staleSeconds: number): Promise<string[]> {
  const rows = await db.query<Row<'runs', 'run_id'>>(
    `UPDATE runs SET status = 'abandoned', finished_at = now()
      WHERE status IN ('claimed', 'running')
        AND instance_id NOT IN (SELECT instance_id FROM instances
                                 WHERE last_seen > now() - ($1::int * interval '1 second'))
      RETURNING run_id`,
    [staleSeconds],
  );
  return rows.map((r) => r.run_id);
}
