import { lstatSync, readdirSync } from 'node:fs';

const slash = Buffer.from('/');

/**
 * Every entry under `root` (itself first), depth first, never following a link. Node's
 * own recursive `readdirSync` (and `readdir` without `withFileTypes`) does follow links
 * to directories: over a tree a job or a bundle wrote, two links to `.` made it walk
 * 2^40 paths on the thread that serves every tenant. Paths are bytes: a name that is not
 * UTF-8 (a job's output may have one) decoded to a string names no file, so it would be
 * left out of a measure or a handing over.
 */
export function* treeEntries(root: Buffer): Generator<Buffer> {
  yield root;
  let names: Buffer[];
  try {
    if (!lstatSync(root).isDirectory()) return;
    names = readdirSync(root, { encoding: 'buffer' });
  } catch {
    return;
  }
  for (const name of names) yield* treeEntries(Buffer.concat([root, slash, name]));
}
