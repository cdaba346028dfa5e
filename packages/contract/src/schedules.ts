import { Cron } from 'croner';
import type { JobTrigger } from './internal-api.ts';

/**
 * What a schedule must be for the control plane's scheduler to compute its due times: a
 * time zone the runtime knows, a cron pattern croner reads and that fires at all, a
 * `once` instant that is a date. The data plane checks a manifest with these (with its
 * own rules on top, such as the shortest interval); the control plane checks every
 * deployment report with them, for a report that names a schedule it cannot compute
 * (a data plane's bug, or a rogue one) would fail every tick of the scheduler.
 * A separate entry point of the contract: it needs croner, which the clients do not.
 */

/** Zone names (`Europe/Berlin`, `UTC`, `Etc/GMT+1`), not offsets such as `+01:00` that Intl also takes. */
const zonePattern = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;
export const maxCronLength = 200;

export function validTimezone(zone: string): boolean {
  if (zone.length > 64 || !zonePattern.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The pattern as croner reads it (five fields are minutes, a sixth, leading, field adds
 * seconds, a seventh years), or why it is refused.
 */
export function readCron(pattern: string, timezone: string): { cron: Cron } | { problem: string } {
  const quoted = JSON.stringify(pattern);
  if (pattern.length > maxCronLength) return { problem: `is longer than ${maxCronLength} characters` };
  let cron: Cron;
  try {
    cron = new Cron(pattern, { paused: true, timezone });
  } catch {
    return { problem: `${quoted} is not a valid cron expression` };
  }
  if (cron.nextRun() === null) return { problem: `${quoted} never fires` };
  return { cron };
}

/** Why the scheduler could not compute a trigger's due times in `timezone`, or undefined when it can. */
export function scheduleProblem(trigger: JobTrigger, timezone: string): string | undefined {
  if (!validTimezone(timezone)) return `${JSON.stringify(timezone)} is not an IANA time zone such as Europe/Berlin`;
  if (trigger.type === 'cron') {
    const read = readCron(trigger.cron, timezone);
    return 'problem' in read ? read.problem : undefined;
  }
  if (trigger.type === 'once' && Number.isNaN(new Date(trigger.at).getTime())) {
    return `${JSON.stringify(trigger.at)} is not a date and time`;
  }
  return undefined;
}
