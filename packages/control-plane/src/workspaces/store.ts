import { ErrorCode, type Role } from '@sovereign/protocol';
import { NotFoundProblem } from '@sovereign/protocol/http';
import type { Queryable } from '@sovereign/protocol/sql';
import { requireRole } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { iso } from '../context.ts';
import type { RegionsTable, WorkspacesTable } from '../tables.ts';

export type WorkspaceRow = Pick<
  WorkspacesTable,
  | 'workspace_id'
  | 'organization_id'
  | 'name'
  | 'region_id'
  | 'dataplane_id'
  | 'created_at'
  | 'updated_at'
  | 'max_concurrent_runs'
> & { region_name: RegionsTable['name'] };

export const selectWorkspace = `SELECT w.workspace_id, w.organization_id, w.name, w.region_id, w.dataplane_id,
    w.created_at, w.updated_at, r.name AS region_name, w.max_concurrent_runs
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
    maxConcurrentRuns: row.max_concurrent_runs,
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

/** The organization whose region holds a data plane: its admins set the limits of the workspaces it hosts. */
export async function dataplaneOrganization(tx: Queryable, dataplaneId: string): Promise<string> {
  const [row] = await tx.query<Pick<RegionsTable, 'organization_id'>>(
    'SELECT r.organization_id FROM dataplanes d JOIN regions r USING (region_id) WHERE d.dataplane_id = $1',
    [dataplaneId],
  );
  if (row === undefined) throw new Error(`data plane ${dataplaneId} has no region`);
  return row.organization_id;
}

/** Sets a workspace's limit of active batch runs; null returns it to the control plane's default. */
export async function setRunLimit(tx: Queryable, workspaceId: string, limit: number | null): Promise<void> {
  await tx.query('UPDATE workspaces SET max_concurrent_runs = $2, updated_at = now() WHERE workspace_id = $1', [
    workspaceId,
    limit,
  ]);
}
