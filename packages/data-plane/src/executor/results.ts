import { createHash } from 'node:crypto';
import { constants, createReadStream, writeFileSync } from 'node:fs';
import { chown, lstat, open, readdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { jsonNestsDeeperThan, maxStateDepth, unstorablePath } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { ArtifactStore } from '../storage/artifacts.ts';

/** A state file larger than this is not saved (said in the run's log): state is cursors, not data. */
export const maxStateBytes = 64 * 1024 * 1024;

/**
 * Files left in a run's output directory become its outputs, with size and digest, up to
 * `maxBytes` in all; `complete` is false when some were left out for it. Read after the
 * run's processes are gone. What is not a regular file (a link that could point anywhere
 * on this machine, a pipe, a device) is not an output, and every file is opened without
 * following a link, so nothing the job left can make the data plane read another file.
 */
export async function collectOutputs(
  db: Queryable,
  artifacts: ArtifactStore,
  runId: string,
  outputDir: string,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Promise<{ complete: boolean; refused?: boolean }> {
  // The run's home is its user's: the job may have made `outputs` a link (to a host
  // directory, to another run's stored outputs), which this root process would follow,
  // moving what it leads to into the run's outputs. Only a real directory is collected.
  // Nothing of the run is left to swap it after this look: its jail has ended (the
  // socket its processes held is closed before a run's end is handled).
  const top = await lstat(outputDir).catch(() => undefined);
  if (top !== undefined && !top.isDirectory()) return { complete: true, refused: true };
  const entries = await readdir(outputDir, { recursive: true, withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const entry of entries) {
    const full = join(entry.parentPath, entry.name);
    const info = await lstat(full);
    if (!info.isFile()) continue;
    if (total + info.size > maxBytes) return { complete: false };
    total += info.size;
    const path = relative(outputDir, full).split(sep).join('/');
    const file = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW);
    const hash = createHash('sha256');
    try {
      await pipeline(createReadStream('', { fd: file.fd, autoClose: false, start: 0 }), hash);
    } finally {
      await file.close();
    }
    const digest = `sha256:${hash.digest('hex')}`;
    const key = `outputs/${runId}/${createHash('sha256').update(path).digest('hex')}`;
    await artifacts.putFile(key, full);
    await db.query(
      `INSERT INTO run_outputs (run_id, path, size_bytes, digest, artifact_key) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (run_id, path) DO NOTHING`,
      [runId, path, info.size, digest, key],
    );
  }
  return { complete: true };
}

/** Writes the job's saved state where it reads it, its own when it runs as a user of its own. */
export async function writeStateFile(
  path: string,
  state: unknown,
  owner: { uid: number; gid: number } | undefined,
): Promise<void> {
  const text = JSON.stringify(state);
  // Synchronous when small: an asynchronous write costs a thread pool round trip on the start path of every run.
  if (text.length <= 64 * 1024) {
    writeFileSync(path, text, { mode: 0o600 });
  } else {
    await writeFile(path, text, { mode: 0o600 });
  }
  if (owner !== undefined) await chown(path, owner.uid, owner.gid);
}

/**
 * The state a successful run left in its state file, or why it cannot be saved. The
 * file is opened without following a link: a job that made it a link to a file of this
 * machine must not have that file saved as its state.
 */
export async function readStateFile(
  stateFile: string,
): Promise<{ saved: true; state: unknown } | { saved: false; why: string }> {
  let text: string;
  try {
    const file = await open(stateFile, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const info = await file.stat();
      if (!info.isFile()) return { saved: false, why: 'the state file is not a regular file' };
      if (info.size > maxStateBytes) return { saved: false, why: `the state file is over ${maxStateBytes} bytes` };
      text = await file.readFile('utf8');
    } finally {
      await file.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { saved: false, why: 'the state file is gone' };
    if (code === 'ELOOP') return { saved: false, why: 'the state file is a link, not a file' };
    return { saved: false, why: 'the state file cannot be read' };
  }
  // Before parsing: a state nested thousands deep is slow to parse and PostgreSQL cannot store it.
  if (jsonNestsDeeperThan(text, maxStateDepth)) {
    return { saved: false, why: `the state file nests deeper than ${maxStateDepth} levels` };
  }
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch {
    return { saved: false, why: 'the state file is not valid JSON' };
  }
  const unstorable = unstorablePath(state, 'state');
  if (unstorable !== undefined) {
    return { saved: false, why: `${unstorable.path} ${unstorable.message}, so it cannot be stored` };
  }
  return { saved: true, state };
}
