import { runDurationMs as clientRunDurationMs, runDurationText } from '@sovereign/client';
import type { JobTrigger, Run } from '@sovereign/contract/public';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatTime(iso: string | null): string {
  return iso === null ? '—' : dateTime.format(new Date(iso));
}

/** Spans of time (an interval, an age): "3 s", "2 min 5 s", "1 h 4 min", "3 d 2 h". A run's duration is formatRunDuration's. */
export function formatSpan(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 === 0 ? `${minutes} min` : `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

/** How long a run ran (so far, while it runs), in milliseconds; null when it never started: the client's measure. */
export function runDurationMs(
  run: Pick<Run, 'startedAt' | 'finishedAt' | 'durationMs'>,
  now = Date.now(),
): number | null {
  return clientRunDurationMs(run, now) ?? null;
}

/** A run's duration in words, as every client writes it; "—" when it never started. */
export function formatRunDuration(run: Pick<Run, 'startedAt' | 'finishedAt' | 'durationMs'>): string {
  return runDurationText(run) ?? '—';
}

export function formatAgo(iso: string | null, now = Date.now()): string {
  if (iso === null) return 'never';
  const ms = now - Date.parse(iso);
  return ms < 1000 ? 'just now' : `${formatSpan(ms)} ago`;
}

/** A time to come: "in 5 min"; one already past (due, not queued yet) is "due now". */
export function formatIn(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  return ms < 1000 ? 'due now' : `in ${formatSpan(ms)}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function describeTrigger(trigger: JobTrigger, timezone: string): string {
  switch (trigger.type) {
    case 'manual':
      return 'Manual';
    case 'cron':
      return `Cron ${trigger.cron} (${timezone})`;
    case 'every':
      return `Every ${formatSpan(trigger.everySeconds * 1000)}`;
    case 'once':
      return `Once at ${formatTime(trigger.at)}`;
    case 'after':
      return `After ${trigger.job} on ${trigger.on}`;
  }
}

/** Reason codes (protocol's ReasonCodes) as words; an unknown one is shown as it is. */
const reasons: Record<string, string> = {
  exit_zero: 'exited with 0',
  exit_nonzero: 'exited with a non-zero code',
  killed_by_signal: 'killed by a signal',
  timeout: 'ran past its timeout',
  cancelled: 'cancelled',
  lease_expired: 'its data plane stopped reporting',
  spawn_failed: 'its command could not start',
  deployment_missing: 'its deployment is missing',
  job_missing: 'the job is not in its deployment',
  dataplane_shutdown: 'its data plane shut down',
  internal_error: 'the data plane failed',
  start_timeout: 'its app did not answer in time',
  exited_before_ready: 'its app ended before it answered',
  idle_timeout: 'stopped after its idle limit',
  out_of_memory: 'ran out of memory',
  pids_limit: 'reached its process limit',
  tmp_limit: 'filled its /tmp',
  log_limit: 'printed more than its log limit',
  output_limit: 'left more outputs than its limit',
  sandbox_failed: 'its sandbox could not be made',
  environment_failed: 'its environment could not be built',
  secrets_unreadable: 'its secrets could not be read',
};

export function describeReason(code: string | null): string {
  if (code === null) return '—';
  const words = reasons[code];
  return words === undefined ? code : `${words} (${code})`;
}

/**
 * The interval a run covers: dates when both ends fall at midnight UTC
 * ("2026-11-01 → 2026-11-02"), else times to the minute, in UTC, as the job sees them.
 */
export function formatInterval(start: string | null, end: string | null): string {
  if (start === null || end === null) return '—';
  const midnight = (iso: string) => iso.endsWith('T00:00:00.000Z');
  const s = new Date(start).toISOString();
  const e = new Date(end).toISOString();
  const show = (iso: string) =>
    midnight(s) && midnight(e) ? iso.slice(0, 10) : `${iso.slice(0, 16).replace('T', ' ')} UTC`;
  return `${show(s)} → ${show(e)}`;
}
