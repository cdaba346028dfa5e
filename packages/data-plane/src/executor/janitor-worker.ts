import { rmSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

/** The janitor's thread: removes each tree it is sent, synchronously, and says when. */
parentPort?.on('message', ({ id, path }: { id: number; path: string }) => {
  try {
    rmSync(path, { recursive: true, force: true });
    parentPort?.postMessage({ id });
  } catch (error) {
    parentPort?.postMessage({ id, error: String(error) });
  }
});
