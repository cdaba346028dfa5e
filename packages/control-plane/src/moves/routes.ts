import { Closed, Uuid, WorkspaceMove, WorkspaceMoveRequest } from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { audited, userAuthor } from '../audit/record.ts';
import { principalOf } from '../auth/principal.ts';
import type { Deps } from '../context.ts';
import { announceRevocations } from '../tokens/revocations.ts';
import { completeMove } from './complete.ts';
import { startMove } from './start.ts';
import { toMove } from './view.ts';

const tags = ['Workspaces'];
const WorkspaceParams = Closed({ workspaceId: Uuid });

/**
 * Moving a workspace to another region (issue 22). The control plane records the move and
 * makes the new workspace; the client copies the bundle, variables, secrets it asks for
 * again, and state from one data plane to the other with scoped tokens for each, so no
 * byte of them passes here (R2) nor from one region's data plane to the other's (R8).
 */
export async function moveRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.post(
    '/workspaces/:workspaceId/move',
    {
      schema: {
        tags,
        summary: 'Start (or resume) moving a workspace to another region (organization owner or admin)',
        description:
          "Makes a new workspace in the region (same organization; its jobs arrive paused from its first deployment) and freezes this one: its schedules stop, and it takes no new deployment, trigger, backfill or token that can write (409 workspace_moved); its tokens that could are revoked. Its history stays readable. The client then copies the current deployment's bundle, the variables, the secrets (asked again: they are never read back) and each job's state from this workspace's data plane to the new one's, and completes the move. Called again for the same region, it answers the same move: that is how an interrupted move is resumed. Another region: 409 workspace_moved; this workspace's own region: 409 move_same_region.",
        params: WorkspaceParams,
        body: WorkspaceMoveRequest,
        response: { 200: WorkspaceMove },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const started = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const result = await startMove(tx, principal, request.params.workspaceId, request.body, deps.now());
        return { result, audit: result.audit };
      });
      await announceRevocations(deps, started.revokedOn);
      request.log.info(
        { moveId: started.move.move_id, resumed: started.audit.length === 0 },
        started.audit.length === 0 ? 'workspace move resumed' : 'workspace move started',
      );
      return toMove(started.move);
    },
  );

  app.post(
    '/workspaces/:workspaceId/move/complete',
    {
      schema: {
        tags,
        summary: 'Complete a workspace’s move: the new workspace’s jobs resume as they were here',
        description:
          "The new workspace's jobs take the paused flags of this one's (a job it did not have stays paused). 409 move_incomplete while the new workspace lacks this one's current deployment (its data plane reports it within moments of the upload) or this one has active runs (runIds); 404 move_not_found without a started move. Completed before: answered as it is.",
        params: WorkspaceParams,
        response: { 200: WorkspaceMove },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const completed = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const result = await completeMove(tx, principal, request.params.workspaceId, deps.now());
        return { result, audit: result.audit };
      });
      request.log.info(
        { moveId: completed.move.move_id, resumedJobs: completed.resumed.length },
        'workspace move completed',
      );
      return toMove(completed.move);
    },
  );
}
