import { statusWord } from '@sovereign/client';
import type { Run, Workspace } from '@sovereign/contract/public';
import { type RunStatus, RunStatuses } from '@sovereign/contract/run-states';
import { useState } from 'react';
import { controlPlane } from '../api/control-plane.ts';
import { ErrorNote, Loading, Section, Status, Time } from '../components/ui.tsx';
import { useDataplaneWait, WaitingNote } from '../components/waiting.tsx';
import { formatRunDuration } from '../format.ts';
import { useAction, useLoad } from '../hooks.ts';
import { Link } from '../router.tsx';

const live = new Set<RunStatus>(['queued', 'claimed', 'running']);
const pageSize = 25;

/** The workspace's runs, newest first, filtered by job and status; live ones refresh by themselves. */
export function RunsTab({ workspace }: { workspace: Workspace }) {
  const [jobId, setJobId] = useState('');
  const [status, setStatus] = useState<RunStatus | ''>('');
  const [older, setOlder] = useState<{ runs: Run[]; cursor: string | null } | undefined>(undefined);
  const jobs = useLoad((signal) => controlPlane.jobs(workspace.workspaceId, { signal }), [workspace.workspaceId]);
  const filter = {
    workspaceId: workspace.workspaceId,
    jobId: jobId || undefined,
    status: status || undefined,
    limit: pageSize,
  };
  const runs = useLoad(
    (signal) => controlPlane.runs(filter, signal),
    [workspace.workspaceId, jobId, status],
    (page) => (page.data.some((r) => live.has(r.status)) ? 2000 : 10_000),
  );
  const more = useAction(async () => {
    const cursor = older?.cursor ?? runs.data?.nextCursor ?? null;
    if (cursor === null) return;
    const page = await controlPlane.runs({ ...filter, cursor });
    setOlder({ runs: [...(older?.runs ?? []), ...page.data], cursor: page.nextCursor });
  });
  const shown = [...(runs.data?.data ?? []), ...(older?.runs ?? [])].filter(
    (run, i, all) => all.findIndex((r) => r.runId === run.runId) === i,
  );
  const waiting = useDataplaneWait(
    workspace,
    shown.some((r) => r.status === 'queued'),
  );
  const nextCursor = older === undefined ? runs.data?.nextCursor : older.cursor;

  return (
    <Section title="Runs">
      <form className="inline filters" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <label>
          Job
          <select
            value={jobId}
            onChange={(e) => {
              setOlder(undefined);
              setJobId(e.target.value);
            }}
          >
            <option value="">All jobs</option>
            {jobs.data?.map((j) => (
              <option key={j.jobId} value={j.jobId}>
                {j.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select
            value={status}
            onChange={(e) => {
              setOlder(undefined);
              setStatus(e.target.value as RunStatus | '');
            }}
          >
            <option value="">Any status</option>
            {RunStatuses.map((s) => (
              <option key={s} value={s}>
                {statusWord(s)}
              </option>
            ))}
          </select>
        </label>
      </form>
      <ErrorNote error={runs.error} />
      {runs.data === undefined && runs.error === undefined && <Loading what="runs" />}
      <WaitingNote words={waiting} />
      {runs.data !== undefined && shown.length === 0 && <p className="muted">No runs match.</p>}
      {shown.length > 0 && (
        <table className="responsive">
          <caption className="sr-only">Runs of {workspace.name}</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Job</th>
              <th scope="col">Status</th>
              <th scope="col">Trigger</th>
              <th scope="col">Queued</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((run) => (
              <tr key={run.runId}>
                <td data-label="Run">
                  <Link to={`/runs/${run.runId}`} aria-label={`Run ${run.runId.slice(0, 8)} of ${run.jobName}`}>
                    <code>{run.runId.slice(0, 8)}</code>
                  </Link>
                  {run.attempt > 1 && <span className="muted"> attempt {run.attempt}</span>}
                </td>
                <td data-label="Job">{run.jobName}</td>
                <td data-label="Status">
                  <Status value={run.status} />
                </td>
                <td data-label="Trigger">{run.trigger}</td>
                <td data-label="Queued">
                  <Time iso={run.queuedAt} relative />
                </td>
                <td data-label="Duration">{formatRunDuration(run)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {nextCursor !== null && nextCursor !== undefined && (
        <button type="button" onClick={() => void more.run()} disabled={more.pending}>
          Show older runs
        </button>
      )}
      <ErrorNote error={more.error} />
    </Section>
  );
}
