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
