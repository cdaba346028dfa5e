import type { DataPlaneClient } from '@sovereign/client';
import { digestOfHeader } from '@sovereign/contract/digest';
import { CliError } from '../errors.ts';
import { shortId } from '../output/format.ts';
import type { StepResult } from './copy.ts';
import type { RunOutputs } from './plan.ts';

/**
 * `--with-outputs n`: the outputs of the old workspace's last runs, each streamed from the
 * old data plane into the new one (its Digest checked there), stored under the new
 * workspace by the old run's id and path. One already there with the same digest is not
 * copied again.
 */
export async function copyOutputs(
  runs: readonly RunOutputs[],
  source: DataPlaneClient,
  target: DataPlaneClient,
): Promise<StepResult> {
  const result: StepResult = { written: [], there: [] };
  for (const { run, files } of runs) {
    const there = new Map((await target.movedOutputs(run.runId)).map((o) => [o.path, o.digest]));
    for (const file of files) {
      const label = `${shortId(run.runId)}/${file.path}`;
      if (there.get(file.path) === file.digest) {
        result.there.push(label);
        continue;
      }
      const response = await source.output(run.runId, file.path);
      const digest = response.headers.get('digest') ?? '';
      if (response.body === null || digestOfHeader(digest) !== file.digest) {
        await response.body?.cancel();
        throw new CliError(`The old data plane answered other bytes than run ${run.runId}'s ${file.path}.`, {
          hint: 'Run the move again.',
        });
      }
      await target.storeMovedOutput(run.runId, file.path, response.body, file.sizeBytes, digest);
      result.written.push(label);
    }
  }
  return result;
}
