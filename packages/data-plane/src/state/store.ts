import type { Queryable } from '@sovereign/server-kit/sql';
import type { Row } from '../storage/tables.ts';

/** A job's incremental state (cursors, primary keys): kept here, never sent to the control plane (R6). */
export async function readState(
  db: Queryable,
  workspaceId: string,
  jobName: string,
): Promise<{ state: unknown; updatedAt: string; updatedByRun: string | null } | undefined> {
  const [row] = await db.query<Row<'job_state', 'state' | 'updated_at' | 'updated_by_run'>>(
    'SELECT state, updated_at, updated_by_run FROM job_state WHERE workspace_id = $1 AND job_name = $2',
    [workspaceId, jobName],
  );
  return row && { state: row.state, updatedAt: row.updated_at.toISOString(), updatedByRun: row.updated_by_run };
}

export async function writeState(
  db: Queryable,
  workspaceId: string,
  jobName: string,
  state: unknown,
  runId: string | null,
): Promise<void> {
  await db.query(
    `INSERT INTO job_state (workspace_id, job_name, state, updated_at, updated_by_run) VALUES ($1, $2, $3, now(), $4)
     ON CONFLICT (workspace_id, job_name) DO UPDATE SET state = EXCLUDED.state, updated_at = now(),
       updated_by_run = EXCLUDED.updated_by_run`,
    [workspaceId, jobName, JSON.stringify(state), runId],
  );
}

/**
 * Where a job name stands in a workspace: in its current (newest) deployment, only in
 * older ones (archived: the deploy that dropped it kept its state), or in none.
 */
export type JobStanding = 'current' | 'archived' | 'unknown';

export async function jobStanding(db: Queryable, workspaceId: string, jobName: string): Promise<JobStanding> {
  // `jobs` is the manifest's array of jobs: containment finds a name without unpacking it.
  const named = JSON.stringify([{ name: jobName }]);
  const [row] = await db.query<{ current: boolean | null; ever: boolean }>(
    `SELECT (SELECT jobs FROM deployments WHERE workspace_id = $1
              ORDER BY created_at DESC, deployment_id DESC LIMIT 1) @> $2::jsonb AS current,
            EXISTS (SELECT 1 FROM deployments WHERE workspace_id = $1 AND jobs @> $2::jsonb) AS ever`,
    [workspaceId, named],
  );
  if (row?.current === true) return 'current';
  return row?.ever === true ? 'archived' : 'unknown';
}
