import { randomUUID } from 'node:crypto';
import type { Queryable } from '@sovereign/server-kit/sql';
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

const selectWorkspace = `SELECT w.workspace_id, w.organization_id, w.name, w.region_id, w.dataplane_id,
    w.created_at, w.updated_at, r.name AS region_name, w.max_concurrent_runs
  FROM workspaces w JOIN regions r USING (region_id)`;

/** A workspace that is not deleted. */
export async function findLiveWorkspace(db: Queryable, workspaceId: string): Promise<WorkspaceRow | undefined> {
  const [row] = await db.query<WorkspaceRow>(`${selectWorkspace} WHERE w.workspace_id = $1 AND w.deleted_at IS NULL`, [
    workspaceId,
  ]);
  return row;
}

/**
 * A page of live workspaces by name, after the (name, id) cursor: of the user's
 * organizations, or of `organizationId` (any organization, for an instance
 * administrator who names it), or the one workspace a key is bound to.
 */
export async function listWorkspaces(
  db: Queryable,
  query: {
    userId: string;
    organizationId: string | null;
    anyOrganization: boolean;
    boundWorkspaceId: string | null;
    after: { name: string; workspaceId: string } | null;
    limit: number;
  },
): Promise<WorkspaceRow[]> {
  return db.query<WorkspaceRow>(
    `${selectWorkspace} WHERE w.deleted_at IS NULL
        AND ($2::uuid IS NULL OR w.organization_id = $2)
        AND ($3 OR w.organization_id IN (SELECT organization_id FROM memberships WHERE user_id = $1))
        AND ($4::text IS NULL OR (w.name, w.workspace_id) > ($4, $5::uuid))
        AND ($7::uuid IS NULL OR w.workspace_id = $7)
      ORDER BY w.name, w.workspace_id LIMIT $6`,
    [
      query.userId,
      query.organizationId,
      query.anyOrganization,
      query.after?.name ?? null,
      query.after?.workspaceId ?? null,
      query.limit,
      query.boundWorkspaceId,
    ],
  );
}

/** Whether another live workspace of the organization has the name, whatever its case. */
export async function isWorkspaceNameTaken(
  db: Queryable,
  organizationId: string,
  name: string,
  exceptWorkspaceId: string | null,
): Promise<boolean> {
  const [row] = await db.query(
    `SELECT 1 FROM workspaces WHERE organization_id = $1 AND lower(name) = lower($2) AND deleted_at IS NULL
        AND workspace_id IS DISTINCT FROM $3`,
    [organizationId, name, exceptWorkspaceId],
  );
  return row !== undefined;
}

/** Makes a workspace, bound for good to its region and data plane (R4); answers its id. */
export async function insertWorkspace(
  tx: Queryable,
  workspace: { organizationId: string; name: string; regionId: string; dataplaneId: string },
): Promise<string> {
  const workspaceId = randomUUID();
  await tx.query(
    `INSERT INTO workspaces (workspace_id, organization_id, name, region_id, dataplane_id)
     VALUES ($1, $2, $3, $4, $5)`,
    [workspaceId, workspace.organizationId, workspace.name, workspace.regionId, workspace.dataplaneId],
  );
  return workspaceId;
}

export async function renameWorkspace(tx: Queryable, workspaceId: string, name: string): Promise<void> {
  await tx.query('UPDATE workspaces SET name = $2, updated_at = now() WHERE workspace_id = $1', [workspaceId, name]);
}

/** Sets a workspace's limit of active batch runs; null returns it to the control plane's default. */
export async function setRunLimit(tx: Queryable, workspaceId: string, limit: number | null): Promise<void> {
  await tx.query('UPDATE workspaces SET max_concurrent_runs = $2, updated_at = now() WHERE workspace_id = $1', [
    workspaceId,
    limit,
  ]);
}

/** Soft-deletes a workspace; false when it was deleted already. */
export async function deleteWorkspace(tx: Queryable, workspaceId: string): Promise<boolean> {
  const [row] = await tx.query(
    'UPDATE workspaces SET deleted_at = now() WHERE workspace_id = $1 AND deleted_at IS NULL RETURNING 1',
    [workspaceId],
  );
  return row !== undefined;
}

/**
 * Holds a workspace's row until the transaction ends: one deployment report at a time per
 * workspace, so two deployments cannot interleave their upserts of its jobs.
 */
export async function lockWorkspace(tx: Queryable, workspaceId: string): Promise<void> {
  await tx.query('SELECT 1 FROM workspaces WHERE workspace_id = $1 FOR UPDATE', [workspaceId]);
}

/** The organization of a workspace the data plane hosts; undefined when it hosts no such workspace. */
export async function findHostedWorkspaceOrganization(
  db: Queryable,
  workspaceId: string,
  dataplaneId: string,
): Promise<string | undefined> {
  const [row] = await db.query<Pick<WorkspacesTable, 'organization_id'>>(
    'SELECT organization_id FROM workspaces WHERE workspace_id = $1 AND dataplane_id = $2',
    [workspaceId, dataplaneId],
  );
  return row?.organization_id;
}

/** The live workspaces a data plane hosts, by id. */
export async function listHostedWorkspaceIds(db: Queryable, dataplaneId: string): Promise<string[]> {
  const rows = await db.query<Pick<WorkspacesTable, 'workspace_id'>>(
    'SELECT workspace_id FROM workspaces WHERE dataplane_id = $1 AND deleted_at IS NULL ORDER BY workspace_id',
    [dataplaneId],
  );
  return rows.map((r) => r.workspace_id);
}
