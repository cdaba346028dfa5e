import { ErrorCode, type Role } from '@sovereign/contract';
import { NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { requireRole } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { findLiveWorkspace, type WorkspaceRow } from './store.ts';

export const workspaceNotFound = () => new NotFoundProblem(ErrorCode.workspaceNotFound, 'No such workspace.');

/** A live workspace whose organization the caller holds `minimum` in, with the caller's role. */
export async function workspaceFor(
  tx: Queryable,
  principal: Principal,
  workspaceId: string,
  minimum: Role,
): Promise<WorkspaceRow & { role: Role }> {
  const row = await findLiveWorkspace(tx, workspaceId);
  if (row === undefined) throw workspaceNotFound();
  const role = await requireRole(tx, principal, row.organization_id, minimum, workspaceNotFound(), row.workspace_id);
  return { ...row, role };
}
