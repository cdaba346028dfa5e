import { ApiError, type DataPlaneClient as DataPlane, formatDuration, runDurationText } from '@sovereign/client';
import type { LogLine, Run, RunStatus } from '@sovereign/contract';
import { isTerminal, RunStatuses } from '@sovereign/contract/run-states';
import type { Command } from 'commander';
import type { Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { intervalText, relativeTime, runStatus, shortId, statusWord } from '../output/format.ts';
import type { Output } from '../output/output.ts';
import { findJob, findRun } from '../resolve.ts';
import type { GivenValue } from '../run-parameters.ts';
import { exitCodeFor, followRun } from '../runs/follow.ts';
import { openApp } from '../runs/interactive.ts';
import { act, argsOf } from './command.ts';

/** A log line: its text on stdout (with --timestamps, its time first), or an NDJSON event. */
export function printLogLine(output: Output, line: LogLine, timestamps = false): void {
  if (output.json) {
    output.event({ type: 'line', ...line });
    return;
  }
  const text = line.stream === 'stderr' ? output.out.yellow(line.line) : line.line;
  // Raw, escape sequences and all: the job's own output (see Output.logLine).
  output.logLine(timestamps ? `${output.out.dim(line.at)} ${text}` : text);
}

/** The runs table's columns; an interval column when a run of the page covers one. */
export function runColumns(output: Output, runs: readonly Run[] = []) {
  const interval = runs.some((r) => r.intervalEnd !== null)
    ? [{ header: 'interval', value: (r: Run) => intervalText(r.intervalStart, r.intervalEnd) ?? '-' }]
    : [];
  return [
    { header: 'run', value: (r: Run) => shortId(r.runId) },
    { header: 'job', value: (r: Run) => r.jobName },
    { header: 'status', value: (r: Run) => runStatus(r.status, output.out) },
    { header: 'trigger', value: (r: Run) => (r.attempt > 1 ? `${r.trigger}, attempt ${r.attempt}` : r.trigger) },
    { header: 'queued', value: (r: Run) => relativeTime(r.queuedAt) },
    { header: 'duration', value: (r: Run) => runDurationText(r) ?? '-' },
    { header: 'exit', value: (r: Run) => (r.exitCode === null ? '-' : String(r.exitCode)), align: 'right' as const },
    ...interval,
  ];
}

/** A run ended in a way its job may retry. */
const retried = new Set(['failed', 'timed_out', 'lost']);

/**
 * The next attempt of a run that ended: the control plane makes it when it hears of the
 * end, which reaches it through the data plane's outbox a moment after the log ends.
 * Undefined when the job retries no more.
 */
async function nextAttempt(ctx: Context, run: Run): Promise<{ next: Run; of: number } | undefined> {
  const cp = await ctx.controlPlane();
  const job = (await cp.jobs(run.workspaceId, { includeArchived: true })).find((j) => j.jobId === run.jobId);
  if (job === undefined || run.attempt > job.retries) return undefined;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const { data } = await cp.runs({ workspaceId: run.workspaceId, jobId: run.jobId, limit: 20 });
    const next = data.find((r) => r.rootRunId === run.rootRunId && r.attempt === run.attempt + 1);
    if (next !== undefined) return { next, of: job.retries + 1 };
    // Ended without a retry (cancelled meanwhile): no next attempt. Not heard of yet (the
    // control plane still says running: the log's end comes from the data plane, its
    // status a moment later through the outbox): ask again shortly.
    const self = data.find((r) => r.runId === run.runId);
    if (self !== undefined && isTerminal(self.status) && !retried.has(self.status)) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return undefined;
}

/**
 * Follows a run to its end, printing its lines, and then its retries to the last
 * attempt ("attempt 2 of 3 in 30s" in between); prints how it ended and sets the exit
 * code from its status (0 only when it succeeded).
 */
export async function followToEnd(ctx: Context, dp: DataPlane, first: Run, timestamps = false): Promise<void> {
  const { output } = ctx;
  const cp = await ctx.controlPlane();
  let run = first;
  for (;;) {
    const end = await followRun(cp, dp, run.runId, output, (line) => printLogLine(output, line, timestamps));
    output.event({
      type: 'end',
      runId: run.runId,
      job: run.jobName,
      status: end.status,
      exitCode: end.exitCode,
      durationMs: end.durationMs,
    });
    const code = exitCodeFor(end.status);
    const { err } = output;
    const exit = end.exitCode === null ? '' : ` (exit ${end.exitCode})`;
    // The run's own duration (its process's start to end), as `run info` and the dashboard say.
    const took = end.durationMs === null ? '' : ` in ${formatDuration(end.durationMs)}`;
    const word = statusWord(end.status);
    output.note(
      code === 0
        ? `${err.green('✓')} Run ${shortId(run.runId)} of ${run.jobName} ${err.green(word)}${exit}${err.dim(took)}`
        : `${err.red('✗')} Run ${shortId(run.runId)} of ${run.jobName} ${err.red(word)}${exit}${err.dim(took)}`,
    );
    process.exitCode = code;
    const retry = retried.has(end.status) ? await nextAttempt(ctx, run) : undefined;
    if (retry === undefined) return;
    const { next, of } = retry;
    const when = next.scheduledFor === null ? 'now' : relativeTime(next.scheduledFor).replace(/^just now$/, 'now');
    output.event({ type: 'retry', ...next });
    output.note(`Attempt ${next.attempt} of ${of} ${when}: run ${shortId(next.runId)}. Following it…`);
    run = next;
  }
}

/** `sov run list|info|cancel` and `sov logs <runId> [-f]`. */
export function runCommands(program: Command): void {
  const run = program.command('run').description('runs: what ran, when, and how it ended');

  run
    .command('list')
    .description('recent runs of the workspace, newest first')
    .option('-j, --job <job>', 'only this job')
    .option('-s, --status <status>', `only this status (${RunStatuses.join(', ')})`)
    .option('-n, --limit <n>', 'how many', '20')
    .option('--cursor <cursor>', 'the page after this one (from --json output)')
    .action(
      act(async (ctx, command) => {
        const opts = command.opts<{ job?: string; status?: string; limit: string; cursor?: string }>();
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 200)
          throw new UsageError('--limit is a number from 1 to 200.');
        if (opts.status !== undefined && !(RunStatuses as readonly string[]).includes(opts.status)) {
          throw new UsageError(`"${opts.status}" is not a run status.`, `Use one of: ${RunStatuses.join(', ')}.`);
        }
        const cp = await ctx.controlPlane();
        const workspace = await ctx.workspace();
        const jobId = opts.job === undefined ? undefined : (await findJob(cp, workspace, opts.job)).jobId;
        const page = await cp.runs({
          workspaceId: workspace.workspaceId,
          ...(jobId === undefined ? {} : { jobId }),
          ...(opts.status === undefined ? {} : { status: opts.status as RunStatus }),
          limit,
          ...(opts.cursor === undefined ? {} : { cursor: opts.cursor }),
        });
        const { output } = ctx;
        output.result(page, () => {
          output.table(page.data, runColumns(output, page.data), 'No runs yet: sov job trigger <job>');
          if (page.nextCursor !== null) output.line(output.out.dim(`  More: sov run list --cursor ${page.nextCursor}`));
        });
      }),
    );

  run
    .command('info')
    .description('one run: status, times, exit code, reason')
    .argument('<run>', 'run id (or its first characters)')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const found = await findRun(await ctx.controlPlane(), given, () => ctx.workspace());
        const { output } = ctx;
        const { out } = output;
        // Its parameters are on its workspace's data plane: the control plane has their id only.
        const parameters =
          found.parametersId === null
            ? undefined
            : (await (await ctx.dataPlane(['runs:parameters'], found.workspaceId)).parameters(found.parametersId))
                .values;
        const shown =
          parameters === undefined
            ? undefined
            : Object.entries(parameters)
                .sort(([a], [b]) => (a < b ? -1 : 1))
                .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
                .join(' ') || out.dim('none');
        output.result(parameters === undefined ? found : { ...found, parameters }, () =>
          output.keyValues([
            ['run', found.runId],
            ['job', found.jobName],
            [
              'status',
              runStatus(found.status, out) +
                (found.cancelRequested && found.status !== 'cancelled' ? ' (cancel requested)' : ''),
            ],
            ['exit code', found.exitCode === null ? undefined : String(found.exitCode)],
            ['reason', found.reasonCode ?? undefined],
            ['parameters', shown],
            ['trigger', `${found.trigger}${found.attempt > 1 ? `, attempt ${found.attempt}` : ''}`],
            ['interval', intervalText(found.intervalStart, found.intervalEnd)],
            ['backfill', found.backfillId === null ? undefined : shortId(found.backfillId)],
            ['queued', `${relativeTime(found.queuedAt)} ${out.dim(found.queuedAt)}`],
            [
              'started',
              found.startedAt === null ? undefined : `${relativeTime(found.startedAt)} ${out.dim(found.startedAt)}`,
            ],
            [
              'finished',
              found.finishedAt === null ? undefined : `${relativeTime(found.finishedAt)} ${out.dim(found.finishedAt)}`,
            ],
            ['duration', runDurationText(found)],
            ['deployment', found.deploymentId],
            ['logs', out.dim(`sov logs ${shortId(found.runId)}`)],
          ]),
        );
      }),
    );

  run
    .command('cancel')
    .description('cancel a run: a queued one ends at once, a running one is stopped')
    .argument('<run>', 'run id (or its first characters)')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const cp = await ctx.controlPlane();
        const found = await findRun(cp, given, () => ctx.workspace());
        const cancelled = await cp.cancel(found.runId);
        ctx.output.result(cancelled, () =>
          ctx.output.line(
            cancelled.status === 'cancelled'
              ? `Run ${shortId(cancelled.runId)} of ${cancelled.jobName} is cancelled.`
              : cancelled.cancelRequested
                ? `Cancelling run ${shortId(cancelled.runId)} of ${cancelled.jobName}: its data plane stops it within seconds.`
                : `Run ${shortId(cancelled.runId)} of ${cancelled.jobName} had already ended (${statusWord(cancelled.status)}).`,
          ),
        );
      }),
    );

  program
    .command('logs')
    .description("a run's logs, read from its data plane")
    .argument('<run>', 'run id (or its first characters)')
    .option('-f, --follow', 'stream new lines until the run ends; exit with its status')
    .option('-t, --timestamps', 'show when each line was written')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const opts = command.opts<{ follow?: boolean; timestamps?: boolean }>();
        const cp = await ctx.controlPlane();
        const found = await findRun(cp, given, () => ctx.workspace());
        const dp = await ctx.dataPlane(['runs:logs'], found.workspaceId);
        if (opts.follow) {
          await followToEnd(ctx, dp, found, opts.timestamps);
          return;
        }
        const lines: LogLine[] = [];
        let status = found.status as string;
        let after = 0;
        try {
          for (;;) {
            const page = await dp.logs(found.runId, after);
            status = page.status;
            for (const line of page.data) {
              lines.push(line);
              if (!ctx.output.json) printLogLine(ctx.output, line, opts.timestamps);
            }
            if (page.data.length === 0 || page.nextAfter === after) break;
            after = page.nextAfter;
          }
        } catch (error) {
          // A run its data plane has not claimed yet has no logs there.
          if (!(error instanceof ApiError && error.code === 'run_not_found' && found.claimedAt === null)) throw error;
          ctx.output.note(ctx.output.err.dim(`No logs: the run is ${statusWord(found.status)}.`));
        }
        ctx.output.data({ runId: found.runId, job: found.jobName, status, lines });
      }),
    );
}

