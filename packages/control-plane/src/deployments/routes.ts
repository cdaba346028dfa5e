import { Closed, DeploymentMetadataList, Uuid } from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { principalOf } from '../auth/principal.ts';
import { type Deps, iso } from '../context.ts';
import type { DeploymentsTable } from '../tables.ts';
import { workspaceFor } from '../workspaces/access.ts';
import { listDeployments } from './store.ts';

function toDeployment(row: DeploymentsTable) {
  return {
    deploymentId: row.deployment_id,
    workspaceId: row.workspace_id,
    digest: row.digest,
    sizeBytes: Number(row.size_bytes),
    jobNames: row.job_names,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
  };
}

/** Deployments as metadata: what was deployed where and when; the bundles stay in the data plane. */
export async function deploymentRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.get(
    '/workspaces/:workspaceId/deployments',
    {
      schema: {
        tags: ['Deployments'],
        summary: "The workspace's deployments, newest first (metadata; the bundles stay in the data plane)",
        params: Closed({ workspaceId: Uuid }),
        response: { 200: DeploymentMetadataList },
      },
    },
    async (request) => {
      const workspace = await workspaceFor(db, principalOf(request), request.params.workspaceId, 'viewer');
      return { data: (await listDeployments(db, workspace.workspace_id)).map(toDeployment) };
    },
  );
}
