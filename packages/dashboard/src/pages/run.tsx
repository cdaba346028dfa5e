import { followLogs, statusWord } from '@sovereign/client';
import type { LogLine, Run } from '@sovereign/contract/public';
import { isTerminal } from '@sovereign/contract/run-states';
import { Fragment, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { controlPlane } from '../api/control-plane.ts';
import { dataPlane } from '../api/data-plane.ts';
import { ConfirmDialog } from '../components/confirm.tsx';
import { ErrorNote, Loading, Section, Status, Time } from '../components/ui.tsx';
import { useDataplaneWait, WaitingNote } from '../components/waiting.tsx';
import { describeReason, formatBytes, formatInterval, formatRunDuration } from '../format.ts';
import { useAction, useLoad } from '../hooks.ts';
import { may, roleIn } from '../permissions.ts';
import { Link } from '../router.tsx';
import { useMe } from '../session.tsx';

/** A run never claimed by a data plane has nothing there: no logs, outputs or state of its own. */
const reachedDataplane = (run: Run) => run.claimedAt !== null || run.startedAt !== null;

/**
 * One run: its status and timeline from the control plane (polled while it is live), and
 * its logs, outputs and the job's state from the data plane, in the browser (R2).
 */
export function RunPage({ runId }: { runId: string }) {
  const { me } = useMe();
  const run = useLoad(
    (signal) => controlPlane.run(runId, signal),
    [runId],
    (r) => (isTerminal(r.status) ? false : 1000),
  );
  const workspaceId = run.data?.workspaceId;
  const workspace = useLoad(
    async (signal) => (workspaceId === undefined ? undefined : controlPlane.workspace(workspaceId, signal)),
    [workspaceId],
  );
  const waiting = useDataplaneWait(workspace.data, run.data?.status === 'queued');
  const [asking, setAsking] = useState(false);
  const cancel = useAction(async () => {
    await controlPlane.cancel(runId);
    run.reload();
  });
  /**
   * The run's URL leads to the app's own origin, which sends this browser back here to
   * be let in as the signed-in user (pages/open-app.tsx): no token leaves this page.
   */
  const open = () => {
    const url = run.data?.url;
    if (url == null) return;
    window.open(url, '_blank', 'noopener');
  };

  if (run.data === undefined) {
    return run.error === undefined ? <Loading what="the run" /> : <ErrorNote error={run.error} />;
  }
  const r = run.data;
  const ws = workspace.data;
  const role = ws === undefined ? null : roleIn(me, ws.organizationId);
  const terminal = isTerminal(r.status);

  return (
    <>
      <p className="crumbs">
        <Link to="/">Organizations</Link> /{' '}
        {ws === undefined ? 'Workspace' : <Link to={`/workspaces/${ws.workspaceId}/runs`}>{ws.name}</Link>} / Runs
      </p>
      <h1>
        Run of {r.jobName} <code className="muted">{r.runId.slice(0, 8)}</code>
      </h1>
      <div className="row run-head">
        <div className="run-status" role="status" aria-live="polite" aria-label="Run status">
          <Status value={r.status} />
          {r.cancelRequested && !terminal && <span className="muted"> cancelling…</span>}
        </div>
        {r.url !== null && r.status === 'running' && may.openApps(role) && (
          <button type="button" className="primary" onClick={open}>
            Open app
          </button>
        )}
        {may.operateRuns(role) && !terminal && (
          <button type="button" onClick={() => setAsking(true)} disabled={cancel.pending || r.cancelRequested}>
            Cancel run
          </button>
        )}
      </div>
      {may.operateRuns(role) && (
        <ConfirmDialog
          open={asking && !terminal}
          title="Cancel this run?"
          confirm="Yes, cancel the run"
          dismiss="Keep it running"
          onConfirm={() => void cancel.run()}
          onClose={() => setAsking(false)}
        >
          <p>
            Run <code>{r.runId.slice(0, 8)}</code> of {r.jobName}{' '}
            {r.status === 'queued' ? 'ends at once' : 'is stopped on its data plane within seconds'}. A cancelled run is
            not retried.
          </p>
        </ConfirmDialog>
      )}
      <WaitingNote words={waiting} />
      {r.url !== null && !terminal && r.status !== 'running' && (
        <p className="muted">Its app is starting; Open app appears once it answers.</p>
      )}
      <ErrorNote error={cancel.error} what="Not cancelled" />
      <ErrorNote error={run.error} what="Status not refreshed" />

      <div className="grid">
        <Section title="Details">
          <dl className="facts">
            <dt>Exit code</dt>
            <dd>{r.exitCode ?? '—'}</dd>
            <dt>Reason</dt>
            <dd>{describeReason(r.reasonCode)}</dd>
            <dt>Trigger</dt>
            <dd>{r.trigger}</dd>
            {r.intervalEnd !== null && (
              <>
                <dt>Interval</dt>
                <dd data-testid="run-interval">{formatInterval(r.intervalStart, r.intervalEnd)}</dd>
              </>
            )}
            <dt>Attempt</dt>
            <dd>{r.attempt}</dd>
            <dt>Duration</dt>
            <dd>{formatRunDuration(r)}</dd>
            <dt>Run id</dt>
            <dd>
              <code>{r.runId}</code>
            </dd>
          </dl>
        </Section>
        <Section title="Timeline">
          <ol className="timeline">
            <TimelineStep label="Queued" at={r.queuedAt} />
            <TimelineStep label="Claimed by its data plane" at={r.claimedAt} />
            <TimelineStep label="Started" at={r.startedAt} />
            <TimelineStep label={terminal ? `Ended: ${statusWord(r.status)}` : 'Ended'} at={r.finishedAt} />
          </ol>
        </Section>
      </div>

      {r.parametersId !== null && <ParametersView run={r} parametersId={r.parametersId} />}
      <Logs run={r} />
      {reachedDataplane(r) && <Outputs run={r} terminal={terminal} />}
      {reachedDataplane(r) && <JobStateView run={r} terminal={terminal} />}
    </>
  );
}

function TimelineStep({ label, at }: { label: string; at: string | null }) {
  return (
    <li className={at === null ? 'pending' : 'done'}>
      <span>{label}</span> <Time iso={at} />
    </li>
  );
}

type LogState = 'waiting' | 'following' | 'ended' | 'absent' | 'failed';

function Logs({ run }: { run: Run }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState<LogState>('waiting');
  const [error, setError] = useState<Error | undefined>(undefined);
  const status = useRef(run.status);
  status.current = run.status;
  const box = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const left = run.status !== 'queued' || reachedDataplane(run);
  const never = isTerminal(run.status) && !reachedDataplane(run);

  useEffect(() => {
    if (!left || never) return;
    const controller = new AbortController();
    let tries = 0;
    setLines([]);
    setState('waiting');
    setError(undefined);
    followLogs(dataPlane(run.workspaceId, ['runs:logs']), run.runId, {
      signal: controller.signal,
      onOpen: () => setState('following'),
      // React batches the renders of lines that arrive together.
      onLine: (line) => setLines((shown) => [...shown, line]),
      // A run that ended may still be on its way to the data plane's store: a few more tries.
      notThere: async () => (!isTerminal(status.current) || tries++ < 5 ? undefined : 'absent'),
      // A data plane that cannot be reached is said at once, not retried for a while.
      unreachableGiveUpMs: 0,
    }).then(
      (result) => {
        if (result === 'absent') setState('absent');
        else if (result !== 'stopped') setState('ended');
      },
      (failure: unknown) => {
        setError(failure as Error);
        setState('failed');
      },
    );
    return () => controller.abort();
  }, [run.workspaceId, run.runId, left, never]);

  // Keep the newest line in view, unless the reader scrolled up to read.
  useLayoutEffect(() => {
    const element = box.current;
    if (element !== null && pinned.current && lines.length > 0) element.scrollTop = element.scrollHeight;
  }, [lines]);

  let note: string;
  if (never) note = 'This run never reached its data plane: it has no logs.';
  else if (!left) note = 'Waiting for the run to start on its data plane…';
  else if (state === 'ended') note = `End of log: ${lines.length} line${lines.length === 1 ? '' : 's'}.`;
  else if (state === 'absent') note = 'Its data plane has no log for this run.';
  else if (state === 'following') note = 'Following live…';
  else if (state === 'failed') note = 'The log could not be read.';
  else note = 'Connecting to the data plane…';

  return (
    <Section title="Logs">
      <p className="muted" data-testid="log-state">
        {note} <span className="small">Read from the data plane in region, not through the control plane.</span>
      </p>
      <ErrorNote error={error} />
      {lines.length > 0 && (
        <div
          ref={box}
          className="log"
          role="log"
          aria-label="Run log"
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable log must take focus to be scrolled by keyboard.
          tabIndex={0}
          onScroll={(e) => {
            const el = e.currentTarget;
            pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
          }}
        >
          {lines.map((l) => (
            <div key={l.seq} className={`line ${l.stream}`}>
              <span className="seq" aria-hidden="true">
                {l.seq}
              </span>
              <span className="text">{l.line}</span>
            </div>
          ))}
        </div>
      )}
    </Section>
  );
}

function Outputs({ run, terminal }: { run: Run; terminal: boolean }) {
  const outputs = useLoad(
    (signal) =>
      terminal ? dataPlane(run.workspaceId, ['runs:outputs']).outputs(run.runId, signal) : Promise.resolve(undefined),
    [run.workspaceId, run.runId, terminal],
  );
  const download = useAction(async (path: string) => {
    const blob = await (await dataPlane(run.workspaceId, ['runs:outputs']).output(run.runId, path)).blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = path.split('/').at(-1) ?? 'output';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  return (
    <Section title="Outputs">
      {!terminal && <p className="muted">Outputs are stored when the run ends.</p>}
      <ErrorNote error={outputs.error ?? download.error} />
      {terminal && outputs.data?.length === 0 && <p className="muted">The run left no outputs.</p>}
      {outputs.data !== undefined && outputs.data.length > 0 && (
        <ul className="list">
          {outputs.data.map((o) => (
            <li key={o.path}>
              <button type="button" className="link" onClick={() => void download.run(o.path)}>
                <span className="sr-only">Download </span>
                {o.path}
              </button>{' '}
              <span className="muted">{formatBytes(o.sizeBytes)}</span>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

/** The run's parameters, read from its data plane: the control plane has their id only (issue 20). */
function ParametersView({ run, parametersId }: { run: Run; parametersId: string }) {
  const params = useLoad(
    (signal) => dataPlane(run.workspaceId, ['runs:parameters']).parameters(parametersId, signal),
    [run.workspaceId, parametersId],
  );
  return (
    <Section title="Parameters">
      <ErrorNote error={params.error} />
      {params.data !== undefined && (
        <dl className="facts" data-testid="parameters">
          {Object.entries(params.data.values)
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([name, value]) => (
              <Fragment key={name}>
                <dt>{name}</dt>
                <dd>
                  <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
                </dd>
              </Fragment>
            ))}
        </dl>
      )}
    </Section>
  );
}

function JobStateView({ run, terminal }: { run: Run; terminal: boolean }) {
  const state = useLoad(
    (signal) => dataPlane(run.workspaceId, ['state:read']).state(run.jobName, signal),
    [run.workspaceId, run.jobName, terminal],
  );
  return (
    <Section title={`State of ${run.jobName}`}>
      <ErrorNote error={state.error} />
      {state.data === null && <p className="muted">The job has no saved state yet.</p>}
      {state.data !== undefined && state.data !== null && (
        <>
          <p className="muted small">
            Saved <Time iso={state.data.updatedAt} relative />
            {state.data.updatedByRun !== null && (
              <>
                {' '}
                by run <Link to={`/runs/${state.data.updatedByRun}`}>{state.data.updatedByRun.slice(0, 8)}</Link>
              </>
            )}
          </p>
          <pre className="json">{JSON.stringify(state.data.state, null, 2)}</pre>
        </>
      )}
    </Section>
  );
}
