import {
  type JobMetadata,
  type JobTrigger,
  jobNamePattern,
  maxEverySeconds,
  maxRetryDelaySeconds,
  maxTimeoutSeconds,
} from '@sovereign/contract';
import { readCron, validTimezone } from '@sovereign/contract/schedules';
import { Cron } from 'croner';
import { parseDocument } from 'yaml';
import {
  describeKind,
  formatLimit,
  type LimitName,
  limitKeys,
  limitProblem,
  parseLimit,
  type RequestedLimits,
  type RunLimits,
} from '../launch/limits.ts';
import { type ParameterDeclaration, parseDeclarations } from '../parameters/declarations.ts';
import type { Finding } from './errors.ts';

/** A job as the data plane runs it: its command (`run`) never leaves the region (R1). */
export interface ManifestJob extends JobMetadata {
  run: string;
  /** Interactive jobs: stopped after this long without a proxied request or WebSocket frame. */
  idleTimeoutSeconds?: number;
  /**
   * Interactive jobs: `strip_prefix`, still read so manifests that set it deploy, but of
   * no effect since every app is served from `/` of an origin of its own
   * (`$SOV_BASE_PATH` is `/`): there is no prefix to strip or keep.
   */
  stripPrefix?: boolean;
  /** What the job asked of `limits:`; the data plane's defaults fill in the rest (launch/limits.ts). */
  limits?: RequestedLimits;
  /** `none`: the job has no network at all; absent: it reaches the world, never this machine (R9). */
  network?: 'outside' | 'none';
  /** `environment:` the directory of the bundle its environment is defined in (the project's root when absent). */
  environmentDir?: string;
  /** The environments its deployment declares, built in the region: its runs find them mounted read-only. */
  environments?: Array<{ kind: 'python' | 'node'; digest: string; dir?: string }>;
  /** `params:`, the parameters a run may be given (issue 20): kept here, never reported (R1). */
  params?: ParameterDeclaration[];
}

export type ManifestResult =
  | {
      ok: true;
      /** The jobs with their commands: for this data plane only. */
      jobs: ManifestJob[];
      /** The same jobs without commands: what the control plane may be told. */
      metadata: JobMetadata[];
    }
  | { ok: false; errors: Finding[] };

/** `sovereign.yaml` is a list of jobs: a larger file is a mistake or an attack. */
export const maxManifestBytes = 256 * 1024;
/** The protocol's DeploymentReport carries at most this many jobs. */
export const maxJobs = 1000;
export const defaultBatchTimeoutSeconds = 2 * 3600;
/**
 * Interactive jobs (notebooks, small apps) are stopped after this lifetime unless
 * their `timeout` says otherwise, so one left open is not kept forever.
 */
export const defaultInteractiveTimeoutSeconds = 8 * 3600;
/** An interactive job nobody has used for this long is stopped (`idle_timeout`). */
export const defaultIdleTimeoutSeconds = 15 * 60;
/** How many runs of an interactive job may be active at once unless `max_running` says otherwise. */
export const defaultInteractiveMaxRunning = 1;
const maxMaxRunning = 1000;
/**
 * The shortest interval between two scheduled runs, for `every` and for cron
 * patterns with a seconds field alike. Each run claims a lease, unpacks a fresh
 * working copy and reports to the control plane: below ~10 s that overhead is most
 * of the run and runs pile up behind each other. Something that must react faster is
 * a long-running job with its own loop.
 */
export const minIntervalSeconds = 10;
/** Linux refuses a single argument (the command passed to the shell) past 128 KiB. */
const maxCommandBytes = 64 * 1024;
const triggerKeys = ['schedule', 'every', 'once', 'after'] as const;
const interactiveKeys = ['idle_timeout', 'strip_prefix'] as const;
const jobKeys = new Set([
  'name',
  'run',
  'kind',
  ...triggerKeys,
  'timezone',
  'timeout',
  'retries',
  'retry_delay',
  'retry_backoff',
  'max_running',
  'limits',
  'network',
  'environment',
  'params',
  ...interactiveKeys,
]);
const limitNames = new Map(Object.entries(limitKeys).map(([name, keys]) => [keys.yaml, name as LimitName]));
const afterKeys = new Set(['job', 'on']);
const namePattern = new RegExp(jobNamePattern);
const isoDateTime = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** `90s`, `15m`, `2h`, `1d`, or combinations in that order such as `1h30m`; seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(?:(\d{1,9})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,9})s)?$/.exec(text.trim());
  if (match === null || text.trim() === '') return undefined;
  const [, d, h, m, s] = match.map((part) => Number(part ?? 0));
  return (d ?? 0) * 86400 + (h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0);
}

