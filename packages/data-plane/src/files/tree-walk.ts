import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every entry under `root` (itself first), depth first, never following a link. Node's
 * own recursive `readdirSync` (and `readdir` without `withFileTypes`) does follow links
 * to directories: over a tree a job or a bundle wrote, two links to `.` made it walk
 * 2^40 paths on the thread that serves every tenant.
 */
export function* treeEntries(root: string): Generator<string> {
  yield root;
  let names: string[];
  try {
    if (!lstatSync(root).isDirectory()) return;
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) yield* treeEntries(join(root, name));
}
