import { Closed, StoredParameters, StoreParametersRequest, Uuid } from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import { scopedOf } from '../auth/scoped.ts';
import { checkValues } from './declarations.ts';
import { ParametersInvalidProblem, ParametersJobNotFoundProblem, ParametersNotFoundProblem } from './errors.ts';
import { currentJob, readValues, storeValues } from './store.ts';

const tags = ['Parameters'];

/**
 * A run's parameters (issue 20), stored and read here by scoped token. The client stores
 * them before it triggers the run, and gives the control plane their id only: the values
 * never leave the region (R1, R2). Logs name the job and the id, never a value.
 */
export async function parameterRoutes(app: App, options: { db: Queryable }) {
  const { db } = options;

  app.post(
    '/workspaces/:workspaceId/parameters',
    {
      config: { scope: 'runs:trigger' },
      schema: {
        tags,
        summary: 'Store parameters for a run of a job, checked against its declaration; trigger the run with their id',
        description:
          'Values are typed JSON, or text read as the declared type (`2026-01-01` for a date, `10` for an integer). Unknown names, missing required ones and values of the wrong type answer 422 parameters_invalid, listing each; declared defaults fill in the rest.',
        params: Closed({ workspaceId: Uuid }),
        body: StoreParametersRequest,
        response: { 200: StoredParameters },
      },
    },
    async (request) => {
      const scoped = scopedOf(request);
      const { job: name, values } = request.body;
      const job = await currentJob(db, scoped.workspaceId, name);
      if (job === undefined) throw new ParametersJobNotFoundProblem();
      const checked = checkValues(job.params, values);
      if (!checked.ok) throw new ParametersInvalidProblem(name, checked.problems);
      const stored = await storeValues(db, scoped.workspaceId, name, checked.values, scoped.userId);
      request.log.info(
        { workspaceId: scoped.workspaceId, job: name, parametersId: stored.parametersId },
        'parameters stored',
      );
      return { parametersId: stored.parametersId, job: stored.job, values: stored.values, createdAt: stored.createdAt };
    },
  );

  app.get(
    '/workspaces/:workspaceId/parameters/:parametersId',
    {
      config: { scope: 'runs:parameters' },
      schema: {
        tags,
        summary: 'A run’s parameters, by the id its run carries (`parametersId`)',
        params: Closed({ workspaceId: Uuid, parametersId: Uuid }),
        response: { 200: StoredParameters },
      },
    },
    async (request) => {
      const stored = await readValues(db, scopedOf(request).workspaceId, request.params.parametersId);
      if (stored === undefined) throw new ParametersNotFoundProblem();
      return { parametersId: stored.parametersId, job: stored.job, values: stored.values, createdAt: stored.createdAt };
    },
  );
}
