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
