import { InsecureHttpError, isLoopbackHost, UnreachableError } from '@sovereign/client';
import type { Organization } from '@sovereign/contract';
import type { Command } from 'commander';
import type { Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { relativeTime } from '../output/format.ts';
import { ask, askHidden, interactive, readStdin, withoutFinalNewline } from '../prompt.ts';
import { act } from './command.ts';
import { describeOrganization, makeOrganization } from './organizations.ts';

/**
 * For a user who belongs to no organization: one made now, as dltHub's login does, with
 * its data region for good. From --create-org and --region, or asked on a terminal;
 * undefined when none is made.
 */
async function offerOrganization(
  ctx: Context,
  opts: { createOrg?: string; region?: string },
): Promise<Organization | undefined> {
  if (opts.createOrg !== undefined) return makeOrganization(ctx, opts.createOrg, opts.region);
  if (!interactive() || ctx.output.json) return undefined;
  ctx.output.note(
    'You belong to no organization yet. Its workspaces keep their data in one region, chosen now for good.',
  );
  const name = await ask('Create an organization named (empty: not now)');
  if (name === '') return undefined;
  const regions = (await (await ctx.controlPlane()).regions()).filter((r) => r.enabled).map((r) => r.name);
  if (regions.length === 0)
    ctx.output.note('There are no regions yet: an administrator creates them (sov region create).');
  const region = regions.length === 0 ? '' : await ask(`Its data region (${regions.join(', ')})`, regions[0]);
  return makeOrganization(ctx, name, region === '' ? undefined : region);
}

/** `sov login`, `sov logout`, `sov whoami`, `sov password`. */
export function authCommands(program: Command): void {
  program
    .command('login')
    .description('sign in to a control plane and remember the session in this profile')
    .option('--email <email>', 'the account (else SOV_EMAIL, else asked)')
    .option('--password-stdin', 'read the password from stdin (else SOV_PASSWORD, else asked)')
    .option('--create-org <name>', 'when you belong to no organization yet, create one (asked on a terminal)')
    .option('--region <region>', 'the data region of the organization --create-org makes, for good, e.g. eu')
    .addHelpText(
      'after',
      `
In a terminal, login asks for what it needs (the password without echo). Otherwise it
takes --email and --password-stdin, SOV_EMAIL and SOV_PASSWORD, or reads the email and
the password as two lines from stdin. The control plane is --api, SOV_API_URL, the
profile's, or http://127.0.0.1:8080; it is saved in the profile.

A user who belongs to no organization is offered to create one on a terminal, and asked
its data region (for good: every workspace of it keeps its data there); without a
terminal, --create-org <name> and --region <region> do the same.

  sov login
  printf '%s' "$PASSWORD" | sov login --email me@example.com --password-stdin
  sov login --email me@example.com --password-stdin --create-org acme --region eu`,
    )
    .action(
      act(async (ctx, command) => {
        const opts = command.opts<{ email?: string; passwordStdin?: boolean; createOrg?: string; region?: string }>();
        if (opts.region !== undefined && opts.createOrg === undefined) {
          throw new UsageError(
            '--region is the region of the organization --create-org makes.',
            'Add --create-org <name>.',
          );
        }
        const apiUrl = await ctx.apiUrl();
        const previous = await ctx.profile();
        let email = opts.email || ctx.env.SOV_EMAIL || undefined;
        let password = ctx.env.SOV_PASSWORD || undefined;
        if (opts.passwordStdin) {
          if (email === undefined) throw new UsageError('--password-stdin needs --email (or SOV_EMAIL).');
          password = withoutFinalNewline(await readStdin());
        } else if (password === undefined) {
          if (interactive()) {
            ctx.output.note(`Signing in to ${ctx.output.err.bold(apiUrl)}`);
            email ??= await ask(
              'Email',
              previous.email ?? (isLoopbackHost(new URL(apiUrl).hostname) ? 'admin@localhost' : undefined),
            );
            password = await askHidden('Password');
          } else {
            const lines = (await readStdin()).split(/\r?\n/);
            if (email === undefined) email = lines.shift()?.trim() || undefined;
            password = lines.shift() || undefined;
          }
        }
        if (email === undefined || email === '') {
          throw new UsageError(
            'No email given.',
            'Pass --email <email>, set SOV_EMAIL, or run sov login in a terminal.',
          );
        }
        if (password === undefined || password === '') {
          throw new UsageError('No password given.', 'Pipe it with --password-stdin, or run sov login in a terminal.');
        }

        const anonymous = ctx.controlPlaneAt(apiUrl, undefined);
        const session = await anonymous.login(email, password);
        const cp = ctx.controlPlaneAt(apiUrl, session.accessToken);
        const me = await cp.me();
        const sameServer = previous.apiUrl === apiUrl && previous.email?.toLowerCase() === me.email.toLowerCase();
        let workspace: { workspaceId: string; name: string } | undefined;
        if (sameServer && previous.workspaceId !== undefined) {
          workspace = { workspaceId: previous.workspaceId, name: previous.workspaceName ?? previous.workspaceId };
        } else {
          // A fresh start: with exactly one workspace there is nothing to choose.
          const workspaces = await cp.workspaces();
          if (workspaces.length === 1 && workspaces[0] !== undefined) workspace = workspaces[0];
        }
        await ctx.saveProfile({
          apiUrl,
          email: me.email,
          accessToken: session.accessToken,
          expiresAt: session.expiresAt,
          workspaceId: workspace?.workspaceId,
          workspaceName: workspace?.name,
        });
        const organization = me.organizations.length > 0 ? undefined : await offerOrganization(ctx, opts);
        const { output } = ctx;
        output.result(
          {
            profile: ctx.profileName,
            apiUrl,
            userId: me.userId,
            email: me.email,
            expiresAt: session.expiresAt,
            workspace: workspace === undefined ? null : { workspaceId: workspace.workspaceId, name: workspace.name },
            ...(organization === undefined ? {} : { organization }),
          },
          () => {
            output.line(
              `${output.out.green('✓')} Signed in to ${apiUrl} as ${output.out.bold(me.email)} (profile ${ctx.profileName}; session ends ${relativeTime(session.expiresAt)}).`,
            );
            if (organization !== undefined) describeOrganization(output, organization);
            if (workspace !== undefined) output.line(`  Current workspace: ${output.out.bold(workspace.name)}`);
            else if (organization?.dataResidency) output.line(output.out.dim('  Next: sov workspace create <name>'));
            else if (organization !== undefined || me.organizations.length > 0)
              output.line(
                output.out.dim('  Next: sov workspace create <name> --region eu   (or: sov workspace use <name>)'),
              );
            else output.line(output.out.dim('  Next: sov org create <name> --region <region>'));
          },
        );
      }),
    );

  program
    .command('logout')
    .description('end the session and forget it in this profile')
    .action(
      act(async (ctx) => {
        const profile = await ctx.profile();
        if (profile.accessToken !== undefined) {
          try {
            await (await ctx.controlPlane()).logout();
          } catch (error) {
            // The local copy goes whatever the server says; an unreachable server, or one
            // the session is not sent to in clear, is worth a note.
            if (error instanceof UnreachableError || error instanceof InsecureHttpError)
              ctx.output.note(`Note: ${error.message} The session was only forgotten here.`);
          }
        }
        await ctx.saveProfile({ accessToken: undefined, expiresAt: undefined });
        ctx.output.result({ profile: ctx.profileName, signedOut: profile.accessToken !== undefined }, () =>
          ctx.output.line(
            profile.accessToken === undefined
              ? `Profile ${ctx.profileName} was not signed in.`
              : `Signed out of ${profile.apiUrl ?? 'the control plane'} (profile ${ctx.profileName}).`,
          ),
        );
      }),
    );

  program
    .command('whoami')
    .description('who you are signed in as, where, and your organizations')
    .action(
      act(async (ctx) => {
        const cp = await ctx.controlPlane();
        const me = await cp.me();
        const profile = await ctx.profile();
        const { output } = ctx;
        const workspace =
          profile.workspaceId === undefined
            ? null
            : { workspaceId: profile.workspaceId, name: profile.workspaceName ?? profile.workspaceId };
        output.result(
          {
            ...me,
            profile: ctx.profileName,
            apiUrl: await ctx.apiUrl(),
            expiresAt: profile.expiresAt ?? null,
            workspace,
          },
          () => {
            output.keyValues([
              ['user', `${output.out.bold(me.email)}${me.isInstanceAdmin ? ' (instance administrator)' : ''}`],
              ['control plane', cp.http.baseUrl.replace(/\/api\/public\/v1$/, '')],
              ['profile', ctx.profileName],
              ['workspace', workspace?.name ?? output.out.dim('none (sov workspace use <name>)')],
              ['session', profile.expiresAt === undefined ? undefined : `ends ${relativeTime(profile.expiresAt)}`],
              [
                'API key',
                me.apiKey === null
                  ? undefined
                  : `${me.apiKey.role}${me.apiKey.workspaceId === null ? '' : ` in workspace ${me.apiKey.workspaceId}`}, expires ${relativeTime(me.apiKey.expiresAt)}`,
              ],
            ]);
            output.line();
            output.table(
              me.organizations,
              [
                { header: 'organization', value: (o) => o.name },
                { header: 'role', value: (o) => o.role },
                { header: 'id', value: (o) => output.out.dim(o.organizationId) },
              ],
              'No organizations yet: sov org create <name>',
            );
          },
        );
      }),
    );

  program
    .command('password')
    .description('change your password (signed in); your other sessions end')
    .addHelpText(
      'after',
      `
In a terminal it asks for the current password and the new one twice, without echo.
Otherwise it reads two lines from stdin: the current password, then the new one.

  printf '%s\\n%s\\n' "$OLD" "$NEW" | sov password`,
    )
    .action(
      act(async (ctx) => {
        const cp = await ctx.controlPlane();
        let current: string | undefined;
        let next: string | undefined;
        if (interactive()) {
          current = await askHidden('Current password');
          next = await askHidden('New password');
          if ((await askHidden('New password again')) !== next) {
            throw new UsageError('The two new passwords differ; nothing was changed.');
          }
        } else {
          [current, next] = (await readStdin()).split(/\r?\n/);
        }
        if (!current || !next) {
          throw new UsageError(
            'Give the current password and the new one.',
            'Pipe them as two lines: printf \'%s\\n%s\\n\' "$OLD" "$NEW" | sov password',
          );
        }
        const { sessionsEnded } = await cp.changePassword(current, next);
        ctx.output.result({ profile: ctx.profileName, passwordChanged: true, sessionsEnded }, () =>
          ctx.output.line(
            `${ctx.output.out.green('✓')} Password changed; ${sessionsEnded} other session${sessionsEnded === 1 ? '' : 's'} ended (this one stays signed in).`,
          ),
        );
      }),
    );
}
