import { ErrorCode, type Role } from '@sovereign/contract';
import { NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { requireRole } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { findJob, type JobRow } from './store.ts';

export const jobNotFound = () => new NotFoundProblem(ErrorCode.jobNotFound, 'No such job.');

/**
 * A job of a live workspace whose organization the caller holds `minimum` in (a key
 * bound to the job's workspace may act on it). Anyone else is told it does not exist.
 */
export async function jobFor(db: Queryable, principal: Principal, jobId: string, minimum: Role): Promise<JobRow> {
  const job = await findJob(db, jobId);
  if (job === undefined) throw jobNotFound();
  await requireRole(db, principal, job.organization_id, minimum, jobNotFound(), job.workspace_id);
  return job;
}
