import type { ClaimResponse } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import { iso } from '../context.ts';
import type { JobsTable, RunsTable } from '../tables.ts';

/** A run as a claim hands it out: under a lease, with its job's name and kind, and the claim's number as text. */
type ClaimedRunRow = Pick<
  RunsTable,
  | 'run_id'
  | 'job_id'
  | 'workspace_id'
  | 'deployment_id'
  | 'attempt'
  | 'timeout_seconds'
  | 'interval_start'
  | 'interval_end'
  | 'parameters_id'
> &
  Pick<JobsTable, 'name' | 'kind'> & {
    lease_expires_at: NonNullable<RunsTable['lease_expires_at']>;
    claim_seq: string;
  };

/** What bounds a claim besides the instance's room. */
export interface ClaimLimits {
  /**
   * Interactive runs the instance has room for, counted apart: `capacity` is then for
   * batch runs only, so long-lived apps never keep batch runs waiting.
   */
  interactiveCapacity?: number;
  /** Batch runs a workspace may have claimed or running at once, unless it has its own limit. */
  workspaceRunLimit: number;
}

/**
 * Hands up to `capacity` queued runs (a retry not before its `scheduled_for`) of a data plane to one of its instances, each under
 * a lease, fairly between workspaces: the workspace with the fewest batch runs going is
 * served first, its oldest run first (round robin, counting what each already has), and
 * never more of a workspace's batch runs active at once than its limit. Forty runs queued
 * by one tenant so wait behind another's one run instead of ahead of it. SKIP LOCKED lets
 * instances (and control plane replicas) claim at once without waiting on each other or
 * handing out a run twice; two instances claiming in the same instant may each see the
 * same room, so a workspace's limit can be passed by one claim's worth then. A data plane
 * that is disabled, in a disabled region, or deleted gets none; so does an instance id of
 * another data plane, or an instance registered at another URL than its data plane's
 * (its heartbeats are refused: it could not keep a lease). One statement, so no
 * transaction around it: a claim is on the start path of every run. The runs of one
 * claim share a number from a database sequence (`claimSeq`), which orders the claims an
 * instance took in against the lists of held runs its heartbeats send.
 */
