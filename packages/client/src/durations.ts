import type { Run } from '@sovereign/contract/public';

/**
 * A run's duration in milliseconds as every client shows it: the one its data plane
 * measured (process start to end, `durationMs`) once it ended; while it runs, from its
 * start to `now`; undefined before its process started, and for a run that ended without one.
 */
export function runDurationMs(
  run: Pick<Run, 'startedAt' | 'finishedAt' | 'durationMs'>,
  now = Date.now(),
): number | undefined {
  if (run.durationMs !== null) return run.durationMs;
  if (run.startedAt === null || run.finishedAt !== null) return undefined;
  return Math.max(0, now - Date.parse(run.startedAt));
}

/** The same, written: "224 ms", "4.2 s"; undefined when there is none. */
export function runDurationText(
  run: Pick<Run, 'startedAt' | 'finishedAt' | 'durationMs'>,
  now = Date.now(),
): string | undefined {
  const ms = runDurationMs(run, now);
  return ms === undefined ? undefined : formatDuration(ms);
}

/** A duration as every client writes it: 850 ms, 4.2 s, 3 min 12 s, 2 h 5 min. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  // Tenths under a minute, where a tenth is still worth reading (4.2 s, not 4 s).
  if (ms < 59_950) return `${(Math.round(ms / 100) / 10).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  if (h > 0) return m === 0 ? `${h} h` : `${h} h ${m} min`;
  return s === 0 ? `${m} min` : `${m} min ${s} s`;
}
