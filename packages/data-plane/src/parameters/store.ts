import { randomUUID } from 'node:crypto';
import type { ParameterValue } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { ManifestJob } from '../deployments/manifest.ts';
import type { Row, With } from '../storage/tables.ts';

/** A stored set of a run's values (issue 20): customer data, kept here only (R1). */
export interface StoredValues {
  parametersId: string;
  workspaceId: string;
  job: string;
  values: Record<string, ParameterValue>;
  createdAt: string;
}

type ParametersRow = With<Row<'run_parameters'>, { parameter_values: Record<string, ParameterValue> }>;

function toStored(row: ParametersRow): StoredValues {
  return {
    parametersId: row.parameters_id,
    workspaceId: row.workspace_id,
    job: row.job_name,
    values: row.parameter_values,
    createdAt: row.created_at.toISOString(),
  };
}

/** The job of this name in the workspace's current (newest) deployment, with its declarations; undefined when none. */
export async function currentJob(
  db: Queryable,
  workspaceId: string,
  jobName: string,
): Promise<ManifestJob | undefined> {
  const [row] = await db.query<{ job: ManifestJob | null }>(
    `SELECT (SELECT j FROM jsonb_array_elements(d.jobs) AS j WHERE j->>'name' = $2) AS job
       FROM deployments d WHERE d.workspace_id = $1 ORDER BY d.created_at DESC, d.deployment_id DESC LIMIT 1`,
    [workspaceId, jobName],
  );
  return row?.job ?? undefined;
}

export async function storeValues(
  db: Queryable,
  workspaceId: string,
  jobName: string,
  values: Record<string, ParameterValue>,
  createdBy: string,
): Promise<StoredValues> {
  const [row] = await db.query<ParametersRow>(
    `INSERT INTO run_parameters (parameters_id, workspace_id, job_name, parameter_values, created_by)
     VALUES ($1, $2, $3, $4, $5) RETURNING *`,
    [randomUUID(), workspaceId, jobName, JSON.stringify(values), createdBy],
  );
  if (row === undefined) throw new Error('the parameters were not stored');
  return toStored(row);
}

/** A set of the workspace's parameters; one of another workspace is not found. */
export async function readValues(
  db: Queryable,
  workspaceId: string,
  parametersId: string,
): Promise<StoredValues | undefined> {
  const [row] = await db.query<ParametersRow>(
    'SELECT * FROM run_parameters WHERE parameters_id = $1 AND workspace_id = $2',
    [parametersId, workspaceId],
  );
  return row === undefined ? undefined : toStored(row);
}
