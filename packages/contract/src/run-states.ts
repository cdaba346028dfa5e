/** Run states, in the order a run moves through them. */
export const RunStatuses = [
  'queued',
  'claimed',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'lost',
] as const;
export type RunStatus = (typeof RunStatuses)[number];

export const terminalRunStatuses: ReadonlySet<RunStatus> = new Set([
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'lost',
]);

export function isTerminal(status: RunStatus): boolean {
  return terminalRunStatuses.has(status);
}

/**
 * A run's duration, as both planes state it: from its process's start to its end, in
 * milliseconds. Null until it ended, and for a run whose process never started.
 */
export function runDurationMs(startedAt: Date | null, finishedAt: Date | null): number | null {
  if (startedAt === null || finishedAt === null) return null;
  return Math.max(0, finishedAt.getTime() - startedAt.getTime());
}
