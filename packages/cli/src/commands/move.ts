import type { DataPlaneClient } from '@sovereign/client';
import type { Scope, Workspace, WorkspaceMove } from '@sovereign/contract';
import { type Command, InvalidArgumentError } from 'commander';
import type { Context } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';
import { copyBundle, copySecrets, copyStates, copyVariables, waitForDeployment, waitForIdle } from '../moves/copy.ts';
import { copyOutputs } from '../moves/outputs.ts';
import { type MovePlan, readPlan, readStates } from '../moves/plan.ts';
import { readSecretsFile } from '../moves/secrets-file.ts';
import { bytes, shortId } from '../output/format.ts';
import type { Output } from '../output/output.ts';
import { askHidden, interactive } from '../prompt.ts';
import { findRegion, findWorkspace } from '../resolve.ts';
import { act, argsOf } from './command.ts';

interface MoveOptions {
  to: string;
  name?: string;
  dryRun?: boolean;
  secretsFrom?: string;
  skipSecrets?: boolean;
  withOutputs?: number;
}

/** What the client reads in the old workspace, and writes in the new one: no more. */
const sourceScopes: Scope[] = ['deployments:read', 'variables:read', 'state:read'];
const targetScopes: Scope[] = [
  'deployments:read',
  'deployments:write',
  'variables:read',
  'variables:write',
  'state:read',
  'state:write',
  'runs:outputs',
  'outputs:write',
];

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new InvalidArgumentError('a whole number from 1 to 200');
  return n;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The dry run: what would be copied, with sizes, and what must be given again. */
function printPlan(output: Output, source: Workspace, region: string, name: string, plan: MovePlan): void {
  const { out } = output;
  output.line(
    `Dry run: nothing was changed. Moving ${out.bold(source.name)} (region ${source.dataResidency}) to region ${out.bold(region)} would:`,
  );
  output.line(`  create workspace ${out.bold(name)} in ${region} (same organization), its jobs paused until the end`);
  if (plan.deployment === null) output.line(out.dim('  copy no bundle: the workspace was never deployed'));
  else {
    output.line(
      `  copy the bundle of deployment ${shortId(plan.deployment.deploymentId)}: ${bytes(plan.deployment.sizeBytes)} (${plan.deployment.digest})`,
    );
  }
  output.line(
    plan.variables.length === 0
      ? out.dim('  copy no variable')
      : `  copy ${plural(plan.variables.length, 'variable')}: ${plan.variables.map((v) => v.name).join(', ')}`,
  );
  output.line(
    plan.states.length === 0
      ? out.dim('  copy no state: no job has saved one')
      : `  copy the state of ${plural(plan.states.length, 'job')}: ${plan.states.map((s) => `${s.job} (${bytes(s.sizeBytes)})`).join(', ')}`,
  );
  if (plan.outputs !== null) {
    const files = plan.outputs.flatMap((r) => r.files);
    output.line(
      `  copy the outputs of ${plural(plan.outputs.length, 'run')}: ${plural(files.length, 'file')}, ${bytes(files.reduce((sum, f) => sum + f.sizeBytes, 0))}`,
    );
  }
  if (plan.secrets.length > 0) {
    output.line(
      `  set ${plural(plan.secrets.length, 'secret')} again, given anew (never read back): ${out.yellow(plan.secrets.join(', '))}`,
    );
  }
  output.line(
    out.dim(
      `Then ${source.name} stops: no schedule, deploy or run; its history (runs, logs, outputs) stays readable in ${source.dataResidency}.`,
    ),
  );
}

/**
 * The values of the secrets to set in the new workspace, gathered before anything changes:
 * from --secrets-from, asked without echo on a terminal, or none with --skip-secrets.
 * Without any of them and no terminal, refused (exit 2): a secret is never read back.
 */
async function secretValues(
  output: Output,
  needed: readonly string[],
  opts: MoveOptions,
  target: string,
): Promise<Map<string, string>> {
  if (needed.length === 0) return new Map();
  if (opts.secretsFrom !== undefined) {
    const given = await readSecretsFile(opts.secretsFrom);
    const missing = needed.filter((name) => !given.has(name));
    if (missing.length > 0 && opts.skipSecrets !== true) {
      throw new UsageError(
        `${opts.secretsFrom} has no value for ${missing.join(', ')}.`,
        'Add them to the file, or pass --skip-secrets as well to leave those unset.',
      );
    }
    const unused = [...given.keys()].filter((name) => !needed.includes(name));
    if (unused.length > 0) output.note(output.err.dim(`Not secrets to set, left out: ${unused.join(', ')}`));
    return new Map(needed.filter((name) => given.has(name)).map((name) => [name, given.get(name) as string]));
  }
  if (opts.skipSecrets === true) return new Map();
  if (!interactive()) {
    throw new UsageError(
      `The workspace has ${plural(needed.length, 'secret')} (${needed.join(', ')}), which are never read back: give their values again.`,
      'Pass --secrets-from FILE (NAME=value lines, or a JSON object), run it on a terminal to be asked, or pass --skip-secrets to leave them unset.',
    );
  }
  output.note(
    `Secrets are never read back: type each one's value for ${target} (nothing is shown; empty leaves it unset).`,
  );
  const values = new Map<string, string>();
  for (const name of needed) {
    const value = await askHidden(`  ${name}`);
    if (value !== '') values.set(name, value);
  }
  return values;
}

