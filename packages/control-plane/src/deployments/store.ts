import type { DeploymentReport } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { DeploymentsTable } from '../tables.ts';

/** The workspace's deployments, newest first (at most 200). */
export async function listDeployments(db: Queryable, workspaceId: string): Promise<DeploymentsTable[]> {
  return db.query<DeploymentsTable>(
    'SELECT * FROM deployments WHERE workspace_id = $1 ORDER BY created_at DESC LIMIT 200',
    [workspaceId],
  );
}

/** What applying a deployment's report changed, when it was applied before. */
export async function findDeploymentChanges(
  db: Queryable,
  deploymentId: string,
): Promise<Pick<DeploymentsTable, 'changes' | 'workspace_id'> | undefined> {
  const [row] = await db.query<Pick<DeploymentsTable, 'changes' | 'workspace_id'>>(
    'SELECT changes, workspace_id FROM deployments WHERE deployment_id = $1',
    [deploymentId],
  );
  return row;
}

/** Whether the workspace has a deployment made after `createdAt`. */
export async function hasNewerDeployment(db: Queryable, workspaceId: string, createdAt: string): Promise<boolean> {
  const [row] = await db.query('SELECT 1 FROM deployments WHERE workspace_id = $1 AND created_at > $2 LIMIT 1', [
    workspaceId,
    createdAt,
  ]);
  return row !== undefined;
}

/** Records a deployment as its data plane reported it: metadata only, and what applying it changed. */
export async function insertDeployment(
  tx: Queryable,
  dataplaneId: string,
  report: DeploymentReport,
  changes: DeploymentsTable['changes'],
): Promise<void> {
  await tx.query(
    `INSERT INTO deployments (deployment_id, workspace_id, dataplane_id, digest, size_bytes, job_names, created_by,
                                created_at, changes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      report.deploymentId,
      report.workspaceId,
      dataplaneId,
      report.digest,
      report.sizeBytes,
      report.jobs.map((j) => j.name),
      report.createdBy,
      report.createdAt,
      JSON.stringify(changes),
    ],
  );
}

export async function setDeploymentChanges(
  tx: Queryable,
  deploymentId: string,
  changes: DeploymentsTable['changes'],
): Promise<void> {
  await tx.query('UPDATE deployments SET changes = $2 WHERE deployment_id = $1', [
    deploymentId,
    JSON.stringify(changes),
  ]);
}
