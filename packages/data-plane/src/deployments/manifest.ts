import { type JobMetadata, type JobTrigger, jobNamePattern } from '@sovereign/protocol';
import { Cron } from 'croner';
import { parseDocument } from 'yaml';
import type { Finding } from './errors.ts';

/** A job as the data plane runs it: its command never leaves the region. */
export interface ManifestJob extends JobMetadata {
  run: string;
}

export type ManifestResult = { ok: true; jobs: ManifestJob[] } | { ok: false; errors: Finding[] };

export const maxManifestBytes = 256 * 1024;
const defaultBatchTimeoutSeconds = 2 * 3600;
/** Interactive jobs stop at this lifetime unless their manifest says otherwise. */
const defaultInteractiveTimeoutSeconds = 8 * 3600;
/** A shorter `every` is a busy loop better written as a long-running job. */
const minEverySeconds = 10;
const jobKeys = new Set([
  'name',
  'run',
  'kind',
  'schedule',
  'every',
  'once',
  'after',
  'timezone',
  'timeout',
  'retries',
]);
const namePattern = new RegExp(jobNamePattern);

/** `90s`, `15m`, `2h`, `1d`, or combinations such as `1h30m`. */
export function parseDuration(text: string): number | undefined {
  const match = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (match === null || text.trim() === '') return undefined;
  const [, d, h, m, s] = match.map((part) => Number(part ?? 0));
  return (d ?? 0) * 86400 + (h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0);
}

function validTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses and checks `sovereign.yaml` whole, collecting every problem with its path,
 * so one round trip tells the author all that is wrong.
 */
