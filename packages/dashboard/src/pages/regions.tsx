import type { Dataplane, DataplaneHealth, Region } from '@sovereign/contract/public';
import { controlPlane } from '../api/control-plane.ts';
import { ErrorNote, Loading, Section, Status, Time } from '../components/ui.tsx';
import { useLoad } from '../hooks.ts';
import { Link } from '../router.tsx';
import { useMe } from '../session.tsx';

interface PlaneWithHealth {
  plane: Dataplane;
  health: DataplaneHealth | undefined;
  error: Error | undefined;
}

/** The regions an organization may use, their data planes, and each one's health from its heartbeats. */
export function RegionsPage({ organizationId }: { organizationId: string }) {
  const { me } = useMe();
  const organization = me.organizations.find((o) => o.organizationId === organizationId);
  const loaded = useLoad(
    async (signal) => {
      const regions = await controlPlane.regions(organizationId, signal);
      // No regions: no data planes (an empty filter would ask for every organization's).
      const planes =
        regions.length === 0
          ? []
          : await controlPlane.dataplanes(
              regions.map((r) => r.regionId),
              signal,
            );
      const withHealth = await Promise.all(
        planes.map(async (plane): Promise<PlaneWithHealth> => {
          try {
            return { plane, health: await controlPlane.dataplaneHealth(plane.dataplaneId, signal), error: undefined };
          } catch (error) {
            return { plane, health: undefined, error: error as Error };
          }
        }),
      );
      return { regions, planes: withHealth };
    },
    [organizationId],
    10_000,
  );

  return (
    <>
      <p className="crumbs">
        <Link to="/">Organizations</Link> / {organization?.name ?? 'Organization'}
      </p>
      <h1>Regions and data planes</h1>
      <ErrorNote error={loaded.error} />
      {loaded.data === undefined && loaded.error === undefined && <Loading what="regions" />}
      {loaded.data?.regions.length === 0 && <p>No region is usable by this organization yet.</p>}
      {loaded.data?.regions.map((region) => (
        <RegionCard
          key={region.regionId}
          region={region}
          shared={region.organizationId !== organizationId}
          planes={loaded.data?.planes.filter((p) => p.plane.regionId === region.regionId) ?? []}
        />
      ))}
    </>
  );
}

function RegionCard({ region, shared, planes }: { region: Region; shared: boolean; planes: PlaneWithHealth[] }) {
  return (
    <Section
      title={`Region ${region.name}`}
      actions={
        <span className="card-actions">
          {shared && <span className="pill">shared</span>}
          {!region.enabled && <span className="pill">disabled</span>}
        </span>
      }
    >
      {planes.length === 0 ? (
        <p className="muted">No data plane in this region.</p>
      ) : (
        <table className="responsive">
          <caption className="sr-only">Data planes of region {region.name}</caption>
          <thead>
            <tr>
              <th scope="col">Data plane</th>
              <th scope="col">Health</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">Version</th>
              <th scope="col">Instances</th>
            </tr>
          </thead>
          <tbody>
            {planes.map(({ plane, health, error }) => (
              <tr key={plane.dataplaneId}>
                <td data-label="Data plane">
                  {plane.name}
                  {!plane.enabled && <span className="pill">disabled</span>}
                </td>
                <td data-label="Health">
                  {health !== undefined ? (
                    <>
                      <Status value={health.status} />
                      {health.publicUrlMismatch != null && (
                        <span className="pill" title={`refused at ${health.publicUrlMismatch.at}`}>
                          refused an instance at {health.publicUrlMismatch.reported}
                        </span>
                      )}
                    </>
                  ) : (
                    <span className="error">{error?.message}</span>
                  )}
                </td>
                <td data-label="Last heartbeat">
                  <Time iso={health?.lastHeartbeatAt ?? null} relative />
                </td>
                <td data-label="Version">{health?.version ?? '—'}</td>
                <td data-label="Instances">
                  {health === undefined || health.instances.length === 0 ? (
                    '0'
                  ) : (
                    <details>
                      <summary>{health.instances.length}</summary>
                      <ul className="list compact">
                        {health.instances.map((i, n) => (
                          <li key={i.instanceId ?? `${i.startedAt}-${n}`}>
                            <Status value={i.status} /> {i.publicUrl === undefined ? '' : `${i.publicUrl} · `}v
                            {i.version} · {i.heldRuns === undefined ? '' : `${i.heldRuns}/`}
                            {i.capacity} runs · <Time iso={i.lastHeartbeatAt} relative />
                          </li>
                        ))}
                      </ul>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
