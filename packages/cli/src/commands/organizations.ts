import type { Organization } from '@sovereign/contract';
import type { Command } from 'commander';
import type { Context } from '../context.ts';
import { relativeTime } from '../output/format.ts';
import type { Output } from '../output/output.ts';
import { findUsableRegion } from '../resolve.ts';
import { act, argsOf } from './command.ts';

/** Creates an organization, in a data region when one is given (for good, as dltHub's). */
export async function makeOrganization(ctx: Context, name: string, region: string | undefined): Promise<Organization> {
  const cp = await ctx.controlPlane();
  const regionId = region === undefined ? undefined : (await findUsableRegion(cp, region)).regionId;
  return cp.createOrganization(name, regionId);
}

/** What a new organization means, in the CLI's words. */
export function describeOrganization(output: Output, created: Organization): void {
  output.line(
    `${output.out.green('✓')} Created organization ${output.out.bold(created.name)} (${created.organizationId}); you are its owner.`,
  );
  output.line(
    output.out.dim(
      created.dataResidency === null
        ? '  Each of its workspaces picks its region: sov workspace create <name> --region <region>'
        : `  Every workspace of it keeps its data in ${created.dataResidency}, for good; another region needs another organization.`,
    ),
  );
}

/** `sov org create|list`. */
export function organizationCommands(program: Command): void {
  const org = program.command('org').description('organizations: who owns workspaces and regions');

  org
    .command('create')
    .description('create an organization; you become its owner')
    .argument('<name>', 'its name')
    .option('-r, --region <region>', 'keep all its data in this region, for good (name or id), e.g. eu')
    .action(
      act(async (ctx, command) => {
        const [name] = argsOf<[string]>(command);
        const created = await makeOrganization(ctx, name, command.opts<{ region?: string }>().region);
        ctx.output.result(created, () => describeOrganization(ctx.output, created));
      }),
    );

  org
    .command('list')
    .description('the organizations you belong to, your role in each, and its data region')
    .action(
      act(async (ctx) => {
        const organizations = await (await ctx.controlPlane()).organizations();
        const { output } = ctx;
        output.result({ data: organizations }, () =>
          output.table(
            organizations,
            [
              {
                header: 'name',
                value: (o) => output.out.bold(o.name) + (o.isDefault ? output.out.dim(' (instance)') : ''),
              },
              { header: 'role', value: (o) => o.role ?? '-' },
              { header: 'region', value: (o) => o.dataResidency ?? output.out.dim('any') },
              { header: 'created', value: (o) => relativeTime(o.createdAt) },
              { header: 'id', value: (o) => output.out.dim(o.organizationId) },
            ],
            'No organizations yet: sov org create <name>',
          ),
        );
      }),
    );
}
