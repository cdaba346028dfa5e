import type { App } from '@sovereign/server-kit/http';
import { auditRoutes } from './audit/routes.ts';
import { installAuthentication } from './auth/principal.ts';
import { authRoutes } from './auth/routes.ts';
import { backfillRoutes } from './backfills/routes.ts';
import type { Deps } from './context.ts';
import { dataplaneRoutes } from './dataplanes/routes.ts';
import { deploymentRoutes } from './deployments/routes.ts';
import { jobRoutes } from './jobs/routes.ts';
import { moveRoutes } from './moves/routes.ts';
import { organizationRoutes } from './organizations/routes.ts';
import { regionRoutes } from './regions/routes.ts';
import { runRoutes } from './runs/routes.ts';
import { signingKeyRoutes } from './signing/routes.ts';
import { scopedTokenRoutes } from './tokens/routes.ts';
import { workspaceRoutes } from './workspaces/routes.ts';

export const publicApiPrefix = '/api/public/v1';

/** The public API: one plugin per area, all behind authentication unless a route says `public`. */
export async function publicApi(app: App, deps: Deps): Promise<void> {
  installAuthentication(app, deps);
  for (const area of [
    authRoutes,
    organizationRoutes,
    regionRoutes,
    dataplaneRoutes,
    workspaceRoutes,
    moveRoutes,
    jobRoutes,
    deploymentRoutes,
    runRoutes,
    backfillRoutes,
    scopedTokenRoutes,
    signingKeyRoutes,
    auditRoutes,
  ]) {
    await area(app, deps);
  }
}
