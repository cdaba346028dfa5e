import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { relativeTime } from '../output/format.ts';
import { ask, askHidden, interactive, readStdin, withoutFinalNewline } from '../prompt.ts';
import { readValueFile } from '../value-file.ts';
import { act, argsOf } from './command.ts';

/** `sov vars set|list|rm`: workspace variables and secrets, kept on the workspace's data plane. */
export function variableCommands(program: Command): void {
  const vars = program
    .command('vars')
    .description("the workspace's variables and secrets (jobs get them as environment variables)");

  vars
    .command('set')
    .description('set a variable; with --secret it is stored encrypted and never shown again')
    .argument('<name>', 'NAME, or NAME=VALUE (not for a secret)')
    .argument('[value]', 'the value, not for a secret (else read from --from-file, stdin, or asked in a terminal)')
    .option('-s, --secret', 'a secret: write-only, masked in logs; its value is never taken on the command line')
    .option('-f, --from-file <path>', 'read the value from a file (one final line break is dropped)')
    .addHelpText(
      'after',
      `
  sov vars set GREETING Bonjour
  sov vars set API_TOKEN --secret            # asked without echo in a terminal
  printf %s "$TOKEN" | sov vars set API_TOKEN --secret
  sov vars set API_TOKEN --secret --from-file token.txt`,
    )
    .action(
      act(async (ctx, command) => {
        let [name, value] = argsOf<[string, string | undefined]>(command);
        const { secret = false, fromFile } = command.opts<{ secret?: boolean; fromFile?: string }>();
        if (value === undefined && name.includes('=')) {
          value = name.slice(name.indexOf('=') + 1);
          name = name.slice(0, name.indexOf('='));
        }
        // A value on the command line is in the process list, for every user of the
        // machine to read, and in the shell's history: never a secret's place.
        if (secret && value !== undefined) {
          throw new UsageError(
            `A secret's value is not taken on the command line: it would show in the process list and your shell history.`,
            `Leave it out and type it when asked (sov vars set ${name} --secret), pipe it in (printf %s "$VALUE" | sov vars set ${name} --secret), or read it from a file (sov vars set ${name} --secret --from-file PATH).`,
          );
        }
        if (value !== undefined && fromFile !== undefined) {
          throw new UsageError(`Give the value of ${name} once: as an argument or with --from-file, not both.`);
        }
        if (fromFile !== undefined) value = withoutFinalNewline(await readValueFile(fromFile));
        else if (value === undefined) {
          if (interactive()) value = secret ? await askHidden(`Value of ${name}`) : await ask(`Value of ${name}`);
          else value = withoutFinalNewline(await readStdin());
        }
        if (value === '') {
          throw new UsageError(
            `No value given for ${name}.`,
            secret ? 'Type it when asked, pipe it in, or use --from-file PATH.' : 'Give it as an argument or on stdin.',
          );
        }
        const workspace = await ctx.workspace();
        const dp = await ctx.dataPlane(['variables:write'], workspace.workspaceId);
        const saved = await dp.setVariable(name, value, secret);
        const { output } = ctx;
        output.result(saved, () =>
          output.line(
            `${output.out.green('✓')} Set ${output.out.bold(saved.name)} in workspace ${workspace.name} ` +
              (saved.secret
                ? `(secret: stored encrypted in region ${workspace.dataResidency}, never shown again).`
                : '(plain).'),
          ),
        );
      }),
    );

  vars
    .command('list')
    .description('names, and the values of plain variables (never of secrets)')
    .action(
      act(async (ctx) => {
        const dp = await ctx.dataPlane(['variables:read']);
        const variables = await dp.variables();
        const { output } = ctx;
        output.result({ data: variables }, () =>
          output.table(
            variables,
            [
              { header: 'name', value: (v) => output.out.bold(v.name) },
              { header: 'kind', value: (v) => (v.secret ? output.out.yellow('secret') : 'plain') },
              { header: 'value', value: (v) => (v.secret ? output.out.dim('••••••••') : (v.value ?? '')) },
              { header: 'updated', value: (v) => relativeTime(v.updatedAt) },
            ],
            'No variables yet: sov vars set NAME value',
          ),
        );
      }),
    );

  vars
    .command('rm')
    .alias('remove')
    .description('delete a variable or secret')
    .argument('<name>', 'its name')
    .action(
      act(async (ctx, command) => {
        const [name] = argsOf<[string]>(command);
        const workspace = await ctx.workspace();
        const dp = await ctx.dataPlane(['variables:write'], workspace.workspaceId);
        await dp.deleteVariable(name);
        ctx.output.result({ name, removed: true }, () =>
          ctx.output.line(`Removed ${ctx.output.out.bold(name)} from workspace ${workspace.name}.`),
        );
      }),
    );
}
