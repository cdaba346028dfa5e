import { randomUUID } from 'node:crypto';
import type { DeploymentReport, DeploymentReportResponse, JobMetadata } from '@sovereign/protocol';
import type { Queryable } from '@sovereign/protocol/sql';
import type { DeploymentsTable, JobsTable } from '../tables.ts';

/** A data plane that predates `maxRunning` still gets one run at a time for its interactive jobs. */
function maxRunningOf(job: JobMetadata): number | null {
  return job.maxRunning ?? (job.kind === 'interactive' ? 1 : null);
}

function sameDefinition(row: JobsTable, job: JobMetadata): boolean {
  return (
    row.archived_at === null &&
    row.kind === job.kind &&
    JSON.stringify(row.trigger) === JSON.stringify(job.trigger) &&
    row.timezone === job.timezone &&
    row.timeout_seconds === job.timeoutSeconds &&
    row.retries === job.retries &&
    row.max_running === maxRunningOf(job)
  );
}

/**
 * Applies a data plane's deployment report: upserts the jobs it names and archives
 * the workspace's jobs it no longer names. Delivered twice, it answers the first
 * outcome; delivered after a newer deployment, it is recorded but moves no job back.
 */
export async function applyDeploymentReport(
  tx: Queryable,
  dataplaneId: string,
  report: DeploymentReport,
): Promise<DeploymentReportResponse['jobs']> {
  // One report at a time per workspace, so two deployments cannot interleave their upserts.
  await tx.query('SELECT 1 FROM workspaces WHERE workspace_id = $1 FOR UPDATE', [report.workspaceId]);
  const [existing] = await tx.query<Pick<DeploymentsTable, 'changes'>>(
    'SELECT changes FROM deployments WHERE deployment_id = $1',
    [report.deploymentId],
  );
  if (existing !== undefined) return existing.changes;

  const [newer] = await tx.query('SELECT 1 FROM deployments WHERE workspace_id = $1 AND created_at > $2 LIMIT 1', [
    report.workspaceId,
    report.createdAt,
  ]);
  const changes: DeploymentReportResponse['jobs'] = { added: [], updated: [], unchanged: [], archived: [] };
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
  // A late report of an older deployment is kept as history; the jobs follow the newest.
  if (newer !== undefined) return changes;

  const rows = await tx.query<JobsTable>('SELECT * FROM jobs WHERE workspace_id = $1', [report.workspaceId]);
  const byName = new Map(rows.map((r) => [r.name, r]));
  for (const job of report.jobs) {
    const row = byName.get(job.name);
    if (row === undefined) {
      await tx.query(
        `INSERT INTO jobs (job_id, workspace_id, name, kind, trigger, timezone, timeout_seconds, retries, deployment_id,
                           max_running)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          randomUUID(),
          report.workspaceId,
          job.name,
          job.kind,
          JSON.stringify(job.trigger),
          job.timezone,
          job.timeoutSeconds,
          job.retries,
          report.deploymentId,
          maxRunningOf(job),
        ],
      );
      changes.added.push(job.name);
      continue;
    }
    (sameDefinition(row, job) ? changes.unchanged : changes.updated).push(job.name);
    await tx.query(
      `UPDATE jobs SET kind = $2, trigger = $3, timezone = $4, timeout_seconds = $5, retries = $6,
              deployment_id = $7, max_running = $8, archived_at = NULL, updated_at = now()
        WHERE job_id = $1`,
      [
        row.job_id,
        job.kind,
        JSON.stringify(job.trigger),
        job.timezone,
        job.timeoutSeconds,
        job.retries,
        report.deploymentId,
        maxRunningOf(job),
      ],
    );
  }
  const named = new Set(report.jobs.map((j) => j.name));
  for (const row of rows) {
    if (row.archived_at === null && !named.has(row.name)) {
      await tx.query('UPDATE jobs SET archived_at = now(), updated_at = now() WHERE job_id = $1', [row.job_id]);
      changes.archived.push(row.name);
    }
  }
  await tx.query('UPDATE deployments SET changes = $2 WHERE deployment_id = $1', [
    report.deploymentId,
    JSON.stringify(changes),
  ]);
  return changes;
}
