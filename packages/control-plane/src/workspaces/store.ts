import { ErrorCode, type Role } from '@sovereign/protocol';
import { NotFoundProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import { requireRole } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { iso } from '../context.ts';

export interface WorkspaceRow {
  workspace_id: string;
  organization_id: string;
  name: string;
  region_id: string;
  dataplane_id: string;
  created_at: Date;
  updated_at: Date;
  region_name: string;
}

export const selectWorkspace = `SELECT w.workspace_id, w.organization_id, w.name, w.region_id, w.dataplane_id,
    w.created_at, w.updated_at, r.name AS region_name
  FROM workspaces w JOIN regions r USING (region_id)`;

/** Airbyte's WorkspaceResponse (`dataResidency` = the region's name, lower case) plus our ids. */
export function toWorkspace(row: WorkspaceRow) {
  return {
    workspaceId: row.workspace_id,
    name: row.name,
    organizationId: row.organization_id,
    regionId: row.region_id,
    dataplaneId: row.dataplane_id,
    dataResidency: row.region_name.toLowerCase(),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export const workspaceNotFound = () => new NotFoundProblem(ErrorCode.workspaceNotFound, 'No such workspace.');

/** A live workspace whose organization the caller holds `minimum` in, with the caller's role. */
export async function workspaceFor(
  tx: Queryable,
  principal: Principal,
  workspaceId: string,
  minimum: Role,
): Promise<WorkspaceRow & { role: Role }> {
  const [row] = await tx.query<WorkspaceRow>(`${selectWorkspace} WHERE w.workspace_id = $1 AND w.deleted_at IS NULL`, [
    workspaceId,
  ]);
  if (row === undefined) throw workspaceNotFound();
  const role = await requireRole(tx, principal, row.organization_id, minimum, workspaceNotFound(), row.workspace_id);
  return { ...row, role };
}
