import { Closed, ErrorCode, JobState, JobStateRequest, jobNamePattern, Uuid } from '@sovereign/contract';
import { type App, NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { Type } from 'typebox';
import { scopedOf } from '../auth/scoped.ts';
import { readState, writeState } from './store.ts';

const Params = Closed({ workspaceId: Uuid, job: Type.String({ pattern: jobNamePattern }) });
/** A job's state, read and written by scoped token here; the control plane never sees it (R6). */
export async function stateRoutes(app: App, options: { db: Queryable }) {
  const { db } = options;
  app.get(
    '/workspaces/:workspaceId/jobs/:job/state',
    {
      config: { scope: 'state:read' },
      schema: { tags: ['State'], summary: 'A job’s saved state', params: Params, response: { 200: JobState } },
    },
    async (request) => {
      const saved = await readState(db, scopedOf(request).workspaceId, request.params.job);
      if (saved === undefined) throw new NotFoundProblem(ErrorCode.stateNotFound, 'The job has no saved state yet.');
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
      await writeState(db, workspaceId, request.params.job, request.body.state ?? null, null);
      const saved = await readState(db, workspaceId, request.params.job);
      if (saved === undefined) throw new Error('state vanished after it was written');
      return { job: request.params.job, ...saved };
    },
  );
}