/** An ISO-8601 date and time with its offset (a time without one would be ambiguous). */
function parseInstant(text: string): Date | undefined {
  const match = isoDateTime.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  // Date rolls 2026-02-30 over to March; refuse it instead.
  const day = new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 0));
  if (day.getUTCMonth() !== (mo ?? 1) - 1 || day.getUTCDate() !== d) return undefined;
  if ((h ?? 0) > 23 || (mi ?? 0) > 59 || (s ?? 0) > 59) return undefined;
  const when = new Date(text);
  return Number.isNaN(when.getTime()) ? undefined : when;
}

/**
 * Why a cron pattern is refused, or undefined when it is fine: what the control plane's
 * scheduler refuses too (readCron), and an interval shorter than minIntervalSeconds.
 */
function cronProblem(pattern: string, timezone: string): string | undefined {
  const quoted = JSON.stringify(pattern);
  const read = readCron(pattern, timezone);
  if ('problem' in read) return read.problem;
  const fields = pattern.trim().split(/\s+/);
  if (fields.length >= 6) {
    // The seconds a minute fires at, read by croner itself; the tightest gap between them
    // (around the minute too) is the pattern's shortest interval.
    const minute = Date.UTC(2000, 0, 1);
    const seconds = new Cron(`${fields[0]} * * * * *`, { paused: true, timezone: 'UTC' })
      .nextRuns(60, new Date(minute - 1))
      .filter((d) => d.getTime() < minute + 60_000)
      .map((d) => d.getUTCSeconds());
    let gap = 60;
    for (const [i, second] of seconds.entries()) {
      const next = seconds[i + 1] ?? (seconds[0] ?? 0) + 60;
      gap = Math.min(gap, next - second);
    }
    if (gap < minIntervalSeconds)
      return `${quoted} fires every ${gap}s; the shortest interval is ${minIntervalSeconds}s`;
  }
  return undefined;
}

const isMapping = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value);

/**
 * Parses and checks `sovereign.yaml` whole, collecting every problem with its path
 * (`jobs[1].schedule`), so one round trip tells the author all that is wrong.
 */
