import type { Dataplane, DataplaneHealth } from '@sovereign/contract/public';
import { controlPlane } from '../api/control-plane.ts';
import { ErrorNote, Loading, Section, Status } from '../components/ui.tsx';
import { useLoad } from '../hooks.ts';
import { Link } from '../router.tsx';

/** What an organization without a region of its own does instead (dltHub's wording, ours). */
export const noOrganizationRegion = 'None: each workspace picks its region';

/**
 * An organization's settings: its name, its data region, and each workspace with the
 * region its data stays in and the data plane that runs it. The guide's "check which
 * region your workspaces use", as a page.
 */
export function OrganizationPage({ organizationId }: { organizationId: string }) {
  const loaded = useLoad(
    async (signal) => {
      const [organizations, workspaces] = await Promise.all([
        controlPlane.organizations(signal),
        controlPlane.workspaces(organizationId, signal),
      ]);
      const organization = organizations.find((o) => o.organizationId === organizationId);
      const regionIds = [...new Set(workspaces.map((w) => w.regionId))];
      // No workspaces: no data planes to ask for (an empty filter would list every one).
      const planes = regionIds.length === 0 ? [] : await controlPlane.dataplanes(regionIds, signal);
      const health = new Map<string, DataplaneHealth>();
      await Promise.all(
        [...new Set(workspaces.map((w) => w.dataplaneId))].map(async (id) => {
          // A health that cannot be read leaves its cell empty; the rest of the page stands.
          const answer = await controlPlane.dataplaneHealth(id, signal).catch(() => undefined);
          if (answer !== undefined) health.set(id, answer);
        }),
      );
      return {
        organization,
        workspaces,
        planes: new Map<string, Dataplane>(planes.map((p) => [p.dataplaneId, p])),
        health,
      };
    },
    [organizationId],
    10_000,
  );

  const organization = loaded.data?.organization;
  return (
    <>
      <p className="crumbs">
        <Link to="/">Organizations</Link> / {organization?.name ?? 'Organization'} / Settings
      </p>
      <h1>Organization settings</h1>
      <ErrorNote error={loaded.error} />
      {loaded.data === undefined && loaded.error === undefined && <Loading what="the organization" />}
      {loaded.data !== undefined && organization === undefined && <p>You are not a member of this organization.</p>}
      {loaded.data !== undefined && organization !== undefined && (
        <>
          <Section title="General">
            <dl className="facts">
              <dt>Name</dt>
              <dd>{organization.name}</dd>
              <dt>Data region</dt>
              <dd>
                {organization.dataResidency ?? noOrganizationRegion}
                <span className="muted small"> · chosen at creation; cannot be changed</span>
              </dd>
              <dt>Your role</dt>
              <dd>{organization.role}</dd>
            </dl>
            <p className="small">
              <Link to={`/organizations/${organizationId}/regions`}>Regions and data planes</Link>
            </p>
          </Section>
          <Section title="Workspaces and their regions">
            {loaded.data.workspaces.length === 0 ? (
              <p className="muted">No workspaces yet.</p>
            ) : (
              <table className="responsive">
                <caption className="sr-only">Workspaces of {organization.name} and the region of each</caption>
                <thead>
                  <tr>
                    <th scope="col">Workspace</th>
                    <th scope="col">Region</th>
                    <th scope="col">Data plane</th>
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.workspaces.map((w) => {
                    const plane = loaded.data?.planes.get(w.dataplaneId);
                    const health = loaded.data?.health.get(w.dataplaneId);
                    return (
                      <tr key={w.workspaceId}>
                        <td data-label="Workspace">
                          <Link to={`/workspaces/${w.workspaceId}`}>{w.name}</Link>
                        </td>
                        <td data-label="Region">{w.dataResidency}</td>
                        <td data-label="Data plane">
                          {plane?.name ?? <code>{w.dataplaneId.slice(0, 8)}</code>}
                          {health !== undefined && (
                            <>
                              {' '}
                              <Status value={health.status} />
                            </>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
          </Section>
        </>
      )}
    </>
  );
}
