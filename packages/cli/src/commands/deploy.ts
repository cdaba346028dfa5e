import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { ControlPlaneClient as ControlPlane } from '@sovereign/client';
import type { DeployResult } from '@sovereign/contract';
import type { Command } from 'commander';

import { jobsLeaving, manifestJobNames } from '../deploy/leaving.ts';
import { assertProject, listProjectFiles, packFiles } from '../deploy/pack.ts';
import { ProgressBar } from '../deploy/progress.ts';
import { CliError, ExitCode } from '../errors.ts';
import { bytes, type Palette, shortId, trigger } from '../output/format.ts';
import type { Output } from '../output/output.ts';
import { ask, interactive } from '../prompt.ts';
import { act, argsOf } from './command.ts';

/** How long `sov deploy` waits for the control plane to list the new jobs. */
const reportWaitMs = 30_000;

/** The deployment report reaches the control plane through the data plane's outbox: wait for it. */
async function waitForReport(cp: ControlPlane, workspaceId: string, deploymentId: string): Promise<boolean> {
  const deadline = Date.now() + reportWaitMs;
  while (Date.now() < deadline) {
    if ((await cp.deployments(workspaceId)).some((d) => d.deploymentId === deploymentId)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

function changeLines(result: DeployResult, colors: Palette): string[] {
  const triggers = new Map(result.jobs.map((j) => [j.name, trigger(j.trigger)]));
  const rows: Array<[string, string, string]> = [
    ...result.changes.added.map((name): [string, string, string] => [colors.green('+'), name, colors.green('added')]),
    ...result.changes.updated.map((name): [string, string, string] => [
      colors.yellow('~'),
      name,
      colors.yellow('updated'),
    ]),
    ...result.changes.archived.map((name): [string, string, string] => [colors.red('-'), name, colors.red('archived')]),
    ...result.changes.unchanged.map((name): [string, string, string] => [
      colors.dim('='),
      name,
      colors.dim('unchanged'),
    ]),
  ];
  const width = Math.max(0, ...rows.map(([, name]) => name.length));
  return rows.map(([mark, name, what]) => {
    const shown = triggers.get(name);
    return `  ${mark} ${name.padEnd(width)}  ${what}${shown === undefined ? '' : colors.dim(`  ${shown}`)}`.trimEnd();
  });
}

/**
 * Before a deployment archives jobs in use, says which, and asks on a terminal; a script
 * says so with --yes. Archived jobs stop being scheduled: that is not done without a word.
 */
async function confirmArchiving(output: Output, leaving: string[], workspace: string, yes: boolean): Promise<void> {
  if (leaving.length === 0 || yes) return;
  const which = `${leaving.length} job${leaving.length === 1 ? '' : 's'} of workspace ${workspace}`;
  if (!interactive()) {
    throw new CliError(`This deployment archives ${which}, which its sovereign.yaml no longer lists.`, {
      code: 'confirmation_required',
      details: leaving,
      hint: 'Archived jobs are no longer scheduled. Pass --yes to deploy anyway, or run it on a terminal to be asked.',
      exitCode: ExitCode.usage,
    });
  }
  const { err } = output;
  output.note(`This deployment archives ${which}, which its sovereign.yaml no longer lists:`);
  for (const name of leaving) output.note(`  ${err.red('-')} ${name}`);
  const answer = await ask('Archive them and deploy? [y/N]');
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('Nothing was deployed.', { exitCode: ExitCode.failed });
}

/** `sov deploy [dir] [--dry-run] [--yes]`. */
export function deployCommand(program: Command): void {
  program
    .command('deploy')
    .description("pack a project and upload it to the workspace's data plane")
    .argument('[dir]', 'the project directory, with sovereign.yaml at its root', '.')
    .option('--dry-run', 'validate and show what would change; nothing is stored')
    .option('-y, --yes', 'archive the jobs the manifest no longer lists without asking (for scripts)')
    .addHelpText(
      'after',
      `
Everything in the directory is packed except .git and what .gitignore and .sovignore
files leave out (git's syntax; a .sovignore can re-include with !pattern). The bundle
goes straight to the workspace's data plane; the control plane learns only job names,
schedules, sizes and digests.`,
    )
    .action(
      act(async (ctx, command) => {
        const [dir] = argsOf<[string]>(command);
        const options = command.opts<{ dryRun?: boolean; yes?: boolean }>();
        const dryRun = options.dryRun === true;
        const root = resolve(dir);
        const shownDir = relative(process.cwd(), root) || '.';
        await assertProject(root);
        const files = await listProjectFiles(root);
        const workspace = await ctx.workspace();
        const cp = await ctx.controlPlane();
        if (!dryRun) {
          const leaving = await jobsLeaving(cp, workspace.workspaceId, await manifestJobNames(root));
          await confirmArchiving(ctx.output, leaving, workspace.name, options.yes === true);
        }
        const dp = await ctx.dataPlane(['deployments:write', 'deployments:read'], workspace.workspaceId);
        await dp.ready();

        const scratch = await mkdtemp(join(tmpdir(), 'sov-deploy-'));
        let result: DeployResult;
        let sizeBytes: number;
        try {
          const bundle = join(scratch, 'bundle.tar.gz');
          sizeBytes = await packFiles(root, files, bundle);
          const progress = new ProgressBar(dryRun ? 'Checking ' : 'Uploading', sizeBytes);
          const body = Readable.toWeb(createReadStream(bundle).pipe(progress)) as ReadableStream<Uint8Array>;
          let building = false;
          // The build's own output, as the data plane streams it from the region (stderr: not the result).
          const onBuildLine = (line: string) => {
            if (!building) {
              progress.finish();
              ctx.output.note(ctx.output.err.dim('Building the environment in the region:'));
              building = true;
            }
            ctx.output.note(ctx.output.err.dim(`  │ ${line}`));
          };
          try {
            result = await dp.deploy(body, sizeBytes, dryRun, ctx.output.json ? undefined : onBuildLine);
          } finally {
            progress.finish();
          }
        } finally {
          await rm(scratch, { recursive: true, force: true });
        }

        let reported = true;
        if (!dryRun && result.deploymentId !== null) {
          reported = await waitForReport(cp, workspace.workspaceId, result.deploymentId);
        }
        const { output } = ctx;
        const { out } = output;
        output.result({ ...result, workspaceId: workspace.workspaceId, directory: shownDir, files, reported }, () => {
          const what = `${shownDir} (${files.length} file${files.length === 1 ? '' : 's'}, ${bytes(sizeBytes)})`;
          if (dryRun) {
            output.line(
              `Dry run: nothing was stored. ${what} is valid for workspace ${out.bold(workspace.name)}; deploying it would:`,
            );
          } else {
            output.line(
              `${out.green('✓')} Deployed ${what} to workspace ${out.bold(workspace.name)} (region ${workspace.dataResidency}) as deployment ${shortId(result.deploymentId ?? '')}.`,
            );
          }
          for (const line of changeLines(result, out)) output.line(line);
          for (const environment of result.environments) {
            const built = dryRun ? 'would be built in the region' : 'built in the region';
            output.line(
              out.dim(`  ${environment.kind} environment: ${environment.built ? built : 'up to date (built before)'}`),
            );
          }
          if (result.jobs.length === 0) output.line(out.dim('  (the manifest lists no jobs)'));
          if (!reported) {
            output.line(out.yellow('  The control plane has not listed the new jobs yet; they appear within moments.'));
          }
          const first = [...result.changes.added, ...result.changes.updated, ...result.changes.unchanged][0];
          if (!dryRun && first !== undefined) output.line(out.dim(`  Next: sov job trigger ${first} --follow`));
        });
      }),
    );
}
