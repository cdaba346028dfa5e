import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { nsTextToMs } from './clock.ts';

/**
 * A directory jobs write their start stamps into (`date +%s%N > DIR/$SOV_RUN_ID`): the
 * time their process started, taken by the process itself, outside the data plane.
 * inotify wakes us when a stamp lands; a slow poll backs it up.
 */
export class StampDir {
  readonly dir: string;
  readonly #waiters = new Map<string, (ms: number) => void>();
  readonly #watcher: FSWatcher;
  readonly #poll: NodeJS.Timeout;

  private constructor(dir: string) {
    this.dir = dir;
    this.#watcher = watch(dir, (_event, name) => {
      if (name !== null && this.#waiters.has(name)) void this.#check(name);
    });
    this.#poll = setInterval(() => {
      for (const name of this.#waiters.keys()) void this.#check(name);
    }, 25);
  }

  static async create(dir: string): Promise<StampDir> {
    await mkdir(dir, { recursive: true });
    return new StampDir(dir);
  }

  async #check(name: string): Promise<void> {
    const text = await readFile(`${this.dir}/${name}`, 'utf8').catch(() => '');
    if (!text.endsWith('\n')) return;
    const resolve = this.#waiters.get(name);
    this.#waiters.delete(name);
    resolve?.(nsTextToMs(text));
  }

  /** The stamp in `name`, in ms since the epoch, once it is written. */
  wait(name: string, timeoutMs = 60_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(name);
        reject(new Error(`no start stamp ${name} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.set(name, (ms) => {
        clearTimeout(timer);
        resolve(ms);
      });
      void this.#check(name);
    });
  }

  close(): void {
    clearInterval(this.#poll);
    this.#watcher.close();
  }
}
