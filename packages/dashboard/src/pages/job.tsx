import { ApiError } from '@sovereign/client';
import type { Backfill, DeploymentMetadata, Job, Run } from '@sovereign/contract/public';
import type { RunStatus } from '@sovereign/contract/run-states';
import { useState } from 'react';
import { controlPlane } from '../api/control-plane.ts';
import { dataPlane } from '../api/data-plane.ts';
import { ErrorNote, Loading, Section, Status, Time } from '../components/ui.tsx';
import { describeTrigger, formatIn, formatInterval, formatRunDuration, formatSpan, formatTime } from '../format.ts';
import { useAction, useLoad } from '../hooks.ts';
import { may, roleIn } from '../permissions.ts';
import { Link, navigate } from '../router.tsx';
import { useMe } from '../session.tsx';
import { RunChart } from './run-chart.tsx';

const live = new Set<RunStatus>(['queued', 'claimed', 'running']);
/** The chart's runs: enough to see a pattern, one page of the runs list. */
const charted = 100;
/** The table's: the latest few; the workspace's runs tab has them all. */
const tabled = 10;

/**
 * One job: what it is and when it runs next, from the control plane, and its recent runs
 * as a chart (one bar each) and a table; its runs refresh by themselves while one is live.
 */
export function JobPage({ workspaceId, jobId }: { workspaceId: string; jobId: string }) {
  const { me } = useMe();
  const workspace = useLoad((signal) => controlPlane.workspace(workspaceId, signal), [workspaceId]);
  const history = useLoad(
    async (signal) => {
      const [job, runs, backfills] = await Promise.all([
        controlPlane.job(jobId, signal),
        controlPlane.runs({ workspaceId, jobId, limit: charted }, signal),
        controlPlane.backfills(jobId, signal),
      ]);
      return { job, runs: runs.data, backfills };
    },
    [workspaceId, jobId],
    (data) =>
      data.runs.some((r) => live.has(r.status)) || data.backfills.some((b) => b.status === 'running') ? 2000 : 10_000,
  );
  const deployments = useLoad((signal) => controlPlane.deployments(workspaceId, signal), [workspaceId]);
  const [paramText, setParamText] = useState('');
  const trigger = useAction(async (job: Job, withParams?: string) => {
    try {
      // Parameters are customer data: stored on the workspace's data plane, which checks
      // them against the job's declaration; the control plane gets their id only (issue 20).
      const values = withParams === undefined ? undefined : parameterLines(withParams);
      const parametersId =
        values === undefined
          ? undefined
          : (await dataPlane(workspaceId, ['runs:trigger']).storeParameters(job.name, values)).parametersId;
      const run = await controlPlane.trigger(job.jobId, parametersId === undefined ? {} : { parametersId });
      // An app is opened from its run's page; a batch run is watched here, as a new bar.
      if (job.kind === 'interactive') navigate(`/runs/${run.runId}`);
      else history.reload();
    } catch (error) {
      // An interactive job allows one at a time: take the user to the one that runs.
      const active = error instanceof ApiError && error.code === 'run_limit_reached' ? error.problem.runId : undefined;
      if (typeof active !== 'string' || job.kind !== 'interactive') throw error;
      navigate(`/runs/${active}`);
    }
  });
  const pause = useAction(async (job: Job) => {
    await controlPlane.setPaused(job.jobId, !job.paused);
    history.reload();
  });

  if (history.data === undefined) {
    return history.error === undefined ? <Loading what="the job" /> : <ErrorNote error={history.error} />;
  }
  const { job, runs, backfills } = history.data;
  const ws = workspace.data;
  const role = ws === undefined ? null : roleIn(me, ws.organizationId);
  // A moved workspace runs nothing: no trigger, pause or backfill (its history stays readable).
  const operate = may.operateRuns(role) && !job.archived && ws?.movedTo == null;
  const scheduled = job.trigger.type !== 'manual';

  return (
    <>
      <p className="crumbs">
        <Link to="/">Organizations</Link> /{' '}
        <Link to={`/workspaces/${workspaceId}`}>{ws === undefined ? 'Workspace' : ws.name}</Link> / Jobs
      </p>
      <h1>
        {job.name} <span className="pill">{job.kind}</span>
        {job.paused && <span className="pill warn">paused</span>}
        {job.archived && <span className="pill warn">archived</span>}
      </h1>
      {operate && (
        <div className="row run-head">
          <button type="button" className="primary" disabled={trigger.pending} onClick={() => void trigger.run(job)}>
            Trigger run
          </button>
          {scheduled && (
            <button type="button" disabled={pause.pending} onClick={() => void pause.run(job)}>
              {job.paused ? 'Resume schedule' : 'Pause schedule'}
            </button>
          )}
        </div>
      )}
      {operate && job.kind === 'batch' && (
        <details className="params">
          <summary>Trigger with parameters</summary>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              void trigger.run(job, paramText);
            }}
          >
            <label>
              Parameters, one <code>name=value</code> a line (the job's <code>params:</code>)
              <textarea rows={3} value={paramText} onChange={(e) => setParamText(e.target.value)} />
            </label>
            <button type="submit" disabled={trigger.pending}>
              Trigger with parameters
            </button>
          </form>
        </details>
      )}
      <ErrorNote error={trigger.error} what="The run was not triggered" />
      <ErrorNote error={pause.error} what="The schedule was not changed" />
      <ErrorNote error={history.error} what="Not refreshed" />

      <Section title="Details">
        <dl className="facts">
          <dt>Kind</dt>
          <dd>{job.kind}</dd>
          <dt>Trigger</dt>
          <dd>{describeTrigger(job.trigger, job.timezone)}</dd>
          <dt>Next run</dt>
          <dd data-testid="next-run">
            <NextRun job={job} />
          </dd>
          {scheduled && (
            <>
              <dt>Schedule</dt>
              <dd>{job.paused ? 'paused' : 'active'}</dd>
            </>
          )}
          <dt>Deployment</dt>
          <dd>
            <DeploymentFacts id={job.deploymentId} deployments={deployments.data} />
          </dd>
          <dt>Timeout</dt>
          <dd>{formatSpan(job.timeoutSeconds * 1000)}</dd>
          <dt>Retries</dt>
          <dd>
            {job.retries === 0 ? 'none' : `${job.retries}, the first after ${formatSpan(job.retryDelaySeconds * 1000)}`}
          </dd>
        </dl>
      </Section>

      <Section title="Run history">
        {runs.length === 0 ? (
          <p className="muted">No runs yet.</p>
        ) : (
          <>
            <RunChart runs={runs} jobName={job.name} />
            <RunTable runs={runs.slice(0, tabled)} jobName={job.name} />
          </>
        )}
      </Section>

      {backfills.length > 0 && (
        <Section title="Backfills">
          <BackfillTable backfills={backfills} jobName={job.name} />
        </Section>
      )}
    </>
  );
}

