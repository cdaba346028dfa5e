import { rm } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

const workerFile = new URL('./janitor-worker.ts', import.meta.url);

/** What the janitor's thread does: remove a tree, give a tree to a user, or measure a tree. */
export type Chore =
  | { op: 'remove'; path: string }
  | { op: 'chown'; path: string; uid: number; gid: number }
  | { op: 'measure'; path: string; files: string; stopAbove: Measure };

/**
 * A tree measured in one walk: `files`, the bytes of the regular files under one of its
 * directories; `usage`, what the whole tree takes on a disk, near enough (each file
 * rounded up to a block, each directory and link a block, so a million empty files
 * weigh 4 GB, as the inodes they use are worth).
 */
export interface Measure {
  files: number;
  usage: number;
}

interface Pending {
  chore: Chore;
  resolve(value: Measure | undefined): void;
  reject(error: Error): void;
}

/**
 * Walks run directories on a thread of its own: removes them, hands them to a jailed
 * run's user, adds up their sizes. Node's asynchronous file calls walk a tree with a
 * thread-pool round trip and a callback on the main thread per entry (about 1.3 ms to
 * remove a small run's tree, spent just when the next run is being started); its
 * synchronous ones are native but block. The janitor runs the synchronous ones off the
 * main thread, which sends one message and gets one back.
 */
export class Janitor {
  readonly #pending = new Map<number, Pending>();
  #worker: Worker | undefined;
  #nextId = 1;

  #ensure(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(workerFile);
    worker.unref();
    worker.on('message', ({ id, value, error }: { id: number; value?: Measure; error?: string }) => {
      const pending = this.#pending.get(id);
      this.#pending.delete(id);
      if (error === undefined) pending?.resolve(value);
      else pending?.reject(new Error(error));
    });
    // Lost with the thread: a removal is done the ordinary way, and the next chore starts a new thread.
    const lost = () => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const [id, pending] of this.#pending) {
        this.#pending.delete(id);
        if (pending.chore.op === 'remove') {
          rm(pending.chore.path, { recursive: true, force: true }).then(
            () => pending.resolve(undefined),
            pending.reject,
          );
        } else pending.reject(new Error('the janitor’s thread ended'));
      }
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    this.#worker = worker;
    return worker;
  }

  #do(chore: Chore): Promise<Measure | undefined> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { chore, resolve, reject });
      this.#ensure().postMessage({ id, chore });
    });
  }

  /** Removes `path` and everything under it; a missing path is no error. */
  async remove(path: string): Promise<void> {
    await this.#do({ op: 'remove', path });
  }

  /** Makes `path` and everything under it belong to `uid`:`gid`, links themselves (never what they point to). */
  async chown(path: string, uid: number, gid: number): Promise<void> {
    await this.#do({ op: 'chown', path, uid, gid });
  }

  /** The bytes of the regular files under `path`; the count stops soon after passing `stopAbove`. */
  async size(path: string, stopAbove = Number.MAX_SAFE_INTEGER): Promise<number> {
    return (await this.measure(path, path, { files: stopAbove, usage: Number.POSITIVE_INFINITY })).files;
  }

  /**
   * `path` measured in one walk (Measure), `files` being a directory in it; the walk stops
   * soon after either figure passes its `stopAbove`.
   */
  async measure(path: string, files: string, stopAbove: Measure): Promise<Measure> {
    return (await this.#do({ op: 'measure', path, files, stopAbove })) ?? { files: 0, usage: 0 };
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }
}