export async function claimRuns(
  tx: Queryable,
  dataplaneId: string,
  instanceId: string,
  capacity: number,
  leaseSeconds: number,
  now: Date,
  limits: ClaimLimits,
): Promise<Pick<ClaimResponse, 'runs' | 'claimSeq'>> {
  const { interactiveCapacity } = limits;
  if (capacity <= 0 && (interactiveCapacity ?? 0) <= 0) return { runs: [] };
  const rows = await tx.query<ClaimedRunRow>(
    // `seq` calls a volatile function, so it is evaluated once (never inlined), and only
    // when a row is updated.
    `WITH RECURSIVE seq AS (SELECT nextval('run_claim_seq') AS n), accepting AS (
       SELECT 1 FROM dataplanes d JOIN regions g USING (region_id)
        WHERE d.dataplane_id = $1 AND d.enabled AND g.enabled AND NOT d.tombstone
          AND NOT EXISTS (SELECT 1 FROM dataplane_instances i WHERE i.instance_id = $2
                           AND (i.dataplane_id <> $1 OR i.public_url IS DISTINCT FROM d.public_url))
     ), queued_in AS (
       -- The workspaces with runs queued here, an index probe each (a skip scan): the
       -- length of the queue costs nothing. The last row is a NULL, which matches no run.
       (SELECT q.workspace_id FROM runs q
         WHERE EXISTS (SELECT 1 FROM accepting) AND q.dataplane_id = $1 AND q.status = 'queued'
         ORDER BY q.workspace_id LIMIT 1)
       UNION ALL
       SELECT (SELECT q.workspace_id FROM runs q
                WHERE q.dataplane_id = $1 AND q.status = 'queued' AND q.workspace_id > w.workspace_id
                ORDER BY q.workspace_id LIMIT 1)
         FROM queued_in w WHERE w.workspace_id IS NOT NULL
     ), waiting AS (
       -- Each workspace's oldest batch runs that are due, no more than a claim can take,
       -- and their turn within it: 1 for its oldest, 2 for the next. Those another claim
       -- is taking at this instant are skipped here, so that claim's runs leave room for
       -- the next ones (they are locked until this statement ends, then let go unless picked).
       SELECT t.run_id, t.workspace_id,
              row_number() OVER (PARTITION BY t.workspace_id ORDER BY t.queued_at, t.run_id) AS turn
         FROM queued_in w CROSS JOIN LATERAL (
                SELECT q.run_id, q.workspace_id, q.queued_at FROM runs q
                 WHERE q.dataplane_id = $1 AND q.workspace_id = w.workspace_id AND q.status = 'queued'
                   AND (q.scheduled_for IS NULL OR q.scheduled_for <= $4)
                   AND ($6::int IS NULL OR EXISTS (SELECT 1 FROM jobs k WHERE k.job_id = q.job_id AND k.kind = 'batch'))
                 ORDER BY q.queued_at, q.run_id LIMIT $3 FOR UPDATE OF q SKIP LOCKED
              ) t
     ), active AS (
       -- Each waiting workspace's batch runs claimed or running, and its limit of them.
       SELECT w.workspace_id, coalesce(w.max_concurrent_runs, $7::int) AS runs_limit, (
                SELECT count(*) FROM runs a JOIN jobs k USING (job_id)
                 WHERE a.workspace_id = w.workspace_id AND a.status IN ('claimed', 'running') AND k.kind = 'batch'
              ) AS runs
         FROM workspaces w WHERE w.workspace_id IN (SELECT workspace_id FROM waiting)
     ), picked AS (
       -- A run's place in the round: its workspace's active runs plus its turn, so the
       -- workspace with the fewest runs going is served first, oldest run first.
       SELECT q.run_id FROM runs q JOIN waiting USING (run_id) JOIN active ON active.workspace_id = q.workspace_id
        WHERE active.runs + waiting.turn <= active.runs_limit
        ORDER BY active.runs + waiting.turn, q.queued_at, q.run_id LIMIT $3 FOR UPDATE OF q SKIP LOCKED
     ), apps AS (
       -- The oldest queued runs of the interactive jobs of the workspaces queued here,
       -- read job by job: the batch runs around them are never read for them.
       SELECT a.run_id FROM (
         SELECT q.run_id, q.queued_at
           FROM queued_in w JOIN jobs k ON k.workspace_id = w.workspace_id AND k.kind = 'interactive'
          CROSS JOIN LATERAL (
                SELECT q.run_id, q.queued_at FROM runs q
                 WHERE q.job_id = k.job_id AND q.dataplane_id = $1 AND q.status = 'queued'
                   AND (q.scheduled_for IS NULL OR q.scheduled_for <= $4)
                 ORDER BY q.queued_at, q.run_id LIMIT coalesce($6::int, 0) FOR UPDATE OF q SKIP LOCKED
              ) q
          WHERE $6::int IS NOT NULL
       ) a ORDER BY a.queued_at, a.run_id LIMIT coalesce($6::int, 0)
     )
     UPDATE runs r SET status = 'claimed', claimed_at = $4, lease_instance_id = $2, last_instance_id = $2,
            lease_expires_at = $4::timestamptz + ($5::int * interval '1 second'), claim_seq = (SELECT n FROM seq)
       FROM jobs j
      WHERE j.job_id = r.job_id AND r.run_id IN (SELECT run_id FROM picked UNION ALL SELECT run_id FROM apps)
      RETURNING r.run_id, r.job_id, j.name, j.kind, r.workspace_id, r.deployment_id, r.attempt, r.timeout_seconds,
                r.lease_expires_at, r.claim_seq::text AS claim_seq, r.interval_start, r.interval_end, r.parameters_id`,
    [
      dataplaneId,
      instanceId,
      Math.max(0, capacity),
      now,
      leaseSeconds,
      interactiveCapacity ?? null,
      limits.workspaceRunLimit,
    ],
  );
  const runs = rows.map((r) => ({
    runId: r.run_id,
    jobId: r.job_id,
    jobName: r.name,
    kind: r.kind,
    workspaceId: r.workspace_id,
    deploymentId: r.deployment_id,
    attempt: r.attempt,
    timeoutSeconds: r.timeout_seconds,
    leaseExpiresAt: iso(r.lease_expires_at),
    ...(r.interval_start === null || r.interval_end === null
      ? {}
      : { intervalStart: iso(r.interval_start), intervalEnd: iso(r.interval_end) }),
    ...(r.parameters_id === null ? {} : { parametersId: r.parameters_id }),
  }));
  return rows[0] === undefined ? { runs } : { runs, claimSeq: Number(rows[0].claim_seq) };
}

/**
 * Runs an instance holds whose cancel was asked for: among `heldRuns` when it listed
 * them (an instance that holds nothing, the usual case of a claim, costs no query).
 *
 * Every function here that takes an instance id takes the calling data plane too, and
 * matches only its runs: an instance id is no credential (a data plane sends whatever it
 * likes), so another data plane's instance id must reach nothing, and tell nothing.
 */
export async function cancelsFor(
  tx: Queryable,
  dataplaneId: string,
  instanceId: string,
  heldRuns?: string[],
): Promise<string[]> {
  if (heldRuns?.length === 0) return [];
  const rows = await tx.query<Pick<RunsTable, 'run_id'>>(
    `SELECT run_id FROM runs WHERE dataplane_id = $3 AND lease_instance_id = $1 AND cancel_requested_at IS NOT NULL
        AND status IN ('claimed', 'running') AND ($2::uuid[] IS NULL OR run_id = ANY($2::uuid[])) ORDER BY run_id`,
    [instanceId, heldRuns ?? null, dataplaneId],
  );
  return rows.map((r) => r.run_id);
}

