import type { MyOrganization, Workspace } from '@sovereign/contract/public';
import { type FormEvent, useState } from 'react';
import { controlPlane } from '../api/control-plane.ts';
import { ErrorNote, Loading, Section } from '../components/ui.tsx';
import { useAction, useLoad } from '../hooks.ts';
import { may, roleIn } from '../permissions.ts';
import { Link, navigate } from '../router.tsx';
import { useMe } from '../session.tsx';
import { noOrganizationRegion } from './organization.tsx';

/**
 * The instance's shared regions, the ones a new organization may keep its data in: of
 * every region the user may use (GET /regions without an organization), those not of an
 * organization of their own. Someone in no organization yet sees them too.
 */
function useSharedRegions(organizations: MyOrganization[] | undefined) {
  const own = organizations?.filter((o) => !o.isDefault).map((o) => o.organizationId) ?? [];
  return useLoad(
    async (signal) => {
      if (organizations === undefined) return [];
      const regions = await controlPlane.regions(undefined, signal);
      return regions.filter((r) => r.enabled && !own.includes(r.organizationId));
    },
    [organizations === undefined, own.join(',')],
  );
}

/** Organizations you belong to, with their workspaces. */
export function HomePage() {
  const { reload: reloadMe } = useMe();
  const loaded = useLoad(async (signal) => {
    const [organizations, workspaces] = await Promise.all([
      controlPlane.organizations(signal),
      controlPlane.workspaces(undefined, signal),
    ]);
    return { organizations, workspaces };
  }, []);
  const shared = useSharedRegions(loaded.data?.organizations);
  const [name, setName] = useState('');
  const [regionId, setRegionId] = useState('');
  const create = useAction(async () => {
    await controlPlane.createOrganization(name.trim(), regionId === '' ? undefined : regionId);
    setName('');
    setRegionId('');
    reloadMe();
    loaded.reload();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };

  return (
    <>
      <h1>Organizations</h1>
      <ErrorNote error={loaded.error} />
      {loaded.data === undefined && loaded.error === undefined && <Loading what="organizations" />}
      {loaded.data?.organizations.length === 0 && <p>You belong to no organization yet: create one below.</p>}
      {loaded.data?.organizations.map((org) => (
        <OrganizationCard
          key={org.organizationId}
          organization={org}
          workspaces={loaded.data?.workspaces.filter((w) => w.organizationId === org.organizationId) ?? []}
          onCreated={loaded.reload}
        />
      ))}
      <Section title="New organization">
        <form className="inline" onSubmit={submit}>
          <label>
            Organization name
            <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            Data region (cannot be changed later)
            <select value={regionId} onChange={(e) => setRegionId(e.target.value)} aria-describedby="org-region-hint">
              <option value="">{noOrganizationRegion}</option>
              {shared.data?.map((r) => (
                <option key={r.regionId} value={r.regionId}>
                  {r.name}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={create.pending}>
            Create organization
          </button>
        </form>
        <p id="org-region-hint" className="muted small">
          With a data region, every workspace of the organization keeps its data there, for good: it cannot be changed
          later.
        </p>
        <ErrorNote error={create.error ?? shared.error} />
      </Section>
    </>
  );
}

function OrganizationCard({
  organization,
  workspaces,
  onCreated,
}: {
  organization: MyOrganization;
  workspaces: Workspace[];
  onCreated(): void;
}) {
  const { me } = useMe();
  const role = roleIn(me, organization.organizationId);
  return (
    <Section
      title={organization.name}
      actions={
        <span className="card-actions">
          <span className="pill">{role}</span>
          {organization.dataResidency !== null && (
            <span className="pill">data region {organization.dataResidency}</span>
          )}
          <Link to={`/organizations/${organization.organizationId}`} aria-label={`Settings of ${organization.name}`}>
            Settings
          </Link>
          <Link to={`/organizations/${organization.organizationId}/regions`}>Regions and data planes</Link>
        </span>
      }
    >
      {workspaces.length === 0 ? (
        <p className="muted">No workspaces yet.</p>
      ) : (
        <ul className="list" aria-label={`Workspaces of ${organization.name}`}>
          {workspaces.map((w) => (
            <li key={w.workspaceId}>
              <Link to={`/workspaces/${w.workspaceId}`}>{w.name}</Link>
              <span className="muted">
                {' '}
                · region {w.dataResidency}
                {w.movedTo !== null && ` · moved to ${w.movedTo.toWorkspaceName} in ${w.movedTo.toDataResidency}`}
              </span>
            </li>
          ))}
        </ul>
      )}
      {may.createWorkspaces(role) && <NewWorkspace organization={organization} onCreated={onCreated} />}
    </Section>
  );
}

function NewWorkspace({ organization, onCreated }: { organization: MyOrganization; onCreated(): void }) {
  const { organizationId } = organization;
  // An organization with a data region has every workspace there: only that one is offered.
  const fixed = organization.regionId;
  const regions = useLoad(
    async (signal) =>
      (await controlPlane.regions(organizationId, signal)).filter(
        (r) => r.enabled && (fixed === null || r.regionId === fixed),
      ),
    [organizationId, fixed],
  );
  const [name, setName] = useState('');
  const [regionId, setRegionId] = useState(fixed ?? '');
  const create = useAction(async () => {
    const chosen = regionId || regions.data?.[0]?.regionId || '';
    const workspace = await controlPlane.createWorkspace({ name: name.trim(), organizationId, regionId: chosen });
    onCreated();
    navigate(`/workspaces/${workspace.workspaceId}`);
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  return (
    <details className="new-workspace">
      <summary>New workspace</summary>
      <form className="inline" onSubmit={submit}>
        <label>
          Workspace name
          <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Region (permanent)
          <select required value={regionId} onChange={(e) => setRegionId(e.target.value)}>
            {fixed === null && <option value="">Choose a region</option>}
            {regions.data?.map((r) => (
              <option key={r.regionId} value={r.regionId}>
                {r.name}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={create.pending}>
          Create workspace
        </button>
      </form>
      {fixed !== null && (
        <p className="muted small">
          The organization keeps its data in {organization.dataResidency}: its workspaces are all there.
        </p>
      )}
      <ErrorNote error={create.error ?? regions.error} />
    </details>
  );
}