/** The names of the secrets the new workspace has already (a move run again asks only for the rest). */
async function secretsThere(target: DataPlaneClient | undefined): Promise<Set<string>> {
  if (target === undefined) return new Set();
  return new Set((await target.variables()).filter((v) => v.secret).map((v) => v.name));
}

/** `sov workspace move <workspace> --to <region>`. */
export function moveCommand(workspace: Command): void {
  workspace
    .command('move')
    .description('move a workspace to another region: this client copies it into a new workspace there')
    .argument('<workspace>', 'name or id')
    .requiredOption('--to <region>', 'the region (name or id) to move it to')
    .option('--name <name>', "the new workspace's name (by default the old one's, with the region's after it)")
    .option('--dry-run', 'show what would be copied, with sizes, and what must be given again; change nothing')
    .option('--secrets-from <file>', 'the secrets\' values: NAME=value lines, or a JSON object {"NAME": "value"}')
    .option('--skip-secrets', 'leave the secrets unset in the new workspace (set them later: sov vars set --secret)')
    .option('--with-outputs <n>', "also copy the outputs of the old workspace's last n runs (1 to 200)", positive)
    .addHelpText(
      'after',
      `
A workspace's region never changes: a move makes a new workspace in the target region
(same organization) and this client copies into it, with a scoped token for each data
plane, the current deployment's bundle, the plain variables and each job's state. Nothing
passes through the control plane, and the two data planes never talk to each other.
Secrets are never read back: each is asked again (or read from --secrets-from, or left
unset with --skip-secrets; without a terminal, one of the two is needed).

Once started, the old workspace stops: no schedule, deploy or run; its history (runs,
logs, outputs) stays readable where it is; --with-outputs n copies the outputs of its
last n runs too (sov outputs list <run> then reads them in the new region). The new
workspace's jobs wait, paused, and resume at the end as they were in the old one.
Interrupted, the move is run again the same way: it picks up where it was, and copies
nothing twice.

  sov workspace move sales --to eu --dry-run
  sov workspace move sales --to eu --secrets-from secrets.env
  sov workspace move sales --to eu --name sales-frankfurt --skip-secrets`,
    )
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        await move(ctx, given, command.opts<MoveOptions>());
      }),
    );
}