/** `sov job trigger` shares this: trigger a job, then follow it if asked. */
export async function triggerJob(
  ctx: Context,
  given: string,
  follow: boolean,
  timestamps: boolean,
  params?: Record<string, GivenValue>,
): Promise<void> {
  const cp = await ctx.controlPlane();
  const workspace = await ctx.workspace();
  const job = await findJob(cp, workspace, given);
  if (job.kind === 'interactive') {
    if (params !== undefined) throw new UsageError('An interactive job is opened, not given parameters.');
    return openInteractive(ctx, job.jobId, follow, timestamps);
  }
  // Get the token first: a refusal then leaves no run behind.
  const dp = follow ? await ctx.dataPlane(['runs:logs'], workspace.workspaceId) : undefined;
  // The values go to the workspace's data plane, which checks them; the control plane gets their id only.
  const parametersId =
    params === undefined
      ? undefined
      : (await (await ctx.dataPlane(['runs:trigger'], workspace.workspaceId)).storeParameters(job.name, params))
          .parametersId;
  const run = await cp.trigger(job.jobId, parametersId === undefined ? {} : { parametersId });
  const { output } = ctx;
  if (dp === undefined) {
    output.result(run, () => {
      output.line(`Triggered ${output.out.bold(job.name)}: run ${run.runId} (${run.status}).`);
      output.line(output.out.dim(`  Follow it with: sov logs ${shortId(run.runId)} -f`));
    });
    return;
  }
  output.event({ type: 'run', ...run });
  output.note(`Triggered ${output.err.bold(job.name)}: run ${shortId(run.runId)}. Following its logs…`);
  await followToEnd(ctx, dp, run, timestamps);
}

/** An interactive job: started (or its active run found), then the address to open it at. */
async function openInteractive(ctx: Context, jobId: string, follow: boolean, timestamps: boolean): Promise<void> {
  const cp = await ctx.controlPlane();
  const { output } = ctx;
  const app = await openApp(cp, jobId, output);
  const { run } = app;
  const summary = { ...run, existing: app.existing, appUrl: app.appUrl };
  const lines = () => {
    output.line(
      `${output.out.bold(run.jobName)} is ${app.existing ? 'already running' : 'running'}: run ${shortId(run.runId)}.`,
    );
    output.line('Open it in a browser (you are let in as the user signed in to the dashboard):');
    output.line(`  ${output.out.cyan(app.appUrl)}`);
    output.line(output.out.dim('  Tools: the same address, with a bearer token that has the interactive scope.'));
    output.line(output.out.dim(`  Stop it: sov run cancel ${shortId(run.runId)}`));
  };
  if (!follow) {
    output.result(summary, lines);
    return;
  }
  output.event({ type: 'run', ...summary });
  if (!output.json) lines();
  await followToEnd(ctx, await ctx.dataPlane(['runs:logs'], run.workspaceId), run, timestamps);
}
