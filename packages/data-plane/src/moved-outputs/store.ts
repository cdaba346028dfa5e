import type { MovedOutput } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { Row } from '../storage/tables.ts';

/**
 * Outputs of another workspace's runs, copied into this one when it moved to this region
 * (issue 22): named by the old run's id and their path, kept here like any output (R1).
 */
type MovedRow = Row<'moved_outputs', 'run_id' | 'path' | 'size_bytes' | 'digest' | 'moved_at'>;

function toMoved(row: MovedRow): MovedOutput {
  return {
    runId: row.run_id,
    path: row.path,
    sizeBytes: Number(row.size_bytes),
    digest: row.digest,
    movedAt: row.moved_at.toISOString(),
  };
}

const columns = 'run_id, path, size_bytes, digest, moved_at';

/** The workspace's moved outputs, of one old run or all, by run and path (1000 at most). */
export async function listMovedOutputs(
  db: Queryable,
  workspaceId: string,
  runId: string | null,
): Promise<MovedOutput[]> {
  const rows = await db.query<MovedRow>(
    `SELECT ${columns} FROM moved_outputs WHERE workspace_id = $1 AND ($2::uuid IS NULL OR run_id = $2)
      ORDER BY run_id, path LIMIT 1000`,
    [workspaceId, runId],
  );
  return rows.map(toMoved);
}

/** One moved output with where its bytes are; undefined when the workspace has none such. */
export async function findMovedOutput(
  db: Queryable,
  workspaceId: string,
  runId: string,
  path: string,
): Promise<(MovedOutput & { artifactKey: string }) | undefined> {
  const [row] = await db.query<MovedRow & Row<'moved_outputs', 'artifact_key'>>(
    `SELECT ${columns}, artifact_key FROM moved_outputs WHERE workspace_id = $1 AND run_id = $2 AND path = $3`,
    [workspaceId, runId, path],
  );
  return row === undefined ? undefined : { ...toMoved(row), artifactKey: row.artifact_key };
}

/** Records a moved output (its bytes stored under `artifactKey`); a second copy of it replaces the first. */
export async function upsertMovedOutput(
  db: Queryable,
  output: { workspaceId: string; runId: string; path: string; sizeBytes: number; digest: string; artifactKey: string },
): Promise<MovedOutput> {
  const [row] = await db.query<MovedRow>(
    `INSERT INTO moved_outputs (workspace_id, run_id, path, size_bytes, digest, artifact_key)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (workspace_id, run_id, path) DO UPDATE
       SET size_bytes = EXCLUDED.size_bytes, digest = EXCLUDED.digest, artifact_key = EXCLUDED.artifact_key,
           moved_at = now()
     RETURNING ${columns}`,
    [output.workspaceId, output.runId, output.path, output.sizeBytes, output.digest, output.artifactKey],
  );
  if (row === undefined) throw new Error('a moved output vanished as it was written');
  return toMoved(row);
}