export function parseManifest(text: string, options: { maxLimits?: RunLimits } = {}): ManifestResult {
  const errors: Finding[] = [];
  const fail = (path: string, message: string) => errors.push({ path, message });
  if (Buffer.byteLength(text) > maxManifestBytes) {
    return { ok: false, errors: [{ path: 'sovereign.yaml', message: `is larger than ${maxManifestBytes} bytes` }] };
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  // Warnings (unknown tags and the like) count too: a manifest is plain YAML.
  const yamlProblems = [...doc.errors, ...doc.warnings];
  if (yamlProblems.length > 0) {
    return {
      ok: false,
      errors: yamlProblems.map((e) => ({
        path: 'sovereign.yaml',
        message: (e.message.split('\n')[0] ?? 'is not valid YAML').replace(/:$/, ''),
      })),
    };
  }
  let root: unknown;
  try {
    // No aliases at all: they are how a small YAML file becomes a huge document.
    root = doc.toJS({ maxAliasCount: 0 });
  } catch {
    return { ok: false, errors: [{ path: 'sovereign.yaml', message: 'uses YAML aliases, which are not allowed' }] };
  }
  if (!isMapping(root)) {
    return { ok: false, errors: [{ path: 'sovereign.yaml', message: 'must be a mapping with a jobs list' }] };
  }
  for (const key of Object.keys(root)) if (key !== 'jobs') fail(key, 'is not a known key');
  const list = root.jobs;
  if (!Array.isArray(list) || list.length === 0) {
    fail('jobs', 'must be a non-empty list');
    return { ok: false, errors };
  }
  if (list.length > maxJobs) fail('jobs', `has ${list.length} jobs; ${maxJobs} at most`);

  const jobs: ManifestJob[] = [];
  const names = new Map<string, number>();
  for (const [i, raw] of (list as unknown[]).entries()) {
    const at = `jobs[${i}]`;
    if (!isMapping(raw)) {
      fail(at, 'must be a mapping');
      continue;
    }
    const job = raw;
    for (const key of Object.keys(job)) if (!jobKeys.has(key)) fail(`${at}.${key}`, 'is not a known key');

    const name = job.name;
    if (typeof name !== 'string' || !namePattern.test(name)) {
      fail(
        `${at}.name`,
        name === undefined
          ? 'is required'
          : `${JSON.stringify(name)} must be 1 to 63 lower-case letters, digits, _ or -, starting with a letter or digit`,
      );
    } else if (names.has(name)) {
      fail(`${at}.name`, `"${name}" is also the name of jobs[${names.get(name)}]`);
    } else names.set(name, i);

    const run = job.run;
    if (typeof run !== 'string' || run.trim() === '') fail(`${at}.run`, 'must be a non-empty command');
    else if (run.includes('\0')) fail(`${at}.run`, 'must not contain NUL characters');
    else if (Buffer.byteLength(run) > maxCommandBytes) fail(`${at}.run`, `is longer than ${maxCommandBytes} bytes`);

    const kind = job.kind ?? 'batch';
    if (kind !== 'batch' && kind !== 'interactive') fail(`${at}.kind`, 'must be batch or interactive');

    const timezone = job.timezone ?? 'UTC';
    const zoneOk = typeof timezone === 'string' && validTimezone(timezone);
    if (!zoneOk) fail(`${at}.timezone`, `${JSON.stringify(timezone)} is not an IANA time zone such as Europe/Berlin`);

    const given = triggerKeys.filter((k) => job[k] !== undefined && job[k] !== null);
    if (given.length > 1) fail(at, `has ${given.join(' and ')}: a job has one trigger at most`);
    let trigger: JobTrigger = { type: 'manual' };
    if (job.schedule !== undefined && job.schedule !== null) {
      const problem =
        typeof job.schedule === 'string'
          ? cronProblem(job.schedule, zoneOk ? (timezone as string) : 'UTC')
          : 'must be a cron expression such as "0 3 * * *"';
      if (problem !== undefined) fail(`${at}.schedule`, problem);
      else trigger = { type: 'cron', cron: job.schedule as string };
    } else if (job.every !== undefined && job.every !== null) {
      const seconds = typeof job.every === 'string' ? parseDuration(job.every) : undefined;
      if (seconds === undefined || seconds < minIntervalSeconds || seconds > maxEverySeconds) {
        fail(
          `${at}.every`,
          `${JSON.stringify(job.every)} must be a duration from ${minIntervalSeconds}s to 366d, such as 15m`,
        );
      } else trigger = { type: 'every', everySeconds: seconds };
    } else if (job.once !== undefined && job.once !== null) {
      // A `%YAML 1.1` document may turn an unquoted timestamp into a Date already.
      const when =
        job.once instanceof Date ? job.once : typeof job.once === 'string' ? parseInstant(job.once) : undefined;
      if (when === undefined || Number.isNaN(when.getTime())) {
        fail(
          `${at}.once`,
          `${JSON.stringify(job.once)} must be an ISO-8601 date and time with its offset, such as 2026-12-01T00:00:00Z`,
        );
      } else trigger = { type: 'once', at: when.toISOString() };
    } else if (job.after !== undefined && job.after !== null) {
      const after = job.after;
      if (!isMapping(after)) fail(`${at}.after`, 'must be a mapping such as { job: daily_sync, on: success }');
      else {
        for (const key of Object.keys(after)) if (!afterKeys.has(key)) fail(`${at}.after.${key}`, 'is not a known key');
        const on = after.on ?? 'success';
        const target = after.job;
        let ok = true;
        if (typeof target !== 'string' || !namePattern.test(target)) {
          fail(`${at}.after.job`, 'must name a job of this manifest');
          ok = false;
        } else if (target === name) {
          fail(`${at}.after.job`, 'a job cannot run after itself');
          ok = false;
        }
        if (on !== 'success' && on !== 'failure' && on !== 'completion') {
          fail(`${at}.after.on`, `${JSON.stringify(on)} must be success, failure or completion`);
          ok = false;
        }
        if (ok) trigger = { type: 'after', job: target as string, on: on as 'success' | 'failure' | 'completion' };
      }
    }

    let timeoutSeconds = kind === 'interactive' ? defaultInteractiveTimeoutSeconds : defaultBatchTimeoutSeconds;
    if (job.timeout !== undefined && job.timeout !== null) {
      const seconds = typeof job.timeout === 'string' ? parseDuration(job.timeout) : undefined;
      if (seconds === undefined || seconds < 1 || seconds > maxTimeoutSeconds) {
        fail(`${at}.timeout`, `${JSON.stringify(job.timeout)} must be a duration from 1s to 7d, such as 30m or 2h`);
      } else timeoutSeconds = seconds;
    }

    const retries = job.retries ?? 0;
    if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > 10) {
      fail(`${at}.retries`, `${JSON.stringify(retries)} must be a whole number from 0 to 10`);
    }

    // Left out of the job when the manifest does not say: the control plane's defaults
    // apply (10s, 2), and a redeploy of an unchanged manifest changes no job.
    let retryDelaySeconds: number | undefined;
    if (job.retry_delay !== undefined && job.retry_delay !== null) {
      const seconds = typeof job.retry_delay === 'string' ? parseDuration(job.retry_delay) : undefined;
      if (seconds === undefined || seconds > maxRetryDelaySeconds) {
        fail(
          `${at}.retry_delay`,
          `${JSON.stringify(job.retry_delay)} must be a duration from 0s to 1h, such as 30s or 5m`,
        );
      } else retryDelaySeconds = seconds;
    }
    let retryBackoff: number | undefined;
    if (job.retry_backoff !== undefined && job.retry_backoff !== null) {
      const value = job.retry_backoff;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > 10) {
        fail(
          `${at}.retry_backoff`,
          `${JSON.stringify(value)} must be a number from 1 (the same delay each time) to 10`,
        );
      } else retryBackoff = value;
    }

    let maxRunning = kind === 'interactive' ? defaultInteractiveMaxRunning : undefined;
    if (job.max_running !== undefined && job.max_running !== null) {
      const value = job.max_running;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > maxMaxRunning) {
        fail(`${at}.max_running`, `${JSON.stringify(value)} must be a whole number from 1 to ${maxMaxRunning}`);
      } else maxRunning = value;
    }

    const interactive = kind === 'interactive';
    if (!interactive) {
      for (const key of interactiveKeys) {
        if (job[key] !== undefined && job[key] !== null) fail(`${at}.${key}`, 'applies to interactive jobs only');
      }
    }
    let idleTimeoutSeconds = defaultIdleTimeoutSeconds;
    if (interactive && job.idle_timeout !== undefined && job.idle_timeout !== null) {
      const seconds = typeof job.idle_timeout === 'string' ? parseDuration(job.idle_timeout) : undefined;
      if (seconds === undefined || seconds < 1 || seconds > maxTimeoutSeconds) {
        fail(
          `${at}.idle_timeout`,
          `${JSON.stringify(job.idle_timeout)} must be a duration from 1s to 7d, such as 15m or 1h`,
        );
      } else idleTimeoutSeconds = seconds;
    }
    const stripPrefix = job.strip_prefix ?? true;
    if (interactive && typeof stripPrefix !== 'boolean') fail(`${at}.strip_prefix`, 'must be true or false');

    let limits: RequestedLimits | undefined;
    if (job.limits !== undefined && job.limits !== null) {
      if (!isMapping(job.limits)) fail(`${at}.limits`, 'must be a mapping such as { memory: 1g, cpus: 2 }');
      else {
        limits = {};
        for (const [key, value] of Object.entries(job.limits)) {
          const limit = limitNames.get(key);
          if (limit === undefined) {
            fail(`${at}.limits.${key}`, `is not a known limit (${[...limitNames.keys()].join(', ')})`);
            continue;
          }
          const parsed = parseLimit(limit, value);
          const problem =
            parsed === undefined
              ? `${JSON.stringify(value)} is not ${describeKind(limit)}`
              : limitProblem(limit, parsed, options.maxLimits?.[limit]);
          if (problem !== undefined || parsed === undefined) {
            fail(
              `${at}.limits.${key}`,
              parsed === undefined ? (problem ?? '') : `${formatLimit(limit, parsed)} ${problem}`,
            );
          } else limits[limit] = parsed;
        }
      }
    }
    const network = job.network ?? 'outside';
    if (network !== 'outside' && network !== 'none') {
      fail(`${at}.network`, `${JSON.stringify(network)} must be outside (the default) or none`);
    }
    // A directory of the bundle holding the job's own requirements.txt or package.json and
    // lock, in place of the project's (as dltHub's dependency groups).
    let environmentDir: string | undefined;
    if (job.environment !== undefined && job.environment !== null) {
      const dir = typeof job.environment === 'string' ? job.environment.replace(/^\.\//, '').replace(/\/+$/, '') : '';
      if (
        dir === '' ||
        dir.startsWith('/') ||
        dir.split('/').some((part) => part === '..' || part === '.' || part === '')
      ) {
        fail(`${at}.environment`, 'must be a directory of the project, such as envs/reporting');
      } else environmentDir = dir;
    }

    const params = parseDeclarations(job.params, `${at}.params`, fail, { triggered: trigger.type !== 'manual' });

    jobs.push({
      name: String(name),
      run: String(run),
      kind: interactive ? 'interactive' : 'batch',
      trigger,
      timezone: String(timezone),
      timeoutSeconds,
      retries: Number(retries),
      ...(retryDelaySeconds === undefined ? {} : { retryDelaySeconds }),
      ...(retryBackoff === undefined ? {} : { retryBackoff }),
      ...(maxRunning === undefined ? {} : { maxRunning }),
      ...(interactive ? { idleTimeoutSeconds, stripPrefix: stripPrefix === true } : {}),
      ...(limits === undefined || Object.keys(limits).length === 0 ? {} : { limits }),
      ...(network === 'none' ? { network: 'none' as const } : {}),
      ...(environmentDir === undefined ? {} : { environmentDir }),
      ...(params === undefined || params.length === 0 ? {} : { params }),
    });
  }

  checkAfterChains(jobs, fail);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, jobs, metadata: jobs.map(jobMetadata) };
}

