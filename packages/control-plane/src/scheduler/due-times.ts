import type { JobTrigger } from '@sovereign/contract';
import { Cron } from 'croner';

/**
 * The first due time of a trigger strictly after `after`, or null when it has none
 * (manual and `after` triggers, a `once` that has passed). Cron patterns of five
 * fields are minutes; six fields add seconds. They are read in the job's time zone.
 */
export function nextDue(trigger: JobTrigger, timezone: string, after: Date, anchor?: Date): Date | null {
  switch (trigger.type) {
    case 'cron':
      return new Cron(trigger.cron, { timezone, paused: true }).nextRun(after);
    case 'every': {
      // Anchored at the first sight of the schedule, so restarts do not drift it.
      const start = (anchor ?? after).getTime();
      const step = trigger.everySeconds * 1000;
      const elapsed = after.getTime() - start;
      const k = elapsed < 0 ? 0 : Math.floor(elapsed / step) + 1;
      return new Date(start + k * step);
    }
    case 'once': {
      const at = new Date(trigger.at);
      return at.getTime() > after.getTime() ? at : null;
    }
    default:
      return null;
  }
}

export function isScheduled(trigger: JobTrigger): boolean {
  return trigger.type === 'cron' || trigger.type === 'every' || trigger.type === 'once';
}

/**
 * When the scheduler will next queue a run of the job, as shown to users: the first due
 * time after `now` in the job's time zone (a wall-clock time a daylight saving change
 * skips runs at the first instant after the gap; one it repeats runs once, at the first),
 * and null when nothing will fire it: a manual or `after` trigger, a paused or archived
 * job, or a `once` that has passed. `anchor` is where an `every` schedule counts from.
 */
export function nextRunAt(
  job: { trigger: JobTrigger; timezone: string; paused: boolean; archived: boolean },
  now: Date,
  anchor: Date | null,
): Date | null {
  if (job.paused || job.archived || !isScheduled(job.trigger)) return null;
  // A schedule stored before reports were checked does not fire: it has no next run.
  const due = dueOrError(job.trigger, () => nextDue(job.trigger, job.timezone, now, anchor ?? now));
  return 'error' in due ? null : due.next;
}

/**
 * A due time as `compute` gives it, or why there is none to give: a cron pattern, time
 * zone or date stored before deployment reports were checked (deployments/apply-report.ts)
 * throws, or gives no date. Who asks decides what that means (the scheduler: never fire).
 */
export function dueOrError(
  trigger: JobTrigger,
  compute: () => Date | null,
): { next: Date | null } | { error: unknown } {
  try {
    const next = compute();
    if (next !== null && Number.isNaN(next.getTime())) return { error: new Error(`its ${trigger.type} gives no date`) };
    return { next };
  } catch (error) {
    return { error };
  }
}

/** The interval a run covers: from its schedule's previous due time to its own. */
export interface Interval {
  start: Date;
  end: Date;
}

/**
 * The interval a scheduled run at `due` covers, as dltHub's scheduler gives its jobs:
 * from the schedule's previous due time to this one. A cron's previous fire time is
 * read in the job's time zone (a day across a daylight saving change is 23 or 25 hours);
 * an `every` schedule's is one step back. A `once` run has no previous due time, so no
 * interval (null), and neither have manual and `after` triggers.
 */
export function intervalEndingAt(trigger: JobTrigger, timezone: string, due: Date): Interval | null {
  switch (trigger.type) {
    case 'cron': {
      const [previous] = new Cron(trigger.cron, { timezone, paused: true }).previousRuns(1, due);
      return previous === undefined ? null : { start: previous, end: due };
    }
    case 'every':
      return { start: new Date(due.getTime() - trigger.everySeconds * 1000), end: due };
    default:
      return null;
  }
}

/**
 * The intervals of a schedule that lie within [from, to] (start ≥ from, end ≤ to), in
 * order, at most `limit + 1` of them (so a caller sees a range that holds too many).
 * An `every` schedule's due times are counted from `anchor` (where the scheduler counts
 * them from), so a backfill's intervals are the scheduled runs' own. Null for a trigger
 * without intervals (manual, `after`, `once`).
 */
export function intervalsWithin(
  trigger: JobTrigger,
  timezone: string,
  range: { from: Date; to: Date },
  anchor: Date,
  limit: number,
): Interval[] | null {
  if (trigger.type !== 'cron' && trigger.type !== 'every') return null;
  const dues: Date[] = [];
  if (trigger.type === 'cron') {
    const cron = new Cron(trigger.cron, { timezone, paused: true });
    // nextRun is strictly after its argument: one millisecond back includes `from` itself.
    let due = cron.nextRun(new Date(range.from.getTime() - 1));
    while (due !== null && due.getTime() <= range.to.getTime() && dues.length <= limit + 1) {
      dues.push(due);
      due = cron.nextRun(due);
    }
  } else {
    const step = trigger.everySeconds * 1000;
    const k = Math.ceil((range.from.getTime() - anchor.getTime()) / step);
    for (let t = anchor.getTime() + k * step; t <= range.to.getTime() && dues.length <= limit + 1; t += step) {
      dues.push(new Date(t));
    }
  }
  const intervals: Interval[] = [];
  for (let i = 1; i < dues.length; i++) intervals.push({ start: dues[i - 1] as Date, end: dues[i] as Date });
  return intervals;
}
