import type { ControlPlaneClient as ControlPlane } from '@sovereign/client';
import type { Backfill, Workspace } from '@sovereign/contract';
import type { Command } from 'commander';
import type { Context } from '../context.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { intervalText, relativeTime, shortId } from '../output/format.ts';
import type { Output } from '../output/output.ts';
import { findJob, isUuid } from '../resolve.ts';
import { act, argsOf } from './command.ts';

/**
 * A --from or --to: a date (its midnight, UTC) or a date and time (UTC unless it names
 * an offset), as the API takes it.
 */
export function parseInstant(end: 'start' | 'end', given: string): string {
  const text = /^\d{4}-\d{2}-\d{2}$/.test(given)
    ? `${given}T00:00:00Z`
    : /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(given)
      ? `${given.replace(' ', 'T')}Z`
      : given;
  const at = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(at)) {
    throw new UsageError(
      `The range’s ${end} "${given}" is not a date or a date and time.`,
      'Give --from and --to as 2026-11-01 (midnight UTC), 2026-11-01T06:00 (UTC) or 2026-11-01T06:00+01:00.',
    );
  }
  return new Date(at).toISOString();
}

/** "12/30 done, 2 running, 1 failed": how far a backfill got. */
export function progressText(b: Backfill): string {
  const parts = [`${b.succeeded + b.failed}/${b.toRun} done`];
  if (b.active > 0) parts.push(`${b.active} running`);
  if (b.failed > 0) parts.push(`${b.failed} failed`);
  return parts.join(', ');
}

function backfillColumns(output: Output) {
  return [
    { header: 'backfill', value: (b: Backfill) => shortId(b.backfillId) },
    { header: 'job', value: (b: Backfill) => b.jobName },
    { header: 'range', value: (b: Backfill) => intervalText(b.from, b.to) ?? '-' },
    {
      header: 'status',
      value: (b: Backfill) =>
        b.status === 'running'
          ? output.out.yellow(b.status)
          : b.status === 'done' && b.failed === 0
            ? output.out.green(b.status)
            : b.status === 'done'
              ? output.out.red(`${b.status}, ${b.failed} failed`)
              : output.out.dim(b.status),
    },
    { header: 'progress', value: (b: Backfill) => progressText(b) },
    { header: 'created', value: (b: Backfill) => relativeTime(b.createdAt) },
  ];
}

/** A backfill by its id or the first characters of it, among the workspace's jobs' backfills. */
async function findBackfill(cp: ControlPlane, workspace: Workspace, given: string): Promise<Backfill> {
  if (isUuid(given)) return cp.backfill(given.toLowerCase());
  const prefix = given.toLowerCase();
  if (!/^[0-9a-f-]{4,36}$/.test(prefix)) throw new UsageError(`"${given}" is not a backfill id.`);
  const found: Backfill[] = [];
  for (const job of await cp.jobs(workspace.workspaceId, { includeArchived: true })) {
    if (job.trigger.type !== 'cron' && job.trigger.type !== 'every') continue;
    found.push(...(await cp.backfills(job.jobId)).filter((b) => b.backfillId.startsWith(prefix)));
  }
  if (found.length === 1 && found[0] !== undefined) return found[0];
  if (found.length > 1) throw new UsageError(`"${given}" starts several backfill ids: give more of it.`);
  throw new NotFoundError(`No backfill "${given}" in workspace ${workspace.name}.`, {
    hint: 'List them with: sov backfill list <job>.',
  });
}

/** Waits for a backfill to end, a line each time its progress changes; exit 10 when a run failed. */
async function followBackfill(ctx: Context, first: Backfill): Promise<void> {
  const cp = await ctx.controlPlane();
  const { output } = ctx;
  let b = first;
  let said = '';
  for (;;) {
    const now = progressText(b);
    if (now !== said) {
      output.event({ type: 'progress', ...b });
      output.note(`Backfill ${shortId(b.backfillId)}: ${now}`);
      said = now;
    }
    if (b.status !== 'running') break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    b = await cp.backfill(b.backfillId);
  }
  output.event({ type: 'end', ...b });
  output.note(
    `Backfill ${shortId(b.backfillId)} of ${b.jobName} ${b.status}: ${b.succeeded} succeeded, ${b.failed} failed.`,
  );
  process.exitCode = b.status === 'done' && b.failed === 0 ? 0 : b.status === 'cancelled' ? 12 : 10;
}

