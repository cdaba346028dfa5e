import { ErrorCode, type Role } from '@sovereign/contract';
import { NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { requireRole } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { findLiveRun, lockLiveRun, type RunRow } from './store.ts';

export const runNotFound = () => new NotFoundProblem(ErrorCode.runNotFound, 'No such run.');

/**
 * A run of a live workspace whose organization the caller holds `minimum` in (a key
 * bound to its workspace may act on it), its row locked until the transaction ends when
 * `lock` says so. Anyone else is told it does not exist.
 */
export async function runFor(
  tx: Queryable,
  principal: Principal,
  runId: string,
  minimum: Role,
  options: { lock: boolean } = { lock: false },
): Promise<RunRow> {
  const row = options.lock ? await lockLiveRun(tx, runId) : await findLiveRun(tx, runId);
  if (row === undefined) throw runNotFound();
  await requireRole(tx, principal, row.organization_id, minimum, runNotFound(), row.workspace_id);
  return row;
}
