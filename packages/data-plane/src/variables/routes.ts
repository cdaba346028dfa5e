import { Closed, Uuid, Variable, VariableList, VariableName, VariableSetRequest } from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { Type } from 'typebox';
import { scopedOf } from '../auth/scoped.ts';
import type { Variables } from './index.ts';

const Params = Closed({ workspaceId: Uuid, name: VariableName });
const tags = ['Variables'];

/** Workspace variables and secrets: secrets are written and listed by name, never read back (R7). */
export async function variableRoutes(app: App, options: { variables: Variables }) {
  const { variables } = options;

  app.get(
    '/workspaces/:workspaceId/variables',
    {
      config: { scope: 'variables:read' },
      schema: {
        tags,
        summary: 'List variables: names, and the values of plain ones',
        params: Closed({ workspaceId: Uuid }),
        response: { 200: VariableList },
      },
    },
    async (request) => ({ data: await variables.list(scopedOf(request).workspaceId) }),
  );

  app.put(
    '/workspaces/:workspaceId/variables/:name',
    {
      config: { scope: 'variables:write' },
      schema: {
        tags,
        summary: 'Set a variable; with secret: true it is encrypted and never shown again',
        params: Params,
        body: VariableSetRequest,
        response: { 200: Variable },
      },
    },
    async (request) => {
      const workspaceId = scopedOf(request).workspaceId;
      return variables.set(workspaceId, request.params.name, request.body.value, request.body.secret);
    },
  );

  app.delete(
    '/workspaces/:workspaceId/variables/:name',
    {
      config: { scope: 'variables:write' },
      schema: { tags, summary: 'Delete a variable', params: Params, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      await variables.remove(scopedOf(request).workspaceId, request.params.name);
      return reply.status(204).send(null);
    },
  );
}
