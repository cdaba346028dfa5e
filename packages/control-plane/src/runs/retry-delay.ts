import { maxRetryDelaySeconds } from '@sovereign/contract';
import type { JobsTable } from '../tables.ts';

/**
 * Each delay is moved by up to a tenth either way at random, so the retries of many runs
 * that failed together (a database down for all of them) do not all come back at once.
 */
export const retryJitter = 0.1;

/**
 * How long the attempt after `failedAttempt` waits: the job's delay, times its backoff
 * for each attempt before (10 s, 20 s, 40 s... by default), at most an hour, with jitter.
 */
export function retryDelayMs(
  job: Pick<JobsTable, 'retry_delay_seconds' | 'retry_backoff'>,
  failedAttempt: number,
  random: () => number = Math.random,
): number {
  const seconds = Math.min(job.retry_delay_seconds * job.retry_backoff ** (failedAttempt - 1), maxRetryDelaySeconds);
  return Math.round(seconds * (1 + (random() * 2 - 1) * retryJitter) * 1000);
}
