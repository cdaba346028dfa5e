import { formatDuration, statusWord } from '@sovereign/client';
import type { Run } from '@sovereign/contract/public';
import type { RunStatus } from '@sovereign/contract/run-states';
import { Status, Time } from '../components/ui.tsx';
import { formatTime, runDurationMs } from '../format.ts';
import { Link } from '../router.tsx';

/** Not started yet: drawn as an outline of this height (a percentage), having no duration to show. */
const waitingHeight = 12;
/** The least a bar is drawn at, so a run of a moment still shows (and can be pointed at). */
const leastHeight = 4;

/** What a bar says of its run, to a screen reader and as its tooltip. */
function describe(run: Run, ms: number | null): string {
  const words = [`Run ${run.runId.slice(0, 8)}: ${statusWord(run.status)}`];
  if (run.attempt > 1) words.push(`attempt ${run.attempt}`);
  words.push(`queued ${formatTime(run.queuedAt)}`);
  if (ms !== null) words.push(`${run.finishedAt === null ? 'running for' : 'took'} ${formatDuration(ms)}`);
  else words.push(run.finishedAt === null ? 'not started yet' : 'never started');
  return words.join(', ');
}

/**
 * A job's recent runs as bars, oldest on the left: the height is how long a run took
 * (against the longest shown), the colour its status (the colours of the status pills);
 * runs that wait or run are drawn hollow or striped, so they do not read as ended. Each
 * bar links to its run. CSS only: no chart library in the bundle.
 */
export function RunChart({ runs, jobName }: { runs: readonly Run[]; jobName: string }) {
  const now = Date.now();
  const oldestFirst = [...runs].reverse();
  const durations = oldestFirst.map((run) => runDurationMs(run, now));
  const longest = Math.max(1, ...durations.map((ms) => ms ?? 0));
  const counts = new Map<RunStatus, number>();
  for (const run of runs) counts.set(run.status, (counts.get(run.status) ?? 0) + 1);
  const first = oldestFirst[0];
  const last = oldestFirst.at(-1);

  return (
    <figure className="run-chart">
      <ol aria-label={`Last ${runs.length} run${runs.length === 1 ? '' : 's'} of ${jobName}, oldest first`}>
        {oldestFirst.map((run, i) => {
          const ms = durations[i] ?? null;
          const height = ms === null ? waitingHeight : Math.max(leastHeight, Math.round((ms / longest) * 100));
          const label = describe(run, ms);
          return (
            <li key={run.runId} className="slot">
              <Link
                to={`/runs/${run.runId}`}
                className={`bar status-${run.status}`}
                style={{ height: `${height}%` }}
                aria-label={label}
                title={label}
              />
            </li>
          );
        })}
      </ol>
      <figcaption className="muted small">
        {first !== undefined && last !== undefined && last !== first && (
          <>
            Oldest left (queued <Time iso={first.queuedAt} relative />
            ), newest right (
            <Time iso={last.queuedAt} relative />
            ).{' '}
          </>
        )}
        {durations.some((ms) => ms !== null) &&
          `Height: how long each run took; the longest took ${formatDuration(longest)}. `}
        {[...counts].map(([status, count]) => (
          <span key={status} className="chart-count">
            <Status value={status} /> {count}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
