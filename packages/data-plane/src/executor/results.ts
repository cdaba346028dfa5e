import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { unstorablePath } from '@sovereign/protocol';
import type { Queryable } from '@sovereign/protocol/sql';
import type { ArtifactStore } from '../storage/artifacts.ts';

/** A state file larger than this is not saved (said in the run's log): state is cursors, not data. */
export const maxStateBytes = 64 * 1024 * 1024;

/** Files left in a run's output directory become its outputs, with size and digest. */
export async function collectOutputs(
  db: Queryable,
  artifacts: ArtifactStore,
  runId: string,
  outputDir: string,
): Promise<void> {
  const entries = await readdir(outputDir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = join(entry.parentPath, entry.name);
    const info = await lstat(full);
    if (!info.isFile()) continue; // symbolic links could point anywhere: not outputs
    const path = relative(outputDir, full).split(sep).join('/');
    const hash = createHash('sha256');
    await pipeline(createReadStream(full), hash);
    const digest = `sha256:${hash.digest('hex')}`;
    const key = `outputs/${runId}/${createHash('sha256').update(path).digest('hex')}`;
    await artifacts.putFile(key, full);
    await db.query(
      `INSERT INTO run_outputs (run_id, path, size_bytes, digest, artifact_key) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (run_id, path) DO NOTHING`,
      [runId, path, info.size, digest, key],
    );
  }
}

/** The state a successful run left in its state file, or why it cannot be saved. */
export async function readStateFile(
  stateFile: string,
): Promise<{ saved: true; state: unknown } | { saved: false; why: string }> {
  const size = (await stat(stateFile).catch(() => undefined))?.size ?? 0;
  if (size > maxStateBytes) return { saved: false, why: `the state file is over ${maxStateBytes} bytes` };
  let state: unknown;
  try {
    state = JSON.parse(await readFile(stateFile, 'utf8'));
  } catch {
    return { saved: false, why: 'the state file is not valid JSON' };
  }
  const unstorable = unstorablePath(state, 'state');
  if (unstorable !== undefined) {
    return { saved: false, why: `${unstorable.path} ${unstorable.message}, so it cannot be stored` };
  }
  return { saved: true, state };
}
