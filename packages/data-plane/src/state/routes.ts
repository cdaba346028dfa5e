import { Closed, JobState, JobStateRequest, jobNamePattern, Uuid } from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { Type } from 'typebox';
import { scopedOf } from '../auth/scoped.ts';
import { StateJobArchivedProblem, StateJobNotFoundProblem, StateNotFoundProblem } from './errors.ts';
import { jobStanding, readState, writeState } from './store.ts';

const Params = Closed({ workspaceId: Uuid, job: Type.String({ pattern: jobNamePattern }) });
/**
 * A job's state, read and written by scoped token here; the control plane never sees it (R6).
 * Only jobs of the workspace's deployments have state: an unknown name is `job_not_found`
 * (not an empty state to fill); an archived job's state is kept and readable, not writable.
 */
export async function stateRoutes(app: App, options: { db: Queryable }) {
  const { db } = options;
  app.get(
    '/workspaces/:workspaceId/jobs/:job/state',
    {
      config: { scope: 'state:read' },
      schema: { tags: ['State'], summary: 'A job’s saved state', params: Params, response: { 200: JobState } },
    },
    async (request) => {
      const workspaceId = scopedOf(request).workspaceId;
      if ((await jobStanding(db, workspaceId, request.params.job)) === 'unknown') throw new StateJobNotFoundProblem();
      const saved = await readState(db, workspaceId, request.params.job);
      if (saved === undefined) throw new StateNotFoundProblem();
      return { job: request.params.job, ...saved };
    },
  );

  app.put(
    '/workspaces/:workspaceId/jobs/:job/state',
    {
      config: { scope: 'state:write' },
      schema: {
        tags: ['State'],
        summary: 'Replace a job’s state (the next run starts from it)',
        params: Params,
        body: JobStateRequest,
        response: { 200: JobState },
      },
    },
    async (request) => {
      const workspaceId = scopedOf(request).workspaceId;
      const standing = await jobStanding(db, workspaceId, request.params.job);
      if (standing === 'unknown') throw new StateJobNotFoundProblem();
      if (standing === 'archived') throw new StateJobArchivedProblem();
      await writeState(db, workspaceId, request.params.job, request.body.state ?? null, null);
      const saved = await readState(db, workspaceId, request.params.job);
      if (saved === undefined) throw new Error('state vanished after it was written');
      return { job: request.params.job, ...saved };
    },
  );
}
