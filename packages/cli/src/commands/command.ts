import type { Command } from 'commander';
import { Context, type GlobalOptions } from '../context.ts';

export type Handler = (ctx: Context, command: Command) => Promise<void>;

/**
 * A commander action with the command's Context: global options (--json, --profile,
 * --workspace...) are read wherever they were written on the line.
 */
export function act(handler: Handler) {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    await handler(new Context(command.optsWithGlobals<GlobalOptions>()), command);
  };
}

/** The declared arguments of a command, in order. */
export function argsOf<T extends unknown[]>(command: Command): T {
  return command.processedArgs as T;
}
