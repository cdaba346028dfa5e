import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { constants, createReadStream, type Dirent, type Stats, writeFileSync } from 'node:fs';
import { chown, lstat, open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { jsonNestsDeeperThan, maxStateDepth, unstorablePath } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { ArtifactStore } from '../storage/artifacts.ts';

/** A state file larger than this is not saved (said in the run's log): state is cursors, not data. */
export const maxStateBytes = 64 * 1024 * 1024;

/** Entries of a run's output directory that were not kept, counted for the run's own log. */
export interface SkippedOutputs {
  /** Files and directories whose name is not UTF-8 (a directory with all it holds). */
  notUtf8: number;
  /** Entries that could not be read: gone, or refused. */
  unreadable: number;
}

/** A file found under the output directory: its path there ('/'-separated) and on this machine. */
interface FoundFile {
  path: string;
  full: string;
  size: number;
}

/**
 * The regular files under `dir`, depth first, never following a link. Names are read as
 * bytes: one that is not UTF-8 cannot be an output's path (the API and the database speak
 * UTF-8), and decoded lossily it would name another file or none. Such an entry, or one
 * that cannot be read, is counted in `skipped` and the walk goes on: one entry never costs
 * the run its other outputs.
 */
async function* regularFiles(dir: string, prefix: string, skipped: SkippedOutputs): AsyncGenerator<FoundFile> {
  let entries: Dirent<Buffer>[];
  try {
    entries = await readdir(dir, { encoding: 'buffer', withFileTypes: true });
  } catch {
    skipped.unreadable += 1;
    return;
  }
  for (const entry of entries) {
    if (!isUtf8(entry.name)) {
      skipped.notUtf8 += 1;
      continue;
    }
    // Valid UTF-8: the name as a string is the same bytes, so the path below names this very entry.
    const name = entry.name.toString('utf8');
    const full = join(dir, name);
    let info: Stats;
    try {
      info = await lstat(full);
    } catch {
      skipped.unreadable += 1;
      continue;
    }
    if (info.isDirectory()) yield* regularFiles(full, `${prefix}${name}/`, skipped);
    else if (info.isFile()) yield { path: `${prefix}${name}`, full, size: info.size };
  }
}

/** The file's digest, read without following a link; undefined when it cannot be read. */
async function digestOf(full: string): Promise<string | undefined> {
  try {
    const file = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW);
    const hash = createHash('sha256');
    try {
      await pipeline(createReadStream('', { fd: file.fd, autoClose: false, start: 0 }), hash);
    } finally {
      await file.close();
    }
    return `sha256:${hash.digest('hex')}`;
  } catch {
    return undefined;
  }
}

/**
 * Files left in a run's output directory become its outputs, with size and digest, up to
 * `maxBytes` in all; `complete` is false when some were left out for it. Read after the
 * run's processes are gone. What is not a regular file (a link that could point anywhere
 * on this machine, a pipe, a device) is not an output, and every file is opened without
 * following a link, so nothing the job left can make the data plane read another file.
 * Entries skipped for their name or because they cannot be read are counted in `skipped`,
 * for the run's log: the job's author is the one to act on them.
 */
export async function collectOutputs(
  db: Queryable,
  artifacts: ArtifactStore,
  runId: string,
  outputDir: string,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Promise<{ complete: boolean; skipped: SkippedOutputs; refused?: boolean }> {
  const skipped: SkippedOutputs = { notUtf8: 0, unreadable: 0 };
  // The run's home is its user's: the job may have made `outputs` a link (to a host
  // directory, to another run's stored outputs), which this root process would follow,
  // moving what it leads to into the run's outputs. Only a real directory is collected.
  // Nothing of the run is left to swap it after this look: its jail has ended (the
  // socket its processes held is closed before a run's end is handled). A job that left
  // no output directory has no outputs; that is not worth a note.
  const top = await lstat(outputDir).catch(() => undefined);
  if (top === undefined) return { complete: true, skipped };
  if (!top.isDirectory()) return { complete: true, skipped, refused: true };
  let total = 0;
  for await (const { path, full, size } of regularFiles(outputDir, '', skipped)) {
    if (total + size > maxBytes) return { complete: false, skipped };
    const digest = await digestOf(full);
    if (digest === undefined) {
      skipped.unreadable += 1;
      continue;
    }
    total += size;
    const key = `outputs/${runId}/${createHash('sha256').update(path).digest('hex')}`;
    await artifacts.putFile(key, full);
    await db.query(
      `INSERT INTO run_outputs (run_id, path, size_bytes, digest, artifact_key) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (run_id, path) DO NOTHING`,
      [runId, path, size, digest, key],
    );
  }
  return { complete: true, skipped };
}

/** What the run's log says of the entries of its output directory that were not kept (never their names). */
export function skippedOutputNotes(skipped: SkippedOutputs): string[] {
  const notes: string[] = [];
  // The names are the job's text (bytes that are not even UTF-8): the notes only count them.
  if (skipped.notUtf8 === 1) {
    notes.push('sovereign: an output was skipped because its name is not UTF-8');
  } else if (skipped.notUtf8 > 1) {
    notes.push(`sovereign: ${skipped.notUtf8} outputs were skipped because their names are not UTF-8`);
  }
  if (skipped.unreadable === 1) {
    notes.push('sovereign: an output was skipped because it could not be read');
  } else if (skipped.unreadable > 1) {
    notes.push(`sovereign: ${skipped.unreadable} outputs were skipped because they could not be read`);
  }
  return notes;
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