async function move(ctx: Context, given: string, opts: MoveOptions): Promise<void> {
  const { output } = ctx;
  const { out, err } = output;
  const cp = await ctx.controlPlane();
  const source = await findWorkspace(cp, given);
  const region = await findRegion(cp, source.organizationId, opts.to);
  const regionName = region.name.toLowerCase();
  const earlier: WorkspaceMove | null = source.movedTo;
  if (earlier !== null && earlier.toRegionId !== region.regionId) {
    throw new CliError(
      `Workspace ${source.name} ${earlier.status === 'completed' ? 'was moved' : 'is being moved'} to ${earlier.toWorkspaceName} in ${earlier.toDataResidency}: a workspace moves once.`,
      {
        code: 'workspace_moved',
        hint: `Finish that move: sov workspace move ${source.name} --to ${earlier.toDataResidency}`,
      },
    );
  }
  if (earlier?.status === 'completed') {
    output.result({ move: earlier, alreadyCompleted: true }, () =>
      output.line(
        `Workspace ${out.bold(source.name)} was moved to ${out.bold(earlier.toWorkspaceName)} in region ${earlier.toDataResidency} already.`,
      ),
    );
    return;
  }
  const name = earlier?.toWorkspaceName ?? opts.name ?? `${source.name}-${regionName}`;
  const from = await ctx.dataPlane(
    opts.withOutputs === undefined ? sourceScopes : [...sourceScopes, 'runs:outputs'],
    source.workspaceId,
  );
  const plan = await readPlan(cp, from, source, opts.withOutputs);
  if (opts.dryRun === true) {
    output.result(
      { dryRun: true, from: source, toRegion: region, toWorkspaceName: name, resuming: earlier, plan },
      () => printPlan(output, source, regionName, name, plan),
    );
    return;
  }

  // Every answer is gathered before anything changes: a Ctrl-C at a prompt leaves all as it was.
  const resumedTarget = earlier === null ? undefined : await ctx.dataPlane(targetScopes, earlier.toWorkspaceId);
  const there = await secretsThere(resumedTarget);
  const values = await secretValues(
    output,
    plan.secrets.filter((s) => !there.has(s)),
    opts,
    name,
  );

  const started = await cp.startMove(source.workspaceId, {
    regionId: region.regionId,
    ...(opts.name === undefined ? {} : { name: opts.name }),
  });
  const target = `${started.toWorkspaceName} (region ${started.toDataResidency})`;
  output.note(
    earlier === null
      ? `${err.green('✓')} Move started: workspace ${target} made, its jobs paused until the end; ${source.name} takes no new deploy or run.`
      : `${err.green('✓')} Resuming the move of ${source.name} to ${target}.`,
  );
  const to = resumedTarget ?? (await ctx.dataPlane(targetScopes, started.toWorkspaceId));

  const bundle = await copyBundle(plan, from, to, (line) => output.note(err.dim(`  │ ${line}`)));
  if (bundle === undefined) output.note(err.dim('= No bundle to copy: the workspace was never deployed.'));
  else if (bundle.copied) {
    output.note(
      `${err.green('✓')} Bundle uploaded to ${started.toWorkspaceName}: deployment ${shortId(bundle.deploymentId)} (${bytes(plan.deployment?.sizeBytes ?? 0)}, digest checked).`,
    );
  } else
    output.note(
      `${err.dim('=')} Bundle already in ${started.toWorkspaceName}: deployment ${shortId(bundle.deploymentId)}.`,
    );

  const variables = await copyVariables(plan, to);
  output.note(stepLine(output, 'Variables', variables.written, variables.there));
  const secrets = await copySecrets(plan, to, values);
  output.note(stepLine(output, 'Secrets', secrets.written, secrets.there));
  if (secrets.unset.length > 0) {
    output.note(
      err.yellow(
        `! Left unset: ${secrets.unset.join(', ')}. Set ${secrets.unset.length === 1 ? 'it' : 'them'} with: sov vars set NAME --secret -w ${started.toWorkspaceName}`,
      ),
    );
  }

  // No run starts in the old workspace any more; one still going could change its state.
  await waitForIdle(cp, source.workspaceId, (runIds) =>
    output.note(
      err.dim(
        `Waiting for ${plural(runIds.length, 'active run')} of ${source.name} to end (${runIds.map(shortId).join(', ')}); cancel with sov run cancel <run> to go on sooner.`,
      ),
    ),
  );
  const states = await copyStates({ ...plan, states: await readStates(from, plan.jobs) }, to);
  output.note(stepLine(output, 'State', states.written, states.there));
  const outputs = plan.outputs === null ? null : await copyOutputs(plan.outputs, from, to);
  if (outputs !== null) output.note(stepLine(output, 'Outputs', outputs.written, outputs.there));

  if (plan.deployment !== null) await waitForDeployment(cp, started.toWorkspaceId, plan.deployment.digest);
  const completed = await cp.completeMove(source.workspaceId);
  const jobs = await cp.jobs(completed.toWorkspaceId);
  const profile = await ctx.profile();
  const switched = profile.workspaceId === source.workspaceId;
  if (switched)
    await ctx.saveProfile({ workspaceId: completed.toWorkspaceId, workspaceName: completed.toWorkspaceName });
  output.result(
    {
      move: completed,
      bundle: bundle ?? null,
      variables,
      secrets,
      states,
      outputs,
      jobs: jobs.map((j) => ({ name: j.name, paused: j.paused })),
      current: switched,
    },
    () => {
      output.line(
        `${out.green('✓')} Moved workspace ${out.bold(source.name)} (${source.dataResidency}) to ${out.bold(completed.toWorkspaceName)} in region ${out.bold(completed.toDataResidency)}.`,
      );
      const running = jobs.filter((j) => !j.paused).map((j) => j.name);
      const paused = jobs.filter((j) => j.paused).map((j) => j.name);
      if (running.length > 0) output.line(`  Jobs resumed: ${running.join(', ')}`);
      if (paused.length > 0) output.line(out.dim(`  Paused, as before: ${paused.join(', ')}`));
      output.line(
        out.dim(
          `  ${source.name} stays readable in ${source.dataResidency} (runs, logs, outputs); it runs nothing any more.`,
        ),
      );
      if (switched) output.line(`  ${completed.toWorkspaceName} is now your current workspace.`);
    },
  );
}

function stepLine(output: Output, what: string, written: string[], there: string[]): string {
  const { err } = output;
  if (written.length === 0 && there.length === 0) return `${err.dim('=')} ${what}: none to copy.`;
  const parts = [
    ...(written.length > 0 ? [`${written.length} copied (${written.join(', ')})`] : []),
    ...(there.length > 0 ? [`${there.length} already there (${there.join(', ')})`] : []),
  ];
  return `${written.length > 0 ? err.green('✓') : err.dim('=')} ${what}: ${parts.join('; ')}.`;
}
