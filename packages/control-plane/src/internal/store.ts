import { ErrorCode, type InitializeRequest } from '@sovereign/contract';
import { ConflictProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';

/** An instance reported a public URL other than its data plane's: refused (after the refusal is noted). */
export class PublicUrlMismatchProblem extends ConflictProblem {
  readonly publicUrl: string;
  readonly reportedUrl: string;
  constructor(publicUrl: string, reportedUrl: string) {
    super(
      ErrorCode.dataplanePublicUrlMismatch,
      `This data plane's public URL is ${publicUrl}; this instance reports ${reportedUrl}. Start it with ` +
        'SOV_PUBLIC_URL set to the data plane’s URL, or have an administrator of its organization change the ' +
        "data plane's publicUrl.",
      { publicUrl, reportedUrl },
    );
    this.publicUrl = publicUrl;
    this.reportedUrl = reportedUrl;
  }
}

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
