import type { DataplaneHealthStatus } from '@sovereign/contract/health';
import type { Workspace } from '@sovereign/contract/public';
import { controlPlane } from '../api/control-plane.ts';
import { formatAgo } from '../format.ts';
import { useLoad } from '../hooks.ts';

/**
 * Why a queued run waits, when it is its data plane's doing: a workspace may be created
 * in a region whose data plane has not registered yet (Airbyte's guide, step 3), or its
 * data plane may be down; its runs stay queued until it comes up. Said in words, so a
 * run that does not start is not taken for a fault of the job.
 */
export function waitingWords(name: string, status: DataplaneHealthStatus, lastHeartbeatAt: string | null) {
  switch (status) {
    case 'unknown':
      return `Queued: the data plane ${name} has not come online yet; the run starts when it does.`;
    case 'unhealthy':
      return `Queued: the data plane ${name} is offline (last heard from ${formatAgo(lastHeartbeatAt)}); the run starts when it is back.`;
    case 'degraded':
      return `Queued: the data plane ${name} has not reported for over a minute; the run starts when it is back.`;
    case 'healthy':
      return undefined;
  }
}

/**
 * The workspace's data plane's name and health, asked only while a run of it is queued
 * (and again every few seconds then, so the note leaves once the data plane is up).
 */
export function useDataplaneWait(workspace: Workspace | undefined, queued: boolean): string | undefined {
  const dataplaneId = workspace?.dataplaneId;
  const asked = queued && dataplaneId !== undefined;
  const loaded = useLoad(
    async (signal) => {
      if (!queued || dataplaneId === undefined) return undefined;
      const params = { dataplaneId };
      const [plane, health] = await Promise.all([
        controlPlane.call('dataplane', 'GET', '/dataplanes/{dataplaneId}', { params, signal }),
        controlPlane.dataplaneHealth(dataplaneId, signal),
      ]);
      return waitingWords(plane.name, health.status, health.lastHeartbeatAt);
    },
    [dataplaneId, asked],
    () => (asked ? 5000 : false),
  );
  // A data plane the caller may not read stays unsaid: the run's status still shows.
  return asked ? loaded.data : undefined;
}

/** The words, as a note a screen reader announces when they appear. */
export function WaitingNote({ words }: { words: string | undefined }) {
  if (words === undefined) return null;
  return (
    <p className="note warn" role="status">
      {words}
    </p>
  );
}
