import type { Command } from 'commander';
import { compactSeconds, relativeTime, runStatus, trigger } from '../output/format.ts';
import { findJob } from '../resolve.ts';
import { collectParam, readRunParameters } from '../run-parameters.ts';
import { backfillCommands } from './backfills.ts';
import { act, argsOf } from './command.ts';
import { runColumns, triggerJob } from './runs.ts';

/** `sov job list|info|pause|resume|trigger|backfill`, and `sov backfill`. */
export function jobCommands(program: Command): void {
  const job = program.command('job').description("jobs: what the workspace's deployments define");

  job
    .command('list')
    .description('the jobs of the workspace, with their last run')
    .option('--archived', 'include jobs no longer in the deployment')
    .action(
      act(async (ctx, command) => {
        const cp = await ctx.controlPlane();
        const workspace = await ctx.workspace();
        const jobs = await cp.jobs(workspace.workspaceId, {
          includeArchived: command.opts<{ archived?: boolean }>().archived === true,
        });
        const { output } = ctx;
        output.result({ data: jobs }, () =>
          output.table(
            jobs,
            [
              {
                header: 'name',
                value: (j) => output.out.bold(j.name) + (j.archived ? output.out.dim(' (archived)') : ''),
              },
              { header: 'kind', value: (j) => j.kind },
              {
                header: 'trigger',
                value: (j) => trigger(j.trigger) + (j.paused ? output.out.yellow(' (paused)') : ''),
              },
              { header: 'next run', value: (j) => relativeTime(j.nextRunAt) },
              { header: 'timeout', value: (j) => compactSeconds(j.timeoutSeconds) },
              { header: 'retries', value: (j) => String(j.retries), align: 'right' },
              {
                header: 'last run',
                value: (j) =>
                  j.lastRun === null
                    ? output.out.dim('never')
                    : `${runStatus(j.lastRun.status, output.out)} ${relativeTime(j.lastRun.queuedAt)}`,
              },
            ],
            'No jobs yet: sov deploy <dir>',
          ),
        );
      }),
    );

  job
    .command('info')
    .description('one job: its trigger, limits and recent runs')
    .argument('<job>', 'name or id')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const cp = await ctx.controlPlane();
        const workspace = await ctx.workspace();
        const found = await findJob(cp, workspace, given);
        const runs = await cp.runs({ workspaceId: workspace.workspaceId, jobId: found.jobId, limit: 5 });
        const { output } = ctx;
        output.result({ ...found, recentRuns: runs.data }, () => {
          output.keyValues([
            ['name', output.out.bold(found.name)],
            ['id', found.jobId],
            ['kind', found.kind],
            ['trigger', `${trigger(found.trigger)}${found.trigger.type === 'cron' ? ` (${found.timezone})` : ''}`],
            ['paused', found.paused ? output.out.yellow('yes') : 'no'],
            [
              'next run',
              found.nextRunAt === null ? '-' : `${relativeTime(found.nextRunAt)} ${output.out.dim(found.nextRunAt)}`,
            ],
            ['timeout', compactSeconds(found.timeoutSeconds)],
            [
              'retries',
              found.retries === 0
                ? '0'
                : `${found.retries}, ${compactSeconds(found.retryDelaySeconds)} apart at first, ×${found.retryBackoff} each time`,
            ],
            ['archived', found.archived ? 'yes' : undefined],
            ['deployment', found.deploymentId],
            ['updated', relativeTime(found.updatedAt)],
          ]);
          output.line();
          output.table(runs.data, runColumns(output, runs.data), `No runs yet: sov job trigger ${found.name}`);
        });
      }),
    );

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    job
      .command(action)
      .description(
        paused ? "pause a job's schedule: its due times are skipped until resumed" : "resume a job's schedule",
      )
      .argument('<job>', 'name or id')
      .action(
        act(async (ctx, command) => {
          const [given] = argsOf<[string]>(command);
          const cp = await ctx.controlPlane();
          const found = await findJob(cp, await ctx.workspace(), given);
          const answer = await cp.setPaused(found.jobId, paused);
          ctx.output.result({ ...answer, name: found.name }, () =>
            ctx.output.line(
              paused
                ? `Paused ${ctx.output.out.bold(found.name)}: its due times are skipped until: sov job resume ${found.name}`
                : `Resumed ${ctx.output.out.bold(found.name)}: it runs on its schedule again.`,
            ),
          );
        }),
      );
  }

  job
    .command('trigger')
    .description('run a job now')
    .argument('<job>', 'name or id')
    .option('-f, --follow', 'stream its logs until it ends; exit with its status (0 only if it succeeded)')
    .option('-t, --timestamps', 'with --follow, show when each line was written')
    .option(
      '-p, --param <name=value>',
      'a parameter of the run (repeat for each); kept on the data plane',
      collectParam,
    )
    .option('--params-file <file>', 'parameters from a JSON object of names to values (--param wins)')
    .addHelpText(
      'after',
      `
Parameters are checked against the job's params: in sovereign.yaml and stored on the
workspace's data plane; the control plane gets only their id. The job reads them as
SOV_PARAM_<NAME> and as JSON in the file at SOV_PARAMS_FILE.

With --follow, the exit code says how the run ended: 0 succeeded, 10 failed,
11 timed out, 12 cancelled, 13 lost. With --json, --follow prints one JSON object per
line: the run, each log line, then the end.`,
    )
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const opts = command.opts<{ follow?: boolean; timestamps?: boolean; param?: string[]; paramsFile?: string }>();
        const params = await readRunParameters(opts.param, opts.paramsFile);
        await triggerJob(ctx, given, opts.follow === true, opts.timestamps === true, params);
      }),
    );

  backfillCommands(program, job);
}
