import type { ControlPlaneClient as ControlPlane } from '@sovereign/client';
import type { Workspace } from '@sovereign/contract';
import type { Command } from 'commander';
import type { Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { relativeTime } from '../output/format.ts';
import { chooseOrganization, findOrganization, findRegion, findWorkspace } from '../resolve.ts';
import { act, argsOf } from './command.ts';
import { moveCommand } from './move.ts';

/** A data plane's name when the user may see it, else its id. */
async function dataplaneName(cp: ControlPlane, dataplaneId: string): Promise<string> {
  try {
    return (await cp.dataplane(dataplaneId)).name;
  } catch {
    return dataplaneId;
  }
}

async function use(ctx: Context, workspace: Workspace): Promise<void> {
  await ctx.saveProfile({ workspaceId: workspace.workspaceId, workspaceName: workspace.name });
}

/** `sov workspace create|list|use|info`. */
export function workspaceCommands(program: Command): void {
  const workspace = program
    .command('workspace')
    .alias('ws')
    .description('workspaces: each bound to one region and its data plane, for good');

  workspace
    .command('create')
    .description('create a workspace in a region and make it the current one')
    .argument('<name>', 'its name, unique in the organization')
    .option(
      '-r, --region <region>',
      "the region (name or id) that will hold its data, e.g. eu (by default the organization's, when it has one)",
    )
    .option('--org <organization>', 'the organization (name or id); needed when you belong to several')
    .option('--no-use', 'do not make it the current workspace')
    .action(
      act(async (ctx, command) => {
        const [name] = argsOf<[string]>(command);
        const opts = command.opts<{ region?: string; org?: string; use: boolean }>();
        const cp = await ctx.controlPlane();
        const organization = await chooseOrganization(cp, opts.org, async () => (await ctx.workspace()).organizationId);
        let regionId = organization.regionId;
        if (opts.region !== undefined)
          regionId = (await findRegion(cp, organization.organizationId, opts.region)).regionId;
        if (regionId === null) {
          throw new UsageError(
            `Organization ${organization.name} has no region of its own: say where the workspace keeps its data.`,
            'Pass --region <region>; sov region list shows them.',
          );
        }
        const created = await cp.createWorkspace({ name, organizationId: organization.organizationId, regionId });
        if (opts.use) await use(ctx, created);
        const plane = await dataplaneName(cp, created.dataplaneId);
        const { output } = ctx;
        output.result({ ...created, current: opts.use }, () => {
          output.line(
            `${output.out.green('✓')} Created workspace ${output.out.bold(created.name)} in region ${output.out.bold(created.dataResidency)} (data plane ${plane}, organization ${organization.name}).`,
          );
          output.line(
            output.out.dim(
              `  Its code, variables, secrets, logs, outputs and state stay in ${created.dataResidency}; the region never changes.`,
            ),
          );
          if (opts.use) output.line(`  It is now your current workspace. Next: sov deploy <dir>`);
        });
      }),
    );

  workspace
    .command('list')
    .description('the workspaces of your organizations')
    .option('--org <organization>', 'only this organization (name or id)')
    .action(
      act(async (ctx, command) => {
        const opts = command.opts<{ org?: string }>();
        const cp = await ctx.controlPlane();
        const organizationId =
          opts.org === undefined ? undefined : (await findOrganization(cp, opts.org)).organizationId;
        const [workspaces, organizations, profile] = await Promise.all([
          cp.workspaces(organizationId),
          cp.organizations(),
          ctx.profile(),
        ]);
        const orgName = new Map(organizations.map((o) => [o.organizationId, o.name]));
        const { output } = ctx;
        output.result({ data: workspaces.map((w) => ({ ...w, current: w.workspaceId === profile.workspaceId })) }, () =>
          output.table(
            workspaces,
            [
              { header: '', value: (w) => (w.workspaceId === profile.workspaceId ? output.out.green('*') : ' ') },
              { header: 'name', value: (w) => output.out.bold(w.name) },
              { header: 'region', value: (w) => w.dataResidency },
              { header: 'organization', value: (w) => orgName.get(w.organizationId) ?? w.organizationId },
              { header: 'created', value: (w) => relativeTime(w.createdAt) },
              { header: 'id', value: (w) => output.out.dim(w.workspaceId) },
            ],
            'No workspaces yet: sov workspace create <name> --region eu',
          ),
        );
      }),
    );

  workspace
    .command('use')
    .description('make a workspace the current one for this profile')
    .argument('<workspace>', 'name or id')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const found = await findWorkspace(await ctx.controlPlane(), given);
        await use(ctx, found);
        ctx.output.result({ ...found, current: true }, () =>
          ctx.output.line(
            `Now using workspace ${ctx.output.out.bold(found.name)} (region ${found.dataResidency}) in profile ${ctx.profileName}.`,
          ),
        );
      }),
    );

  moveCommand(workspace);

  workspace
    .command('info')
    .description('a workspace: region, data plane, jobs, last deployment (the current one by default)')
    .argument('[workspace]', 'name or id')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string | undefined]>(command);
        const cp = await ctx.controlPlane();
        const found = given === undefined ? await ctx.workspace() : await findWorkspace(cp, given);
        const [organizations, plane, jobs, deployments] = await Promise.all([
          cp.organizations(),
          dataplaneName(cp, found.dataplaneId),
          cp.jobs(found.workspaceId),
          cp.deployments(found.workspaceId),
        ]);
        const organization = organizations.find((o) => o.organizationId === found.organizationId);
        const last = deployments[0];
        const { output } = ctx;
        output.result(
          {
            ...found,
            organizationName: organization?.name ?? null,
            dataplaneName: plane,
            jobs: jobs.map((j) => j.name),
            lastDeployment: last ?? null,
          },
          () =>
            output.keyValues([
              ['name', output.out.bold(found.name)],
              ['id', found.workspaceId],
              ['organization', organization?.name ?? found.organizationId],
              ['region', `${found.dataResidency} ${output.out.dim(`(${found.regionId})`)}`],
              [
                'data plane',
                plane === found.dataplaneId ? plane : `${plane} ${output.out.dim(`(${found.dataplaneId})`)}`,
              ],
              [
                'jobs',
                jobs.length === 0 ? output.out.dim('none yet (sov deploy <dir>)') : jobs.map((j) => j.name).join(', '),
              ],
              [
                'deployed',
                last === undefined ? output.out.dim('never') : `${relativeTime(last.createdAt)} (${last.deploymentId})`,
              ],
              ['created', relativeTime(found.createdAt)],
            ]),
        );
      }),
    );
}
