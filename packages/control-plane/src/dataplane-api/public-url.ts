import { ErrorCode, type InitializeRequest, normalizePublicUrl } from '@sovereign/contract';
import { ConflictProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { FastifyBaseLogger } from 'fastify';
import type { AuditEntry } from '../audit/record.ts';
import { dataplaneNotFound } from '../dataplanes/access.ts';
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
 * health and answered with the problem to throw once that is committed, and with the
 * event to audit when the refused URL is not the last one noted. Answers the URL to
 * record the instance with when it matches.
 */
export async function checkPublicUrl(
  tx: Queryable,
  plane: DataplaneRow,
  facts: InitializeRequest,
  at: Date,
): Promise<{ publicUrl: string } | { refused: PublicUrlMismatchProblem; audit: AuditEntry[] }> {
  const reported = normalizePublicUrl(facts.publicUrl);
  const pinned = await pinnedPublicUrl(tx, plane.dataplane_id, reported);
  if (pinned === undefined) throw dataplaneNotFound();
  if (normalizePublicUrl(pinned) === reported) return { publicUrl: pinned };
  const news = await notePublicUrlMismatch(tx, plane.dataplane_id, reported, at);
  return {
    refused: new PublicUrlMismatchProblem(pinned, reported),
    audit: news ? [instanceEvent(plane, 'dataplane_instance.public_url_refused', facts.instanceId)] : [],
  };
}

/** An event about one instance of a data plane, on the trail of its region's organization. */
export function instanceEvent(plane: DataplaneRow, action: string, instanceId: string): AuditEntry {
  return { organizationId: plane.organization_id, action, targetType: 'dataplane_instance', targetId: instanceId };
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
