/**
 * Data planes to wake after the transaction that queued their runs commits: gathered by
 * whatever queues runs (a trigger, a run's end, the scheduler, a backfill), used once the
 * transaction is done.
 */
export type Wakes = Set<string>;
