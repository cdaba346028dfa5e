import { ApiError } from '@sovereign/client';
import type { Job, Workspace } from '@sovereign/contract/public';
import type { Role } from '@sovereign/contract/scopes';
import { controlPlane } from '../api/control-plane.ts';
import { ErrorNote, Loading, Section, Status, Time } from '../components/ui.tsx';
import { describeTrigger } from '../format.ts';
import { useAction, useLoad } from '../hooks.ts';
import { may } from '../permissions.ts';
import { Link, navigate } from '../router.tsx';
import { NextRun } from './job.tsx';

const live = new Set(['queued', 'claimed', 'running']);

export function JobsTab({ workspace, role }: { workspace: Workspace; role: Role | null }) {
  const jobs = useLoad(
    (signal) => controlPlane.jobs(workspace.workspaceId, { signal }),
    [workspace.workspaceId],
    (data) => (data.some((j) => j.lastRun !== null && live.has(j.lastRun.status)) ? 2000 : 10_000),
  );
  const operate = may.operateRuns(role);
  const trigger = useAction(async (job: Job) => {
    try {
      const run = await controlPlane.trigger(job.jobId);
      navigate(`/runs/${run.runId}`);
    } catch (error) {
      // An interactive job allows one at a time: take the user to the one that runs.
      const active = error instanceof ApiError && error.code === 'run_limit_reached' ? error.problem.runId : undefined;
      if (typeof active !== 'string') throw error;
      navigate(`/runs/${active}`);
    }
  });
  const pause = useAction(async (job: Job) => {
    await controlPlane.setPaused(job.jobId, !job.paused);
    jobs.reload();
  });

  return (
    <Section title="Jobs">
      <ErrorNote error={jobs.error} />
      <ErrorNote error={trigger.error} what="The run was not triggered" />
      <ErrorNote error={pause.error} what="The schedule was not changed" />
      {jobs.data === undefined && jobs.error === undefined && <Loading what="jobs" />}
      {jobs.data?.length === 0 && (
        <p>
          No jobs yet. Deploy a project to this workspace with <code>sov deploy</code>: its jobs appear here.
        </p>
      )}
      {jobs.data !== undefined && jobs.data.length > 0 && (
        <table className="responsive">
          <caption className="sr-only">Jobs of {workspace.name}</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Trigger</th>
              <th scope="col">Next run</th>
              <th scope="col">Last run</th>
              {operate && (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {jobs.data.map((job) => (
              <tr key={job.jobId}>
                <td data-label="Job">
                  <Link to={`/workspaces/${workspace.workspaceId}/jobs/${job.jobId}`}>
                    <strong>{job.name}</strong>
                  </Link>
                  {job.kind === 'interactive' && <span className="pill">interactive</span>}
                </td>
                <td data-label="Trigger">
                  {describeTrigger(job.trigger, job.timezone)}
                  {job.paused && <span className="pill warn">paused</span>}
                </td>
                <td data-label="Next run">
                  <NextRun job={job} />
                </td>
                <td data-label="Last run">
                  {job.lastRun === null ? (
                    <span className="muted">never ran</span>
                  ) : (
                    <Link
                      to={`/runs/${job.lastRun.runId}`}
                      aria-label={`Last run of ${job.name}: ${job.lastRun.status}`}
                    >
                      <Status value={job.lastRun.status} /> <Time iso={job.lastRun.queuedAt} relative />
                    </Link>
                  )}
                </td>
                {operate && (
                  <td data-label="Actions" className="actions">
                    <button
                      type="button"
                      className="primary"
                      aria-label={`Trigger a run of ${job.name}`}
                      disabled={trigger.pending}
                      onClick={() => void trigger.run(job)}
                    >
                      Trigger run
                    </button>
                    {job.trigger.type !== 'manual' && (
                      <button
                        type="button"
                        aria-label={`${job.paused ? 'Resume' : 'Pause'} the schedule of ${job.name}`}
                        disabled={pause.pending}
                        onClick={() => void pause.run(job)}
                      >
                        {job.paused ? 'Resume schedule' : 'Pause schedule'}
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
