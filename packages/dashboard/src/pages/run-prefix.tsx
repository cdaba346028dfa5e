import type { Run } from '@sovereign/contract/public';
import { type ReactNode, useEffect } from 'react';
import { controlPlane } from '../api/control-plane.ts';
import { ErrorNote, Loading, Section, Status, Time } from '../components/ui.tsx';
import { useLoad } from '../hooks.ts';
import { Link, navigate } from '../router.tsx';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isRunId = (value: string) => uuid.test(value);

/** How many recent runs a short id is looked for among: as many as `sov` looks at. */
const recent = 200;

/**
 * `/runs/8083dc6a`: the first characters of a run's id, as `sov` and the tables print
 * them. Found as `sov` finds it, among the recent runs (here of every workspace the user
 * sees), and the address is replaced by the run's own; several or none are said.
 */
export function RunByPrefix({ given }: { given: string }) {
  const prefix = given.toLowerCase();
  const wellFormed = /^[0-9a-f-]{4,}$/.test(prefix);
  const found = useLoad(
    async (signal): Promise<Run[]> => {
      if (!wellFormed) return [];
      const { data } = await controlPlane.runs({ limit: recent }, signal);
      return data.filter((r) => r.runId.startsWith(prefix));
    },
    [prefix],
  );
  const only = found.data?.length === 1 ? found.data[0] : undefined;
  useEffect(() => {
    if (only !== undefined) navigate(`/runs/${only.runId}`, { replace: true });
  }, [only]);

  if (!wellFormed) {
    return (
      <NotARun title="Not a run id">
        <code>{given}</code> is not a run id. Run ids look like <code>3f2a9c1e</code> (their first characters) or the
        full UUID.
      </NotARun>
    );
  }
  if (found.error !== undefined) return <ErrorNote error={found.error} what="Runs could not be listed" />;
  if (found.data === undefined || only !== undefined) return <Loading what={`run ${given}`} />;
  if (found.data.length === 0) {
    return (
      <NotARun title="Run not found">
        No recent run of your workspaces has an id starting with <code>{given}</code>. Give more of its id, or the full
        id.
      </NotARun>
    );
  }
  return (
    <Section title={`Several runs start with ${given}`}>
      <p>
        <code>{given}</code> is the start of {found.data.length} runs’ ids. Which one?
      </p>
      <ul className="list">
        {found.data.map((r) => (
          <li key={r.runId}>
            <Link to={`/runs/${r.runId}`}>
              <code>{r.runId}</code>
            </Link>{' '}
            {r.jobName} <Status value={r.status} /> <Time iso={r.queuedAt} relative />
          </li>
        ))}
      </ul>
    </Section>
  );
}

function NotARun({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="card">
      <h1>{title}</h1>
      <p role="alert">{children}</p>
      <p>
        <Link to="/">Go to your organizations</Link> to find it in a workspace’s runs.
      </p>
    </section>
  );
}
