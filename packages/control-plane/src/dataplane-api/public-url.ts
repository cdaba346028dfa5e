import { ErrorCode, type InitializeRequest, normalizePublicUrl } from '@sovereign/protocol';
import { ConflictProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import type { FastifyBaseLogger } from 'fastify';
import { audit } from '../audit/record.ts';
import { type DataplaneRow, notePublicUrlMismatch, pinnedPublicUrl } from '../dataplanes/store.ts';

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

/**
 * Holds an instance's report to its data plane's public URL, the URL clients are sent to
 * with their scoped tokens: it is never taken from a report. The first registration of a
 * data plane without one pins it; a report of any other URL is noted in the data plane's
 * health, audited (when the refused URL is not the last one noted) and answered with the
 * problem to throw once that is committed. Answers the URL to record the instance with when it matches.
 */
export async function checkPublicUrl(
  tx: Queryable,
  plane: DataplaneRow,
  facts: InitializeRequest,
  at: Date,
  requestId: string,
): Promise<{ publicUrl: string } | { refused: PublicUrlMismatchProblem }> {
  const reported = normalizePublicUrl(facts.publicUrl);
  const pinned = await pinnedPublicUrl(tx, plane.dataplane_id, reported);
  if (normalizePublicUrl(pinned) === reported) return { publicUrl: pinned };
  if (await notePublicUrlMismatch(tx, plane.dataplane_id, reported, at)) {
    await audit(
      tx,
      { type: 'dataplane', id: plane.dataplane_id },
      {
        organizationId: plane.organization_id,
        action: 'dataplane_instance.public_url_refused',
        targetType: 'dataplane_instance',
        targetId: facts.instanceId,
        requestId,
      },
    );
  }
  return { refused: new PublicUrlMismatchProblem(pinned, reported) };
}

/** Says in the control plane's log that an instance was refused for its public URL, and answers the problem. */
export function refusedInstance(
  log: FastifyBaseLogger,
  plane: DataplaneRow,
  instanceId: string,
  problem: PublicUrlMismatchProblem,
): PublicUrlMismatchProblem {
  log.warn(
    { dataplaneId: plane.dataplane_id, instanceId, publicUrl: problem.publicUrl, reportedUrl: problem.reportedUrl },
    'refused a data plane instance that reports another public URL than its data plane’s',
  );
  return problem;
}
