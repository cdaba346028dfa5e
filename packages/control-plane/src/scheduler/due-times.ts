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
  return nextDue(job.trigger, job.timezone, now, anchor ?? now);
}
