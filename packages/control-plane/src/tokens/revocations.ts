import type { Deps } from '../context.ts';

/**
 * Tells the data planes whose scoped tokens were just revoked (after the commit): each
 * holds a request open for its revocations, answered at once, so a revoked token and the
 * app sessions opened with it stop working there within a second.
 */
export async function announceRevocations(
  deps: Pick<Deps, 'dispatcher'>,
  dataplaneIds: Iterable<string>,
): Promise<void> {
  for (const dataplaneId of dataplaneIds) await deps.dispatcher.wake(dataplaneId, 'revocations');
}