export function parseManifest(text: string): ManifestResult {
  const errors: Finding[] = [];
  const fail = (path: string, message: string) => errors.push({ path, message });
  if (Buffer.byteLength(text) > maxManifestBytes)
    return { ok: false, errors: [{ path: 'sovereign.yaml', message: `is larger than ${maxManifestBytes} bytes` }] };
  // Aliases are refused outright: they are how a tiny YAML file becomes a huge document.
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        path: 'sovereign.yaml',
        message: e.message.split('\n')[0] ?? 'is not valid YAML',
      })),
    };
  }
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 0 });
  } catch {
    return { ok: false, errors: [{ path: 'sovereign.yaml', message: 'uses YAML aliases, which are not allowed' }] };
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    return { ok: false, errors: [{ path: 'sovereign.yaml', message: 'must be a mapping with a jobs list' }] };
  }
  for (const key of Object.keys(root)) if (key !== 'jobs') fail(key, 'is not a known key');
  const list = (root as { jobs?: unknown }).jobs;
  if (!Array.isArray(list) || list.length === 0) {
    fail('jobs', 'must be a non-empty list');
    return { ok: false, errors };
  }
  const jobs: ManifestJob[] = [];
  const names = new Set<string>();
  for (const [i, raw] of (list as unknown[]).entries()) {
    const at = `jobs[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      fail(at, 'must be a mapping');
      continue;
    }
    const job = raw as Record<string, unknown>;
    for (const key of Object.keys(job)) if (!jobKeys.has(key)) fail(`${at}.${key}`, 'is not a known key');
    const name = job.name;
    if (typeof name !== 'string' || !namePattern.test(name)) {
      fail(`${at}.name`, 'must be lower-case letters, digits, _ or -, starting with a letter or digit (63 at most)');
    } else if (names.has(name)) {
      fail(`${at}.name`, `"${name}" is used by another job`);
    } else names.add(name);
    if (typeof job.run !== 'string' || job.run.trim() === '') fail(`${at}.run`, 'must be a command');
    const kind = job.kind ?? 'batch';
    if (kind !== 'batch' && kind !== 'interactive') fail(`${at}.kind`, 'must be batch or interactive');
    const timezone = job.timezone ?? 'UTC';
    if (typeof timezone !== 'string' || !validTimezone(timezone))
      fail(`${at}.timezone`, `"${String(timezone)}" is not an IANA time zone`);
    const triggers = ['schedule', 'every', 'once', 'after'].filter((k) => job[k] !== undefined);
    if (triggers.length > 1) fail(at, `has ${triggers.join(' and ')}: a job has one trigger at most`);
    let trigger: JobTrigger = { type: 'manual' };
    if (job.schedule !== undefined) {
      if (typeof job.schedule !== 'string') fail(`${at}.schedule`, 'must be a cron expression');
      else {
        try {
          new Cron(job.schedule, {
            paused: true,
            timezone: typeof timezone === 'string' && validTimezone(timezone) ? timezone : 'UTC',
          });
          trigger = { type: 'cron', cron: job.schedule };
        } catch {
          fail(`${at}.schedule`, `"${job.schedule}" is not a valid cron expression`);
        }
      }
    } else if (job.every !== undefined) {
      const seconds = typeof job.every === 'string' ? parseDuration(job.every) : undefined;
      if (seconds === undefined || seconds < minEverySeconds)
        fail(`${at}.every`, `must be a duration of ${minEverySeconds}s or more, such as 15m`);
      else trigger = { type: 'every', everySeconds: seconds };
    } else if (job.once !== undefined) {
      const when = job.once instanceof Date ? job.once : typeof job.once === 'string' ? new Date(job.once) : undefined;
      if (when === undefined || Number.isNaN(when.getTime())) fail(`${at}.once`, 'must be an ISO-8601 date and time');
      else trigger = { type: 'once', at: when.toISOString() };
    } else if (job.after !== undefined) {
      const after = job.after as { job?: unknown; on?: unknown };
      const on = after?.on ?? 'success';
      if (typeof after !== 'object' || after === null || typeof after.job !== 'string')
        fail(`${at}.after.job`, 'must name a job');
      else if (on !== 'success' && on !== 'failure' && on !== 'completion')
        fail(`${at}.after.on`, 'must be success, failure or completion');
      else trigger = { type: 'after', job: after.job, on };
    }
    let timeoutSeconds = kind === 'interactive' ? defaultInteractiveTimeoutSeconds : defaultBatchTimeoutSeconds;
    if (job.timeout !== undefined) {
      const seconds = typeof job.timeout === 'string' ? parseDuration(job.timeout) : undefined;
      if (seconds === undefined || seconds < 1) fail(`${at}.timeout`, 'must be a duration such as 30m or 2h');
      else timeoutSeconds = seconds;
    }
    const retries = job.retries ?? 0;
    if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > 10) {
      fail(`${at}.retries`, 'must be a whole number from 0 to 10');
    }
    jobs.push({
      name: String(name),
      run: String(job.run),
      kind: kind === 'interactive' ? 'interactive' : 'batch',
      trigger,
      timezone: String(timezone),
      timeoutSeconds,
      retries: Number(retries),
    });
  }
  // `after` must name a job of this manifest, and chains of them must not loop.
  const byName = new Map(jobs.map((j) => [j.name, j]));
  for (const [i, job] of jobs.entries()) {
    if (job.trigger.type !== 'after') continue;
    if (!byName.has(job.trigger.job)) {
      fail(`jobs[${i}].after.job`, `"${job.trigger.job}" is not a job of this manifest`);
      continue;
    }
    const seen = new Set([job.name]);
    let next: ManifestJob | undefined = byName.get(job.trigger.job);
    while (next !== undefined && next.trigger.type === 'after') {
      if (seen.has(next.name)) {
        fail(`jobs[${i}].after`, `makes a loop through ${[...seen].join(', ')}`);
        break;
      }
      seen.add(next.name);
      next = byName.get(next.trigger.job);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, jobs };
}

/** What the control plane may know of a job (R1): everything but the command. */
export function jobMetadata(job: ManifestJob): JobMetadata {
  const { run: _command, ...metadata } = job;
  return metadata;
}
