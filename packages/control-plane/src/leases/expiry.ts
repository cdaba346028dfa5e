import type { Queryable } from '@sovereign/server-kit/sql';
import { endRun, type Wakes } from '../runs/lifecycle.ts';
import { lockExpiredLeases } from './store.ts';

/**
 * Ends the runs whose lease ran out as `lost` (they may then be retried). Not before a
 * lease period and two heartbeats after the control plane started: until every data
 * plane had the time to heartbeat to this (re)started control plane and renew, an old
 * lease says nothing about whether its run is alive, so a restart loses no run. The
 * scheduler calls it at each tick, under the lock that lets one replica work at a time.
 */
export class LeaseExpiry {
  /** No lease expires before this (epoch milliseconds). */
  readonly #from: number;

  constructor(options: { now: () => Date; leaseSeconds: number; heartbeatIntervalSeconds: number }) {
    this.#from = options.now().getTime() + (options.leaseSeconds + 2 * options.heartbeatIntervalSeconds) * 1000;
  }

  /** Ends the runs whose lease ran out before `now`, a batch at a time; returns how many. */
  async expire(tx: Queryable, now: Date, wakes: Wakes): Promise<number> {
    if (now.getTime() < this.#from) return 0;
    const expired = await lockExpiredLeases(tx, now);
    for (const runId of expired) {
      await endRun(tx, runId, 'lost', { reasonCode: 'lease_expired', at: now }, wakes, now);
    }
    return expired.length;
  }
}
