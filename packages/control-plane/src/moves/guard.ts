import type { Queryable } from '@sovereign/server-kit/sql';
import { WorkspaceMovedProblem } from './errors.ts';
import { findMoveFrom } from './store.ts';

/**
 * Refuses a change to a workspace that was moved (or is being moved) to another region:
 * a deployment, a trigger, a backfill, a token that can write. What it holds was copied
 * as it was; a change here would be lost, or run twice (here and where it went).
 */
export async function assertNotMoved(db: Queryable, workspaceId: string, what?: string): Promise<void> {
  const move = await findMoveFrom(db, workspaceId);
  if (move !== undefined) throw new WorkspaceMovedProblem(move, what);
}
