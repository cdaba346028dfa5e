import { type WorkspaceMoveRequest, writeScopes } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { AuditEntry } from '../audit/record.ts';
import type { Principal } from '../auth/principal.ts';
import { deleteWorkspaceSchedules } from '../scheduler/store.ts';
import { revokeScopedTokens } from '../tokens/store.ts';
import { workspaceFor } from '../workspaces/access.ts';
import { createWorkspace, usableRegion } from '../workspaces/create.ts';
import { lockWorkspace } from '../workspaces/store.ts';
import { MoveIncompleteProblem, MoveSameRegionProblem, WorkspaceMovedProblem } from './errors.ts';
import { findMoveFrom, findMoveTo, insertMove, type MoveRow } from './store.ts';

export interface StartedMove {
  move: MoveRow;
  /** The audit events of a move started now; none when it was started before (resumed). */
  audit: AuditEntry[];
  /** The data planes told of the revoked tokens, after the commit. */
  revokedOn: string[];
}

/**
 * Starts a workspace's move to another region, or answers the move started before to the
 * same region (a move is resumed by starting it again). Starting it makes the new
 * workspace (same organization, the region's data plane) and freezes the old one: its
 * schedules are dropped, and its tokens that can write are revoked (the data plane hears
 * of it within a second), so what the client copies is what stays. Organization admins
 * and up, as for creating a workspace.
 */
export async function startMove(
  tx: Queryable,
  principal: Principal,
  workspaceId: string,
  request: WorkspaceMoveRequest,
  now: Date,
): Promise<StartedMove> {
  const workspace = await workspaceFor(tx, principal, workspaceId, 'admin');
  // Two starts of one workspace's move take turns: the second finds the first's.
  await lockWorkspace(tx, workspaceId);
  const existing = await findMoveFrom(tx, workspaceId);
  if (existing !== undefined) {
    if (existing.to_region_id === request.regionId) return { move: existing, audit: [], revokedOn: [] };
    throw new WorkspaceMovedProblem(existing, 'It can be moved once');
  }
  const incoming = await findMoveTo(tx, workspaceId);
  if (incoming?.status === 'in_progress') {
    throw new MoveIncompleteProblem(
      `Workspace ${workspace.name} is still being moved in from ${incoming.from_name}: finish that move first.`,
      { moveId: incoming.move_id },
    );
  }
  if (request.regionId === workspace.region_id) throw new MoveSameRegionProblem(workspace.region_name.toLowerCase());
  const region = await usableRegion(tx, principal, workspace.organization_id, request.regionId);
  const name = request.name ?? `${workspace.name}-${region.name.toLowerCase()}`;
  const toWorkspaceId = await createWorkspace(tx, { organizationId: workspace.organization_id, name, region });
  const moveId = await insertMove(tx, {
    organizationId: workspace.organization_id,
    fromWorkspaceId: workspaceId,
    toWorkspaceId,
    toRegionId: region.region_id,
    by: principal.userId,
  });
  await deleteWorkspaceSchedules(tx, workspaceId);
  const revokedOn = await revokeScopedTokens(tx, { workspaceId, anyScope: writeScopes }, now);
  const move = await findMoveFrom(tx, workspaceId);
  if (move?.move_id !== moveId) throw new Error('the move vanished after it was recorded');
  const organizationId = workspace.organization_id;
  return {
    move,
    audit: [
      { organizationId, action: 'workspace.create', targetType: 'workspace', targetId: toWorkspaceId },
      { organizationId, action: 'workspace.move.start', targetType: 'workspace', targetId: workspaceId },
    ],
    revokedOn,
  };
}
