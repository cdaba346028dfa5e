import { execFileSync } from 'node:child_process';

/**
 * Wall-clock time in milliseconds with sub-millisecond resolution. Jobs and peer tasks
 * stamp their start with `date +%s%N` (CLOCK_REALTIME) in another process; this is the
 * same clock read here, so the two compare directly.
 */
export function realtimeMs(): number {
  return performance.timeOrigin + performance.now();
}

/** `date +%s%N` output (nanoseconds since the epoch) in milliseconds. */
export function nsTextToMs(text: string): number {
  const ns = BigInt(text.trim());
  return Number(ns / 1000n) / 1000;
}

/**
 * How far this process's clock is from a fresh process's `date +%s%N`, in ms (should
 * be well under a millisecond plus the cost of starting `date`): a sanity check that
 * cross-process stamps can be compared.
 */
export function clockSkewMs(): number {
  const before = realtimeMs();
  const stamped = nsTextToMs(execFileSync('date', ['+%s%N'], { encoding: 'utf8' }));
  const after = realtimeMs();
  if (stamped < before) return stamped - before;
  if (stamped > after) return stamped - after;
  return 0;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