/**
 * Renews the leases of the runs an instance says it holds. Returns the held runs it
 * does not hold any more (ended, or lost to an expired lease): it must stop them.
 */
export async function renewLeases(
  tx: Queryable,
  dataplaneId: string,
  instanceId: string,
  heldRuns: string[],
  leaseSeconds: number,
  now: Date,
): Promise<string[]> {
  if (heldRuns.length === 0) return [];
  // Rows are locked in run id order, as a batch of run events locks them: two
  // transactions that take the same runs in different orders would deadlock.
  const renewed = await tx.query<Pick<RunsTable, 'run_id'>>(
    `WITH held AS (
       SELECT run_id FROM runs
        WHERE run_id = ANY($2::uuid[]) AND dataplane_id = $5 AND lease_instance_id = $1
          AND status IN ('claimed', 'running')
        ORDER BY run_id FOR UPDATE
     )
     UPDATE runs SET lease_expires_at = $3::timestamptz + ($4::int * interval '1 second')
      WHERE run_id IN (SELECT run_id FROM held)
      RETURNING run_id`,
    [instanceId, heldRuns, now, leaseSeconds, dataplaneId],
  );
  const kept = new Set(renewed.map((r) => r.run_id));
  return heldRuns.filter((id) => !kept.has(id)).sort();
}

/** Puts runs back in the queue that were claimed for an instance that went away before it got them. */
export async function releaseClaims(
  tx: Queryable,
  dataplaneId: string,
  instanceId: string,
  runIds: string[],
): Promise<void> {
  if (runIds.length === 0) return;
  await tx.query(
    `UPDATE runs SET status = 'queued', claimed_at = NULL, lease_instance_id = NULL, lease_expires_at = NULL,
            claim_seq = NULL
      WHERE run_id = ANY($2::uuid[]) AND dataplane_id = $3 AND lease_instance_id = $1 AND status = 'claimed'`,
    [instanceId, runIds, dataplaneId],
  );
}

/**
 * Which of an instance's claims it had surely taken in when it listed the runs it holds:
 * - `before` the moment its claim request arrived: it asks for a claim only once its
 *   previous one ended. Never "all": the statement may be applied seconds later (it
 *   waits for row locks; one sent by a control plane that died meanwhile still runs to
 *   its commit), by when a later claim may have handed the instance a run it does not
 *   list, and that run must not be requeued under it;
 * - `through`: a heartbeat, with the highest `claimSeq` it had taken in; a later claim
 *   may be on its way to it (the heartbeat was sent before the answer arrived);
 * - `before` a few seconds ago: a heartbeat from an older data plane, which sends no
 *   `claimedThrough`.
 */
export type SettledClaims = { through: number } | { before: Date };

/**
 * Claimed runs an instance does not list among those it holds, of the claims it had
 * surely taken in, never reached it (the answer was lost, say in a control plane
 * shutdown): they go back to the queue instead of lapsing into lost. A claim still on its
 * way must stay: requeued, it could be handed to another instance and run on both.
 */
export async function requeueUndelivered(
  tx: Queryable,
  dataplaneId: string,
  instanceId: string,
  heldRuns: string[],
  settled: SettledClaims,
): Promise<string[]> {
  const rows = await tx.query<Pick<RunsTable, 'run_id' | 'dataplane_id'>>(
    `UPDATE runs SET status = 'queued', claimed_at = NULL, lease_instance_id = NULL, lease_expires_at = NULL,
            claim_seq = NULL
      WHERE dataplane_id = $5 AND lease_instance_id = $1 AND status = 'claimed' AND NOT (run_id = ANY($2::uuid[]))
        AND ($3::bigint IS NULL OR claim_seq <= $3::bigint) AND ($4::timestamptz IS NULL OR claimed_at <= $4)
      RETURNING run_id, dataplane_id`,
    [
      instanceId,
      heldRuns,
      'through' in settled ? settled.through : null,
      'before' in settled ? settled.before : null,
      dataplaneId,
    ],
  );
  return rows.map((r) => r.dataplane_id);
}

/**
 * Runs whose lease ran out before `now`, oldest lease first, a batch of 500 at most,
 * locked for the transaction that ends them; one another replica is ending is skipped.
 */
export async function lockExpiredLeases(tx: Queryable, now: Date): Promise<string[]> {
  const expired = await tx.query<Pick<RunsTable, 'run_id'>>(
    `SELECT run_id FROM runs WHERE status IN ('claimed', 'running') AND lease_expires_at < $1
      ORDER BY lease_expires_at LIMIT 500 FOR UPDATE SKIP LOCKED`,
    [now],
  );
  return expired.map((r) => r.run_id);
}
