import { randomUUID } from 'node:crypto';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { RegionsTable, WorkspaceMovesTable, WorkspacesTable } from '../tables.ts';

/** A move with the names of both workspaces and of their regions. */
export type MoveRow = WorkspaceMovesTable & {
  from_name: WorkspacesTable['name'];
  from_region_name: RegionsTable['name'];
  to_name: WorkspacesTable['name'];
  to_region_name: RegionsTable['name'];
};

const selectMove = `SELECT m.*, fw.name AS from_name, fr.name AS from_region_name, tw.name AS to_name,
    tr.name AS to_region_name
  FROM workspace_moves m
  JOIN workspaces fw ON fw.workspace_id = m.from_workspace_id JOIN regions fr ON fr.region_id = fw.region_id
  JOIN workspaces tw ON tw.workspace_id = m.to_workspace_id JOIN regions tr ON tr.region_id = m.to_region_id`;

/** The move of a workspace out of its region, started or completed: there is one at most, for good. */
export async function findMoveFrom(db: Queryable, workspaceId: string): Promise<MoveRow | undefined> {
  const [row] = await db.query<MoveRow>(`${selectMove} WHERE m.from_workspace_id = $1`, [workspaceId]);
  return row;
}

/** The move that made a workspace, if one did. */
export async function findMoveTo(db: Queryable, workspaceId: string): Promise<MoveRow | undefined> {
  const [row] = await db.query<MoveRow>(`${selectMove} WHERE m.to_workspace_id = $1`, [workspaceId]);
  return row;
}

/** The moves these workspaces went out by or came in by, in one statement however many. */
export async function listMovesTouching(db: Queryable, workspaceIds: readonly string[]): Promise<MoveRow[]> {
  if (workspaceIds.length === 0) return [];
  return db.query<MoveRow>(
    `${selectMove} WHERE m.from_workspace_id = ANY($1::uuid[]) OR m.to_workspace_id = ANY($1::uuid[])`,
    [workspaceIds],
  );
}

export async function insertMove(
  tx: Queryable,
  move: { organizationId: string; fromWorkspaceId: string; toWorkspaceId: string; toRegionId: string; by: string },
): Promise<string> {
  const moveId = randomUUID();
  await tx.query(
    `INSERT INTO workspace_moves (move_id, organization_id, from_workspace_id, to_workspace_id, to_region_id, status,
                                  started_by)
     VALUES ($1, $2, $3, $4, $5, 'in_progress', $6)`,
    [moveId, move.organizationId, move.fromWorkspaceId, move.toWorkspaceId, move.toRegionId, move.by],
  );
  return moveId;
}

export async function markMoveCompleted(tx: Queryable, moveId: string, by: string, at: Date): Promise<void> {
  await tx.query(
    `UPDATE workspace_moves SET status = 'completed', completed_by = $2, completed_at = $3
      WHERE move_id = $1 AND status = 'in_progress'`,
    [moveId, by, at],
  );
}
