import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Database } from '@sovereign/server-kit/sql';

const channel = 'sov_runs';

/**
 * Why a data plane is woken: runs were queued for it, or a cancel was asked for one it
 * holds. A claim answers both, but reads its instance's cancels only for the latter.
 */
export type Wake = 'runs' | 'batch' | 'interactive' | 'cancels';
/** What a data plane can be told at once: work for its claims, or a revoked token. */
export type News = Wake | 'revocations';
/** How a wait ended: a wake, or its time ran out (or it was aborted). */
export type Woken = Wake | 'timeout';

/**
 * Wakes the claims held open by data plane instances the moment there is something
 * for them (a queued run, a cancel): in this process by an event, across control
 * plane replicas by NOTIFY. No polling interval stands between a trigger and a start.
 */
export class Dispatcher {
  readonly #db: Database;
  readonly #events = new EventEmitter();
  /** Tags this replica's notifications: it woke its own claims already, without the database. */
  readonly #replicaId = randomUUID();
  #unlisten: (() => Promise<void>) | undefined;

  constructor(db: Database) {
    this.#db = db;
    this.#events.setMaxListeners(0);
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#db.listen(channel, (payload) => {
      const [from, dataplaneId, what] = payload.split(' ');
      if (from === this.#replicaId || dataplaneId === undefined) return;
      if (what === 'revocations') this.#events.emit(revocationsOf(dataplaneId));
      else this.#events.emit(dataplaneId, isWake(what) ? what : 'runs');
    });
  }

  async stop(): Promise<void> {
    await this.#unlisten?.();
    this.#events.removeAllListeners();
  }

  /** Tells every replica that a data plane has work, or a revoked token (call after the commit). */
  async wake(dataplaneId: string, what: News = 'runs'): Promise<void> {
    if (what === 'revocations') this.#events.emit(revocationsOf(dataplaneId));
    else this.#events.emit(dataplaneId, what);
    // Other replicas hear it through NOTIFY. Hearing its own again would send every claim
    // held open here back to the database for nothing.
    await this.#db.notify(channel, `${this.#replicaId} ${dataplaneId} ${what}`).catch(() => {});
  }

  /** Resolves when a token of the data plane is revoked (true), after `ms`, or when `signal` aborts. */
  waitForRevocations(dataplaneId: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const key = revocationsOf(dataplaneId);
      const done = (revoked: boolean) => {
        clearTimeout(timer);
        this.#events.off(key, onRevoked);
        signal?.removeEventListener('abort', timedOut);
        resolve(revoked);
      };
      const onRevoked = () => done(true);
      const timedOut = () => done(false);
      const timer = setTimeout(timedOut, ms);
      this.#events.once(key, onRevoked);
      signal?.addEventListener('abort', timedOut, { once: true });
    });
  }

  /** Resolves when the data plane has work, after `ms`, or when `signal` aborts. */
  wait(dataplaneId: string, ms: number, signal?: AbortSignal): Promise<Woken> {
    return new Promise((resolve) => {
      const done = (why: Woken) => {
        clearTimeout(timer);
        this.#events.off(dataplaneId, done);
        signal?.removeEventListener('abort', timedOut);
        resolve(why);
      };
      const timedOut = () => done('timeout');
      const timer = setTimeout(timedOut, ms);
      this.#events.once(dataplaneId, done);
      signal?.addEventListener('abort', timedOut, { once: true });
    });
  }
}

function isWake(what: string | undefined): what is Wake {
  return what === 'runs' || what === 'batch' || what === 'interactive' || what === 'cancels';
}

/** Revocations travel under their own event, so they never wake a claim. */
function revocationsOf(dataplaneId: string): string {
  return `revocations ${dataplaneId}`;
}
