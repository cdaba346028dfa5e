import { lchownSync, lstatSync, rmSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { Chore, Measure } from './janitor.ts';
import { treeEntries } from './tree-walk.ts';

/** The unit a file takes on a disk, and what a directory, a link or an empty file is counted. */
const block = 4096;

function perform(chore: Chore): Measure | undefined {
  switch (chore.op) {
    case 'remove':
      rmSync(chore.path, { recursive: true, force: true });
      return undefined;
    case 'chown':
      for (const path of treeEntries(Buffer.from(chore.path))) lchownSync(path, chore.uid, chore.gid);
      return undefined;
    case 'measure': {
      const measured = { files: 0, usage: 0 };
      const files = Buffer.from(chore.files);
      const under = Buffer.concat([files, Buffer.from('/')]);
      for (const path of treeEntries(Buffer.from(chore.path))) {
        const info = lstatSync(path, { throwIfNoEntry: false });
        if (info === undefined) continue;
        measured.usage += info.isFile() ? Math.ceil(Math.max(info.size, 1) / block) * block : block;
        const inFiles = path.equals(files) || path.subarray(0, under.length).equals(under);
        if (info.isFile() && inFiles) measured.files += info.size;
        if (measured.files > chore.stopAbove.files || measured.usage > chore.stopAbove.usage) break;
      }
      return measured;
    }
  }
}

/** The janitor's thread: does each chore it is sent, synchronously, and says when. */
parentPort?.on('message', ({ id, chore }: { id: number; chore: Chore }) => {
  try {
    parentPort?.postMessage({ id, value: perform(chore) });
  } catch (error) {
    parentPort?.postMessage({ id, error: String(error) });
  }
});
