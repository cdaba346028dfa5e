import { launchPathParam, launchStateParam } from '@sovereign/contract/interactive';
import { type ReactNode, useEffect, useSyncExternalStore } from 'react';
import { controlPlane, getSession, signOut, subscribeSession } from './api/control-plane.ts';
import { forgetDataplaneTokens } from './api/data-plane.ts';
import { ErrorNote, Loading } from './components/ui.tsx';
import { useLoad } from './hooks.ts';
import { ApiKeysPage } from './pages/api-keys.tsx';
import { HomePage } from './pages/home.tsx';
import { JobPage } from './pages/job.tsx';
import { OpenAppPage } from './pages/open-app.tsx';
import { OrganizationPage } from './pages/organization.tsx';
import { RegionsPage } from './pages/regions.tsx';
import { RunPage } from './pages/run.tsx';
import { isRunId, RunByPrefix } from './pages/run-prefix.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { WorkspacePage } from './pages/workspace.tsx';
import { Link, match, navigate, useLocation } from './router.tsx';
import { MeProvider } from './session.tsx';

export function App() {
  const session = useSyncExternalStore(subscribeSession, getSession);
  const { path, query } = useLocation();

  useEffect(() => {
    if (session === null) forgetDataplaneTokens();
    if (session === null && path !== '/signin') {
      const next = `${location.pathname}${location.search}`;
      navigate(next === '/' ? '/signin' : `/signin?next=${encodeURIComponent(next)}`, { replace: true });
    }
    if (session !== null && path === '/signin') navigate(safeNext(query.get('next')), { replace: true });
  }, [session, path, query]);

  if (session === null || path === '/signin') return <SignInPage />;
  return <SignedIn path={path} query={query} />;
}

/** Only a path of this site, never another origin (`//evil.example`). */
function safeNext(next: string | null): string {
  return next?.startsWith('/') && !next.startsWith('//') ? next : '/';
}

function SignedIn({ path, query }: { path: string; query: URLSearchParams }) {
  const me = useLoad((signal) => controlPlane.me(signal), []);
  if (me.data === undefined) {
    return (
      <Shell email={undefined}>
        {me.error === undefined ? <Loading what="your account" /> : <ErrorNote error={me.error} />}
      </Shell>
    );
  }
  return (
    <MeProvider me={me.data} reload={me.reload}>
      <Shell email={me.data.email}>{route(path, query)}</Shell>
    </MeProvider>
  );
}

/** The pages, by path pattern; the first that matches is shown. */
const pages: Array<[string, (params: Record<string, string>, query: URLSearchParams) => ReactNode | undefined]> = [
  ['/', () => <HomePage />],
  ['/api-keys', () => <ApiKeysPage />],
  ['/organizations/:organizationId', (p) => <OrganizationPage organizationId={p.organizationId ?? ''} />],
  ['/organizations/:organizationId/regions', (p) => <RegionsPage organizationId={p.organizationId ?? ''} />],
  ['/workspaces/:workspaceId', (p) => <WorkspacePage workspaceId={p.workspaceId ?? ''} tab="jobs" />],
  [
    '/workspaces/:workspaceId/:tab',
    (p) =>
      p.tab === 'runs' || p.tab === 'variables' ? (
        <WorkspacePage workspaceId={p.workspaceId ?? ''} tab={p.tab} />
      ) : undefined,
  ],
  ['/workspaces/:workspaceId/jobs/:jobId', (p) => <JobPage workspaceId={p.workspaceId ?? ''} jobId={p.jobId ?? ''} />],
  [
    '/runs/:runId',
    (p) => (isRunId(p.runId ?? '') ? <RunPage runId={p.runId ?? ''} /> : <RunByPrefix given={p.runId ?? ''} />),
  ],
  [
    '/runs/:runId/open',
    (p, q) => (
      <OpenAppPage runId={p.runId ?? ''} state={q.get(launchStateParam) ?? ''} path={q.get(launchPathParam) ?? '/'} />
    ),
  ],
];

function route(path: string, query: URLSearchParams): ReactNode {
  for (const [pattern, page] of pages) {
    const params = match(pattern, path);
    const shown = params === null ? undefined : page(params, query);
    if (shown !== undefined) return shown;
  }
  return (
    <section className="card">
      <h1>Not found</h1>
      <p>
        No page at <code>{path}</code>. <Link to="/">Go to your organizations</Link>.
      </p>
    </section>
  );
}

function Shell({ email, children }: { email: string | undefined; children: ReactNode }) {
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          Sovereign
        </Link>
        <nav aria-label="Main">
          <Link to="/">Organizations</Link>
          <Link to="/api-keys">API keys</Link>
        </nav>
        <div className="account">
          {email !== undefined && <span className="muted email">{email}</span>}
          <button type="button" className="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">{children}</main>
    </>
  );
}
