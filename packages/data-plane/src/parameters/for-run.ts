import type { ClaimedRun, ParameterValue, ReasonCode } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { ManifestJob } from '../deployments/manifest.ts';
import { checkValues } from './declarations.ts';
import { readValues } from './store.ts';

export type RunParameters =
  | { ok: true; values: Record<string, ParameterValue> | undefined }
  | { ok: false; reasonCode: ReasonCode; why: string };

/**
 * The values a claimed run starts with: the set its id names, which must be of the run's
 * workspace and job (the control plane hands out an id, and is not trusted with more),
 * checked again against the job as this deployment declares it, defaults filled in; or,
 * for a run given none (a schedule, `after`), the defaults. Undefined values: the job
 * takes no parameters and none were given, so nothing is read on its start path.
 */
export async function parametersForRun(db: Queryable, run: ClaimedRun, job: ManifestJob): Promise<RunParameters> {
  if (run.parametersId === undefined && (job.params === undefined || job.params.length === 0)) {
    return { ok: true, values: undefined };
  }
  let given: Record<string, unknown> = {};
  if (run.parametersId !== undefined) {
    const stored = await readValues(db, run.workspaceId, run.parametersId);
    if (stored === undefined || stored.job !== run.jobName) {
      return { ok: false, reasonCode: 'parameters_missing', why: 'its parameters are not on this data plane' };
    }
    given = stored.values;
  }
  const checked = checkValues(job.params, given);
  if (!checked.ok) {
    const names = checked.problems.map((p) => `${p.name} ${p.message}`).join('; ');
    return { ok: false, reasonCode: 'parameters_invalid', why: `its parameters do not match the job's: ${names}` };
  }
  return { ok: true, values: checked.values };
}
