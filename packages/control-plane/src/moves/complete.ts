import type { Queryable } from '@sovereign/server-kit/sql';
import type { AuditEntry } from '../audit/record.ts';
import type { Principal } from '../auth/principal.ts';
import { listDeployments } from '../deployments/store.ts';
import { takePausesFrom } from '../jobs/store.ts';
import { listActiveRunIds } from '../runs/store.ts';
import { workspaceFor } from '../workspaces/access.ts';
import { findLiveWorkspace, lockWorkspace } from '../workspaces/store.ts';
import { MoveIncompleteProblem, MoveNotFoundProblem } from './errors.ts';
import { findMoveFrom, type MoveRow, markMoveCompleted } from './store.ts';

export interface CompletedMove {
  move: MoveRow;
  /** The new workspace's jobs resumed now (those running on their schedule in the old one). */
  resumed: string[];
  audit: AuditEntry[];
}

/**
 * Ends a move: the new workspace's jobs take the paused flags the old one's had, and the
 * move is recorded as completed. Refused (move_incomplete, nothing changed) while the new
 * workspace lacks the old one's current deployment (the client uploads it to the new
 * data plane, which reports it here), or while the old one still has active runs (one
 * could still change the state the client copied). Completed before: answered as it is.
 */
export async function completeMove(
  tx: Queryable,
  principal: Principal,
  workspaceId: string,
  now: Date,
): Promise<CompletedMove> {
  const workspace = await workspaceFor(tx, principal, workspaceId, 'admin');
  await lockWorkspace(tx, workspaceId);
  const move = await findMoveFrom(tx, workspaceId);
  if (move === undefined) throw new MoveNotFoundProblem();
  if (move.status === 'completed') return { move, resumed: [], audit: [] };
  if ((await findLiveWorkspace(tx, move.to_workspace_id)) === undefined) {
    throw new MoveIncompleteProblem(`The workspace it was being moved to (${move.to_name}) was deleted.`);
  }
  const [current] = await listDeployments(tx, workspaceId);
  if (current !== undefined) {
    const arrived = (await listDeployments(tx, move.to_workspace_id)).some((d) => d.digest === current.digest);
    if (!arrived) {
      throw new MoveIncompleteProblem(
        `${move.to_name} has not received ${workspace.name}'s current deployment (${current.digest}) yet: upload it to its data plane (its report reaches the control plane within moments).`,
        { digest: current.digest },
      );
    }
  }
  const active = await listActiveRunIds(tx, workspaceId, 20);
  if (active.length > 0) {
    throw new MoveIncompleteProblem(
      `${workspace.name} still has ${active.length === 20 ? 'at least 20' : active.length} active run${active.length === 1 ? '' : 's'}: its state may still change. Wait for ${active.length === 1 ? 'it' : 'them'} to end (or cancel ${active.length === 1 ? 'it' : 'them'}), copy the state again, then complete the move.`,
      { runIds: active },
    );
  }
  const resumed = await takePausesFrom(tx, move.to_workspace_id, workspaceId);
  await markMoveCompleted(tx, move.move_id, principal.userId, now);
  const completed = await findMoveFrom(tx, workspaceId);
  if (completed === undefined) throw new Error('the move vanished while it was completed');
  return {
    move: completed,
    resumed,
    audit: [
      {
        organizationId: move.organization_id,
        action: 'workspace.move.complete',
        targetType: 'workspace',
        targetId: workspaceId,
      },
    ],
  };
}
