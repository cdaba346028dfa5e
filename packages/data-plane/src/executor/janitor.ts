import { rm } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

const workerFile = new URL('./janitor-worker.ts', import.meta.url);

interface Pending {
  path: string;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Removes run working directories on a thread of its own. Node's asynchronous rm walks a
 * tree with a thread-pool round trip and a callback on the main thread per entry (about
 * 1.3 ms for a small run, spent just when the next run is being started); its
 * synchronous one is native but blocks. The janitor runs the synchronous one off the
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
    worker.on('message', ({ id, error }: { id: number; error?: string }) => {
      const pending = this.#pending.get(id);
      this.#pending.delete(id);
      if (error === undefined) pending?.resolve();
      else pending?.reject(new Error(error));
    });
    // Lost with the thread: removed the ordinary way, and the next removal starts a new one.
    const lost = () => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const [id, pending] of this.#pending) {
        this.#pending.delete(id);
        rm(pending.path, { recursive: true, force: true }).then(pending.resolve, pending.reject);
      }
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    this.#worker = worker;
    return worker;
  }

  /** Removes `path` and everything under it; a missing path is no error. */
  remove(path: string): Promise<void> {
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { path, resolve, reject });
      this.#ensure().postMessage({ id, path });
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }
}
