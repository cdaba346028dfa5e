import type { Command } from 'commander';
import { relativeTime } from '../output/format.ts';
import { act, argsOf } from './command.ts';

/** `sov org create|list`. */
export function organizationCommands(program: Command): void {
  const org = program.command('org').description('organizations: who owns workspaces and regions');

  org
    .command('create')
    .description('create an organization; you become its owner')
    .argument('<name>', 'its name')
    .action(
      act(async (ctx, command) => {
        const [name] = argsOf<[string]>(command);
        const created = await (await ctx.controlPlane()).createOrganization(name);
        ctx.output.result(created, () =>
          ctx.output.line(
            `${ctx.output.out.green('✓')} Created organization ${ctx.output.out.bold(created.name)} (${created.organizationId}); you are its owner.`,
          ),
        );
      }),
    );

  org
    .command('list')
    .description('the organizations you belong to, and your role in each')
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
              { header: 'created', value: (o) => relativeTime(o.createdAt) },
              { header: 'id', value: (o) => output.out.dim(o.organizationId) },
            ],
            'No organizations yet: sov org create <name>',
          ),
        );
      }),
    );
}
