import type { ControlPlaneClient as ControlPlane } from '@sovereign/client';
import type { Region } from '@sovereign/contract';
import type { Command } from 'commander';
import type { Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { relativeTime } from '../output/format.ts';
import { chooseOrganization, findDataplane, findRegion } from '../resolve.ts';
import { act, argsOf } from './command.ts';

function enabledFrom(opts: { enable?: boolean; disable?: boolean }): boolean | undefined {
  if (opts.enable && opts.disable) throw new UsageError('Give --enable or --disable, not both.');
  return opts.enable ? true : opts.disable ? false : undefined;
}

async function organizationFor(ctx: Context, cp: ControlPlane, org: string | undefined) {
  return chooseOrganization(cp, org, async () => (await ctx.workspace()).organizationId);
}

/** Every region the user can see, by id: of each of their organizations, and the shared ones. */
async function regionNames(cp: ControlPlane): Promise<Map<string, Region>> {
  return new Map((await cp.regions()).map((region) => [region.regionId, region]));
}

/** `sov region create|list|update|delete` and `sov dataplane create|list|update|delete`. */
export function regionCommands(program: Command): void {
  const region = program.command('region').description('regions: where workspaces keep their data');

  region
    .command('list')
    .description("the organization's regions and the instance's shared ones")
    .option('--org <organization>', 'the organization (name or id)')
    .action(
      act(async (ctx, command) => {
        const cp = await ctx.controlPlane();
        const organization = await organizationFor(ctx, cp, command.opts<{ org?: string }>().org);
        const regions = await cp.regions(organization.organizationId);
        const { output } = ctx;
        output.result({ data: regions }, () =>
          output.table(
            regions,
            [
              { header: 'name', value: (r) => output.out.bold(r.name) },
              {
                header: 'owner',
                value: (r) => (r.organizationId === organization.organizationId ? organization.name : 'shared'),
              },
              { header: 'enabled', value: (r) => (r.enabled ? 'yes' : output.out.yellow('no')) },
              { header: 'created', value: (r) => relativeTime(r.createdAt) },
              { header: 'id', value: (r) => output.out.dim(r.regionId) },
            ],
            'No regions yet: sov region create <name>',
          ),
        );
      }),
    );

  region
    .command('create')
    .description('create a region (organization owners and admins)')
    .argument('<name>', 'its name, e.g. eu or us-east')
    .option('--org <organization>', 'the organization (name or id)')
    .option('--disabled', 'create it disabled')
    .action(
      act(async (ctx, command) => {
        const [name] = argsOf<[string]>(command);
        const opts = command.opts<{ org?: string; disabled?: boolean }>();
        const cp = await ctx.controlPlane();
        const organization = await organizationFor(ctx, cp, opts.org);
        const created = await cp.createRegion({
          name,
          organizationId: organization.organizationId,
          enabled: opts.disabled !== true,
        });
        ctx.output.result(created, () => {
          ctx.output.line(
            `${ctx.output.out.green('✓')} Created region ${ctx.output.out.bold(created.name)} (${created.regionId}).`,
          );
          ctx.output.line(ctx.output.out.dim(`  Next: sov dataplane create <name> --region ${created.name}`));
        });
      }),
    );

  region
    .command('update')
    .description('rename, enable or disable a region')
    .argument('<region>', 'name or id')
    .option('--name <name>', 'a new name')
    .option('--enable', 'enable it')
    .option('--disable', 'disable it: no new workspaces, its data planes take no work')
    .option('--org <organization>', 'the organization (name or id)')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const opts = command.opts<{ name?: string; enable?: boolean; disable?: boolean; org?: string }>();
        const enabled = enabledFrom(opts);
        if (opts.name === undefined && enabled === undefined) {
          throw new UsageError('Nothing to change.', 'Give --name <name>, --enable or --disable.');
        }
        const cp = await ctx.controlPlane();
        const found = await findRegion(cp, (await organizationFor(ctx, cp, opts.org)).organizationId, given);
        const updated = await cp.updateRegion(found.regionId, {
          ...(opts.name === undefined ? {} : { name: opts.name }),
          ...(enabled === undefined ? {} : { enabled }),
        });
        ctx.output.result(updated, () =>
          ctx.output.line(
            `${ctx.output.out.green('✓')} Region ${ctx.output.out.bold(updated.name)} is ${updated.enabled ? 'enabled' : 'disabled'}.`,
          ),
        );
      }),
    );

  region
    .command('delete')
    .description('delete a region and its data planes')
    .argument('<region>', 'name or id')
    .option('--org <organization>', 'the organization (name or id)')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const cp = await ctx.controlPlane();
        const found = await findRegion(
          cp,
          (await organizationFor(ctx, cp, command.opts<{ org?: string }>().org)).organizationId,
          given,
        );
        const deleted = await cp.deleteRegion(found.regionId);
        ctx.output.result(deleted, () => ctx.output.line(`Deleted region ${ctx.output.out.bold(deleted.name)}.`));
      }),
    );

  const dataplane = program
    .command('dataplane')
    .alias('dp')
    .description('data planes: the services that hold and run a region’s workspaces');

  dataplane
    .command('list')
    .description('data planes of your organizations (or of one region), with their health')
    .option('-r, --region <region>', 'only this region (name or id)')
    .option('--org <organization>', 'the organization the region is looked up in')
    .action(
      act(async (ctx, command) => {
        const opts = command.opts<{ region?: string; org?: string }>();
        const cp = await ctx.controlPlane();
        const regionIds =
          opts.region === undefined
            ? undefined
            : [(await findRegion(cp, (await organizationFor(ctx, cp, opts.org)).organizationId, opts.region)).regionId];
        const [planes, regions] = await Promise.all([cp.dataplanes(regionIds), regionNames(cp)]);
        const health = await Promise.all(planes.map((p) => cp.dataplaneHealth(p.dataplaneId).catch(() => undefined)));
        const rows = planes.map((plane, i) => ({
          ...plane,
          regionName: regions.get(plane.regionId)?.name ?? null,
          status: health[i]?.status ?? 'unknown',
          publicUrl: health[i]?.publicUrl ?? null,
          lastHeartbeatAt: health[i]?.lastHeartbeatAt ?? null,
        }));
        const { output } = ctx;
        output.result({ data: rows }, () =>
          output.table(
            rows,
            [
              { header: 'name', value: (p) => output.out.bold(p.name) },
              { header: 'region', value: (p) => p.regionName ?? p.regionId },
              { header: 'enabled', value: (p) => (p.enabled ? 'yes' : output.out.yellow('no')) },
              {
                header: 'health',
                value: (p) => (p.status === 'healthy' ? output.out.green(p.status) : output.out.yellow(p.status)),
              },
              { header: 'heartbeat', value: (p) => relativeTime(p.lastHeartbeatAt) },
              { header: 'url', value: (p) => p.publicUrl ?? '-' },
              { header: 'id', value: (p) => output.out.dim(p.dataplaneId) },
            ],
            'No data planes yet: sov dataplane create <name> --region <region>',
          ),
        );
      }),
    );

  dataplane
    .command('create')
    .description('register a data plane; its credentials are shown once')
    .argument('<name>', 'its name, e.g. eu-2')
    .requiredOption('-r, --region <region>', 'the region it serves (name or id)')
    .option('--org <organization>', 'the organization the region is looked up in')
    .option('--disabled', 'create it disabled')
    .option('--public-url <url>', 'where clients reach it (else its first instance to register sets it)')
    .action(
      act(async (ctx, command) => {
        const [name] = argsOf<[string]>(command);
        const opts = command.opts<{ region: string; org?: string; disabled?: boolean; publicUrl?: string }>();
        const cp = await ctx.controlPlane();
        const found = await findRegion(cp, (await organizationFor(ctx, cp, opts.org)).organizationId, opts.region);
        const created = await cp.createDataplane({
          name,
          regionId: found.regionId,
          enabled: opts.disabled !== true,
          ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
        });
        const apiUrl = await ctx.apiUrl();
        const { output } = ctx;
        output.result({ ...created, name }, () => {
          output.line(`${output.out.green('✓')} Created data plane ${output.out.bold(name)} in region ${found.name}.`);
          output.line(output.out.yellow('  Its credentials are shown this once; keep them like a password.'));
          output.line(`  Start it with:\n`);
          output.line(`    SOV_CONTROL_PLANE_URL=${apiUrl} \\`);
          output.line(`    SOV_CLIENT_ID=${created.clientId} \\`);
          output.line(`    SOV_CLIENT_SECRET=${created.clientSecret} \\`);
          output.line(
            `    SOV_PUBLIC_URL=${opts.publicUrl ?? '<the URL clients reach it at>'} SOV_MASTER_KEY_FILE=<a 32-byte key file> \\`,
          );
          output.line(`    sov data-plane`);
        });
      }),
    );

  dataplane
    .command('update')
    .description('rename, enable or disable a data plane, or set its public URL')
    .argument('<dataplane>', 'name or id')
    .option('--name <name>', 'a new name')
    .option('--enable', 'enable it')
    .option('--disable', 'disable it: it takes no new runs')
    .option(
      '--public-url <url>',
      'where clients reach it: instances reporting another are refused from their next call',
    )
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const opts = command.opts<{ name?: string; enable?: boolean; disable?: boolean; publicUrl?: string }>();
        const enabled = enabledFrom(opts);
        if (opts.name === undefined && enabled === undefined && opts.publicUrl === undefined) {
          throw new UsageError('Nothing to change.', 'Give --name <name>, --enable, --disable or --public-url <url>.');
        }
        const cp = await ctx.controlPlane();
        const found = await findDataplane(cp, given);
        const updated = await cp.updateDataplane(found.dataplaneId, {
          ...(opts.name === undefined ? {} : { name: opts.name }),
          ...(enabled === undefined ? {} : { enabled }),
          ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
        });
        ctx.output.result(updated, () =>
          ctx.output.line(
            `${ctx.output.out.green('✓')} Data plane ${ctx.output.out.bold(updated.name)} is ${updated.enabled ? 'enabled' : 'disabled'}` +
              `${updated.publicUrl === null ? '' : `, at ${updated.publicUrl}`}.`,
          ),
        );
      }),
    );

  dataplane
    .command('delete')
    .description('delete a data plane: its credentials stop working at once')
    .argument('<dataplane>', 'name or id')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const cp = await ctx.controlPlane();
        const deleted = await cp.deleteDataplane((await findDataplane(cp, given)).dataplaneId);
        ctx.output.result(deleted, () => ctx.output.line(`Deleted data plane ${ctx.output.out.bold(deleted.name)}.`));
      }),
    );
}