/** `sov job backfill <job>` (under `sov job`), and `sov backfill list|info|cancel`. */
export function backfillCommands(program: Command, job: Command): void {
  job
    .command('backfill')
    .description("queue one run per interval of a job's schedule over a range, a few at a time")
    .argument('<job>', 'name or id')
    .requiredOption(
      '--from <date>',
      'the range’s start: 2026-11-01 (midnight UTC), 2026-11-01T06:00, or with an offset',
    )
    .requiredOption('--to <date>', 'the range’s end, the same way')
    .option('--max-running <n>', 'how many of its runs go at once (1 to 10)', '2')
    .option('--force', 'run intervals that already succeeded again')
    .option('-f, --follow', 'wait until it ends, a line as it progresses; exit 0 only if every run succeeded')
    .addHelpText(
      'after',
      `
The intervals are the schedule's own, as its scheduled runs cover them (a cron's
consecutive fire times in the job's time zone, an every schedule's steps), within
[--from, --to]. Each run sees its interval as SOV_INTERVAL_START and SOV_INTERVAL_END.
With --follow, the exit code says how it ended: 0 every run succeeded, 10 a run did
not, 12 the backfill was cancelled.`,
    )
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const opts = command.opts<{
          from: string;
          to: string;
          maxRunning: string;
          force?: boolean;
          follow?: boolean;
        }>();
        const maxRunning = Number(opts.maxRunning);
        if (!Number.isInteger(maxRunning) || maxRunning < 1 || maxRunning > 10) {
          throw new UsageError('--max-running is a number from 1 to 10.');
        }
        const from = parseInstant('start', opts.from);
        const to = parseInstant('end', opts.to);
        const cp = await ctx.controlPlane();
        const found = await findJob(cp, await ctx.workspace(), given);
        const b = await cp.createBackfill(found.jobId, {
          from,
          to,
          maxRunning,
          ...(opts.force === true ? { force: true } : {}),
        });
        const { output } = ctx;
        // Skipped: succeeded already (unless forced), or a run of the interval is going.
        const skipped = `${b.skipped} ${b.force ? 'going already' : 'already succeeded'}`;
        const summary = `Backfill ${shortId(b.backfillId)} of ${b.jobName}: ${b.intervals} interval${b.intervals === 1 ? '' : 's'}, ${b.toRun} to run (${skipped}), ${b.maxRunning} at a time`;
        if (opts.follow === true) {
          output.event({ type: 'backfill', ...b });
          output.note(summary);
          await followBackfill(ctx, b);
          return;
        }
        output.result(b, () => {
          output.line(summary);
          if (b.status === 'running')
            output.line(output.out.dim(`  Follow it with: sov backfill info ${shortId(b.backfillId)}`));
        });
      }),
    );

  const backfill = program.command('backfill').description("backfills: runs over a range of a job's schedule");

  backfill
    .command('list')
    .description("a job's backfills, newest first")
    .argument('<job>', 'name or id')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const cp = await ctx.controlPlane();
        const found = await findJob(cp, await ctx.workspace(), given);
        const list = await cp.backfills(found.jobId);
        const { output } = ctx;
        output.result({ data: list }, () =>
          output.table(
            list,
            backfillColumns(output),
            `No backfills yet: sov job backfill ${found.name} --from … --to …`,
          ),
        );
      }),
    );

  backfill
    .command('info')
    .description('one backfill: its range and how far it got')
    .argument('<backfill>', 'backfill id (or its first characters)')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const b = await findBackfill(await ctx.controlPlane(), await ctx.workspace(), given);
        const { output } = ctx;
        output.result(b, () =>
          output.keyValues([
            ['backfill', b.backfillId],
            ['job', b.jobName],
            ['range', `${intervalText(b.from, b.to)} ${output.out.dim(`${b.from} → ${b.to}`)}`],
            ['status', b.status],
            ['intervals', `${b.intervals}, ${b.toRun} to run (${b.skipped} skipped)${b.force ? ', forced' : ''}`],
            ['progress', progressText(b)],
            ['at once', String(b.maxRunning)],
            ['created', relativeTime(b.createdAt)],
            ['finished', b.finishedAt === null ? undefined : relativeTime(b.finishedAt)],
            ['runs', output.out.dim(`sov run list --job ${b.jobName}`)],
          ]),
        );
      }),
    );

  backfill
    .command('cancel')
    .description('cancel a backfill: its queued runs are cancelled, no more are queued (runs going finish)')
    .argument('<backfill>', 'backfill id (or its first characters)')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const cp = await ctx.controlPlane();
        const found = await findBackfill(cp, await ctx.workspace(), given);
        const b = await cp.cancelBackfill(found.backfillId);
        ctx.output.result(b, () =>
          ctx.output.line(
            found.status === 'running'
              ? `Backfill ${shortId(b.backfillId)} of ${b.jobName} is cancelled: ${progressText(b)}.`
              : `Backfill ${shortId(b.backfillId)} of ${b.jobName} had already ended (${b.status}).`,
          ),
        );
      }),
    );
}
