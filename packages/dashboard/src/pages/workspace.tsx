import { controlPlane } from '../api/control-plane.ts';
import { MovedNote } from '../components/moved.tsx';
import { ErrorNote, Loading } from '../components/ui.tsx';
import { useLoad } from '../hooks.ts';
import { roleIn } from '../permissions.ts';
import { Link } from '../router.tsx';
import { useMe } from '../session.tsx';
import { JobsTab } from './jobs.tsx';
import { RunsTab } from './runs.tsx';
import { VariablesTab } from './variables.tsx';

export type WorkspaceTab = 'jobs' | 'runs' | 'variables';

const tabs: Array<{ tab: WorkspaceTab; label: string; suffix: string }> = [
  { tab: 'jobs', label: 'Jobs', suffix: '' },
  { tab: 'runs', label: 'Runs', suffix: '/runs' },
  { tab: 'variables', label: 'Variables', suffix: '/variables' },
];

/** A workspace: its jobs, its runs, and its variables (the last read from its data plane). */
export function WorkspacePage({ workspaceId, tab }: { workspaceId: string; tab: WorkspaceTab }) {
  const { me } = useMe();
  const workspace = useLoad((signal) => controlPlane.workspace(workspaceId, signal), [workspaceId]);
  if (workspace.data === undefined) {
    return workspace.error === undefined ? <Loading what="the workspace" /> : <ErrorNote error={workspace.error} />;
  }
  const ws = workspace.data;
  const organization = me.organizations.find((o) => o.organizationId === ws.organizationId);
  // A moved workspace is read only: what its role may do there, the APIs refuse anyway.
  const role = ws.movedTo === null ? roleIn(me, ws.organizationId) : 'viewer';
  return (
    <>
      <p className="crumbs">
        <Link to="/">Organizations</Link> / {organization?.name ?? 'Organization'}
      </p>
      <h1>
        {ws.name} <span className="pill">region {ws.dataResidency}</span>
        {ws.movedTo !== null && <span className="pill warn">moved</span>}
      </h1>
      <MovedNote workspace={ws} />
      <nav className="tabs" aria-label="Workspace">
        {tabs.map((t) => (
          <Link
            key={t.tab}
            to={`/workspaces/${ws.workspaceId}${t.suffix}`}
            aria-current={t.tab === tab ? 'page' : undefined}
          >
            {t.label}
          </Link>
        ))}
      </nav>
      {tab === 'jobs' && <JobsTab workspace={ws} role={role} />}
      {tab === 'runs' && <RunsTab workspace={ws} />}
      {tab === 'variables' && <VariablesTab workspace={ws} role={role} />}
    </>
  );
}
