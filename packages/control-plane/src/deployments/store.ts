import type { Queryable } from '@sovereign/protocol/sql';
import type { DeploymentsTable } from '../tables.ts';

/** The workspace's deployments, newest first (at most 200). */
export async function listDeployments(db: Queryable, workspaceId: string): Promise<DeploymentsTable[]> {
  return db.query<DeploymentsTable>(
    'SELECT * FROM deployments WHERE workspace_id = $1 ORDER BY created_at DESC LIMIT 200',
    [workspaceId],
  );
}
