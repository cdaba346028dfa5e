import type { HeartbeatRequest } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import { cancelsFor, renewLeases, requeueUndelivered } from './store.ts';

/** What a heartbeat tells an instance of the runs it holds, and which went back to the queue. */
export interface HeldRuns {
  /** Runs it listed and holds no more (ended, or lost to an expired lease): it must stop them. */
  fenced: string[];
  /** Runs it holds whose cancel was asked for. */
  cancels: string[];
  /** The data planes of claims that never reached it, requeued: theirs to wake. */
  requeued: string[];
}

/**
 * How old an unlisted claim must be before an older data plane's heartbeat requeues it:
 * a heartbeat sent just before a claim's answer arrived may be read after the claim.
 * Well under the lease, so an undelivered claim is requeued before it could lapse into lost.
 */
function heartbeatSettleSeconds(leaseSeconds: number): number {
  return Math.max(1, Math.min(10, Math.floor(leaseSeconds / 3)));
}

/**
 * A heartbeat's work on the runs an instance holds, in its transaction: renews their
 * leases, finds the cancels to pass on, and requeues the claims it had surely taken in
 * (by `claimedThrough`, or by age from a data plane too old to send it) yet does not list.
 */
export async function settleHeldRuns(
  tx: Queryable,
  dataplaneId: string,
  report: Pick<HeartbeatRequest, 'instanceId' | 'heldRuns' | 'claimedThrough'>,
  leaseSeconds: number,
  now: Date,
): Promise<HeldRuns> {
  const { instanceId, heldRuns, claimedThrough } = report;
  return {
    fenced: await renewLeases(tx, dataplaneId, instanceId, heldRuns, leaseSeconds, now),
    cancels: await cancelsFor(tx, dataplaneId, instanceId),
    requeued: await requeueUndelivered(
      tx,
      dataplaneId,
      instanceId,
      heldRuns,
      claimedThrough === undefined
        ? { before: new Date(now.getTime() - heartbeatSettleSeconds(leaseSeconds) * 1000) }
        : { through: claimedThrough },
    ),
  };
}
