import { EventEmitter } from 'node:events';
import type { Database } from '@sovereign/protocol/sql';

const channel = 'sov_runs';

/**
 * Wakes the claims held open by data plane instances the moment there is something
 * for them (a queued run, a cancel): in this process by an event, across control
 * plane replicas by NOTIFY. No polling interval stands between a trigger and a start.
 */
export class Dispatcher {
  readonly #db: Database;
  readonly #events = new EventEmitter();
  #unlisten: (() => Promise<void>) | undefined;

  constructor(db: Database) {
    this.#db = db;
    this.#events.setMaxListeners(0);
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#db.listen(channel, (dataplaneId) => this.#events.emit(dataplaneId));
  }

  async stop(): Promise<void> {
    await this.#unlisten?.();
    this.#events.removeAllListeners();
  }

  /** Tells every replica that a data plane has work (call after the commit). */
  async wake(dataplaneId: string): Promise<void> {
    this.#events.emit(dataplaneId);
    // Other replicas hear it through NOTIFY; this one hears it twice, which is harmless.
    await this.#db.notify(channel, dataplaneId).catch(() => {});
  }

  /** Resolves when the data plane has work, after `ms`, or when `signal` aborts. */
  wait(dataplaneId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#events.off(dataplaneId, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#events.once(dataplaneId, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
