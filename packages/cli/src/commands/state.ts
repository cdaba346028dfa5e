import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { relativeTime, shortId } from '../output/format.ts';
import { readStdin } from '../prompt.ts';
import { act, argsOf } from './command.ts';

/** `sov state get|set <job>`: a job's saved state (cursors, keys), kept on the data plane. */
export function stateCommands(program: Command): void {
  const state = program
    .command('state')
    .description("a job's saved state ($SOV_STATE_FILE): cursors and keys, kept in the region");

  state
    .command('get')
    .description("print a job's state as JSON")
    .argument('<job>', 'the job name')
    .action(
      act(async (ctx, command) => {
        const [job] = argsOf<[string]>(command);
        const dp = await ctx.dataPlane(['state:read']);
        const saved = await dp.requireState(job);
        const { output } = ctx;
        output.result(saved, () => {
          output.line(JSON.stringify(saved.state, null, 2));
          const by = saved.updatedByRun === null ? 'set by hand' : `by run ${shortId(saved.updatedByRun)}`;
          output.note(output.err.dim(`saved ${relativeTime(saved.updatedAt)} ${by}`));
        });
      }),
    );

  state
    .command('set')
    .description("replace a job's state; its next run starts from it")
    .argument('<job>', 'the job name')
    .argument('[json]', 'the new state as JSON (else read from stdin)')
    .addHelpText(
      'after',
      `\n  sov state set sync '{"cursor": "2026-01-01T00:00:00Z"}'\n  sov state set sync < state.json`,
    )
    .action(
      act(async (ctx, command) => {
        const [job, given] = argsOf<[string, string | undefined]>(command);
        const text = given ?? (await readStdin());
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          throw new UsageError(
            `The state is not valid JSON: ${(error as Error).message}`,
            `Quote it: sov state set ${job} '{"cursor": 1}'`,
          );
        }
        const dp = await ctx.dataPlane(['state:write']);
        const saved = await dp.setState(job, value);
        ctx.output.result(saved, () =>
          ctx.output.line(
            `${ctx.output.out.green('✓')} Saved the state of ${ctx.output.out.bold(job)}; its next run starts from it.`,
          ),
        );
      }),
    );
}
