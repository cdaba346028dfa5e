import type { MyOrganization, Workspace } from '@sovereign/contract/public';
import { type FormEvent, useState } from 'react';
import { controlPlane } from '../api/control-plane.ts';
import { ErrorNote, Loading, Section } from '../components/ui.tsx';
import { useAction, useLoad } from '../hooks.ts';
import { may, roleIn } from '../permissions.ts';
import { Link, navigate } from '../router.tsx';
import { useMe } from '../session.tsx';

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
  const [name, setName] = useState('');
  const create = useAction(async () => {
    await controlPlane.createOrganization(name.trim());
    setName('');
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
          <button type="submit" disabled={create.pending}>
            Create organization
          </button>
        </form>
        <ErrorNote error={create.error} />
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
              <span className="muted"> · region {w.dataResidency}</span>
            </li>
          ))}
        </ul>
      )}
      {may.createWorkspaces(role) && (
        <NewWorkspace organizationId={organization.organizationId} onCreated={onCreated} />
      )}
    </Section>
  );
}

function NewWorkspace({ organizationId, onCreated }: { organizationId: string; onCreated(): void }) {
  const regions = useLoad((signal) => controlPlane.regions(organizationId, signal), [organizationId]);
  const [name, setName] = useState('');
  const [regionId, setRegionId] = useState('');
  const create = useAction(async () => {
    const chosen = regionId || regions.data?.find((r) => r.enabled)?.regionId || '';
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
            <option value="">Choose a region</option>
            {regions.data
              ?.filter((r) => r.enabled)
              .map((r) => (
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
      <ErrorNote error={create.error ?? regions.error} />
    </details>
  );
}