/** A job's backfills (sov job backfill): each range, how far it got, and how it stands. */
function BackfillTable({ backfills, jobName }: { backfills: Backfill[]; jobName: string }) {
  return (
    <table className="responsive" data-testid="backfills">
      <caption className="sr-only">Backfills of {jobName}, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Backfill</th>
          <th scope="col">Range</th>
          <th scope="col">Status</th>
          <th scope="col">Progress</th>
          <th scope="col">Started</th>
        </tr>
      </thead>
      <tbody>
        {backfills.map((b) => (
          <tr key={b.backfillId}>
            <td data-label="Backfill">
              <code>{b.backfillId.slice(0, 8)}</code>
            </td>
            <td data-label="Range">{formatInterval(b.from, b.to)}</td>
            <td data-label="Status">
              {b.status}
              {b.failed > 0 && <span className="muted"> ({b.failed} failed)</span>}
            </td>
            <td data-label="Progress">
              <progress
                max={Math.max(b.toRun, 1)}
                value={b.succeeded + b.failed}
                aria-label={`Backfill ${b.backfillId.slice(0, 8)} progress`}
              />{' '}
              {b.succeeded + b.failed}/{b.toRun}
              {b.skipped > 0 && <span className="muted"> ({b.skipped} skipped)</span>}
            </td>
            <td data-label="Started">
              <Time iso={b.createdAt} relative />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** `name=value` lines as a run's parameters (text: the data plane reads each as its declared type). */
function parameterLines(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const at = line.indexOf('=');
    if (at <= 0) throw new Error(`"${line.trim()}" is not name=value.`);
    values[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return values;
}

/** When the job runs next, or why it does not: on its page and in the jobs list. */
export function NextRun({ job }: { job: Job }) {
  if (job.archived) return <span className="muted">— (archived)</span>;
  if (job.paused) return <span>paused</span>;
  if (job.nextRunAt === null) {
    const why =
      job.trigger.type === 'manual'
        ? 'runs when triggered'
        : job.trigger.type === 'after'
          ? 'runs after another job'
          : 'none due';
    return <span className="muted">— ({why})</span>;
  }
  return (
    <>
      <time dateTime={job.nextRunAt}>{formatTime(job.nextRunAt)}</time>{' '}
      <span className="muted">({formatIn(job.nextRunAt)})</span>
    </>
  );
}

function DeploymentFacts({ id, deployments }: { id: string; deployments: DeploymentMetadata[] | undefined }) {
  const deployment = deployments?.find((d) => d.deploymentId === id);
  return (
    <>
      <code title={id}>{id.slice(0, 8)}</code>
      {deployment !== undefined && (
        <span className="muted">
          {' '}
          · <code title={deployment.digest}>{deployment.digest.slice(0, 19)}</code> · deployed{' '}
          <Time iso={deployment.createdAt} relative />
        </span>
      )}
    </>
  );
}

function RunTable({ runs, jobName }: { runs: Run[]; jobName: string }) {
  return (
    <table className="responsive">
      <caption className="sr-only">Latest runs of {jobName}, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Status</th>
          <th scope="col">Trigger</th>
          <th scope="col">Queued</th>
          <th scope="col">Duration</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr key={run.runId}>
            <td data-label="Run">
              <Link to={`/runs/${run.runId}`} aria-label={`Run ${run.runId.slice(0, 8)} of ${jobName}`}>
                <code>{run.runId.slice(0, 8)}</code>
              </Link>
              {run.attempt > 1 && <span className="muted"> attempt {run.attempt}</span>}
            </td>
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
  );
}
