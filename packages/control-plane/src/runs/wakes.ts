import type { Wake } from './dispatcher.ts';

/**
 * Data planes to wake after the transaction that queued their runs commits: gathered by
 * whatever queues runs (a trigger, a run's end, the scheduler, a backfill), used once the
 * transaction is done. Each says what kind of run it queued when it knows: a claim held
 * open for apps alone (its batch slots are full) is not sent back to the database for a
 * batch run it cannot take, which under a backlog was most of the claims' queries.
 */
export class Wakes {
  readonly #what = new Map<string, Wake>();

  /** A run of `kind` was queued for the data plane ('runs': of either kind). */
  add(dataplaneId: string, kind: 'runs' | 'batch' | 'interactive' = 'runs'): void {
    const was = this.#what.get(dataplaneId);
    this.#what.set(dataplaneId, was === undefined || was === kind ? kind : 'runs');
  }

  /** The data planes to wake, with what they are woken for. */
  [Symbol.iterator](): IterableIterator<[string, Wake]> {
    return this.#what.entries();
  }

  /** The data planes alone (to wake them for something else, such as cancels). */
  dataplanes(): IterableIterator<string> {
    return this.#what.keys();
  }
}
