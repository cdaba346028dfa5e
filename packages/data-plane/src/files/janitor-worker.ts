import { lchownSync, lstatSync, rmSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { Chore } from './janitor.ts';
import { treeEntries } from './tree-walk.ts';

/** The unit a file takes on a disk, and what a directory, a link or an empty file is counted. */
const block = 4096;

function perform(chore: Chore): number | undefined {
  switch (chore.op) {
    case 'remove':
      rmSync(chore.path, { recursive: true, force: true });
      return undefined;
    case 'chown':
      for (const path of treeEntries(Buffer.from(chore.path))) lchownSync(path, chore.uid, chore.gid);
      return undefined;
    case 'size': {
      let bytes = 0;
      for (const path of treeEntries(Buffer.from(chore.path))) {
        const info = lstatSync(path, { throwIfNoEntry: false });
        if (info?.isFile()) bytes += info.size;
        if (bytes > chore.stopAbove) break;
      }
      return bytes;
    }
    case 'usage': {
      let bytes = 0;
      for (const path of treeEntries(Buffer.from(chore.path))) {
        const info = lstatSync(path, { throwIfNoEntry: false });
        if (info === undefined) continue;
        bytes += info.isFile() ? Math.ceil(Math.max(info.size, 1) / block) * block : block;
        if (bytes > chore.stopAbove) break;
      }
      return bytes;
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
