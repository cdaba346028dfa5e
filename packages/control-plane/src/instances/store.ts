import { ErrorCode, type InitializeRequest } from '@sovereign/contract';
import { ConflictProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { DataplaneInstancesTable } from '../tables.ts';

/** The instance id is registered to another data plane: no data plane speaks for another's instances. */
export class InstanceIdTakenProblem extends ConflictProblem {
  constructor() {
    super(
      ErrorCode.instanceIdTaken,
      'That instance id belongs to another data plane. An instance takes a new random id at each start.',
    );
  }
}

/**
 * Records what an instance says of itself (its URL already checked against the data
 * plane's). An instance id is bound to the data plane that registered it first: a report
 * for an id of another data plane changes nothing and is refused.
 */
export async function recordInstance(
  tx: Queryable,
  dataplaneId: string,
  facts: InitializeRequest & { heldRuns?: string[] },
  publicUrl: string,
  heartbeatAt: Date | null,
): Promise<void> {
  const recorded = await tx.query(
    `INSERT INTO dataplane_instances (instance_id, dataplane_id, version, public_url, capacity, held_runs,
                                      last_heartbeat_at, sandbox)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (instance_id) DO UPDATE SET version = EXCLUDED.version, public_url = EXCLUDED.public_url,
       capacity = EXCLUDED.capacity, held_runs = EXCLUDED.held_runs, sandbox = EXCLUDED.sandbox,
       last_heartbeat_at = coalesce(EXCLUDED.last_heartbeat_at, dataplane_instances.last_heartbeat_at)
     WHERE dataplane_instances.dataplane_id = EXCLUDED.dataplane_id
     RETURNING instance_id`,
    [
      facts.instanceId,
      dataplaneId,
      facts.version,
      publicUrl,
      facts.capacity,
      facts.heldRuns?.length ?? 0,
      heartbeatAt,
      facts.sandbox === undefined ? null : JSON.stringify(facts.sandbox),
    ],
  );
  if (recorded.length === 0) throw new InstanceIdTakenProblem();
}

/** A data plane's instances as their heartbeats tell them, the one heard from last first (100 at most). */
export async function listInstances(db: Queryable, dataplaneId: string): Promise<DataplaneInstancesTable[]> {
  return db.query<DataplaneInstancesTable>(
    `SELECT * FROM dataplane_instances WHERE dataplane_id = $1
      ORDER BY last_heartbeat_at DESC NULLS LAST, started_at DESC LIMIT 100`,
    [dataplaneId],
  );
}