/**
 * `after` must name a job of this manifest, and the chains must not loop. Each job
 * follows at most one other, so every loop is found by walking the chains once; it
 * is reported once, at its first job in the file.
 */
function checkAfterChains(jobs: ManifestJob[], fail: (path: string, message: string) => void): void {
  const index = new Map(jobs.map((j, i) => [j.name, i]));
  const next = (i: number): number | undefined => {
    const trigger = jobs[i]?.trigger;
    return trigger?.type === 'after' ? index.get(trigger.job) : undefined;
  };
  for (const [i, job] of jobs.entries()) {
    if (job.trigger.type === 'after' && !index.has(job.trigger.job)) {
      fail(`jobs[${i}].after.job`, `"${job.trigger.job}" is not a job of this manifest`);
    }
  }
  const done = new Set<number>();
  for (let start = 0; start < jobs.length; start++) {
    const path: number[] = [];
    let at: number | undefined = start;
    while (at !== undefined && !done.has(at) && !path.includes(at)) {
      path.push(at);
      at = next(at);
    }
    if (at !== undefined && path.includes(at)) {
      const loop = path.slice(path.indexOf(at));
      // A job that follows itself is already reported at its after.job.
      if (loop.length > 1) {
        const first = Math.min(...loop);
        const names = [...loop.slice(loop.indexOf(first)), ...loop.slice(0, loop.indexOf(first)), first].map(
          (j) => jobs[j]?.name,
        );
        fail(`jobs[${first}].after`, `makes a cycle: ${names.join(' -> ')}`);
      }
    }
    for (const j of path) done.add(j);
  }
}

/** What the control plane may know of a job (R1): everything but the command. */
export function jobMetadata(job: ManifestJob): JobMetadata {
  return {
    name: job.name,
    kind: job.kind,
    trigger: job.trigger,
    timezone: job.timezone,
    timeoutSeconds: job.timeoutSeconds,
    retries: job.retries,
    ...(job.retryDelaySeconds === undefined ? {} : { retryDelaySeconds: job.retryDelaySeconds }),
    ...(job.retryBackoff === undefined ? {} : { retryBackoff: job.retryBackoff }),
    ...(job.maxRunning === undefined ? {} : { maxRunning: job.maxRunning }),
  };
}
