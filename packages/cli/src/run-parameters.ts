import { UsageError } from './errors.ts';
import { readValueFile } from './value-file.ts';

/** A parameter's value as the CLI sends it: text from `--param`, typed JSON from `--params-file`. */
export type GivenValue = string | number | boolean;

/** Commander's collector for a repeatable `--param name=value`. */
export function collectParam(given: string, previous: string[] = []): string[] {
  return [...previous, given];
}

/**
 * A run's parameters from the command line: `--params-file` (a JSON object of names to
 * text, numbers or booleans) first, each `--param name=value` over it. The values are
 * text the data plane reads as each parameter's declared type. Undefined: none given.
 */
export async function readRunParameters(
  params: readonly string[] | undefined,
  file: string | undefined,
): Promise<Record<string, GivenValue> | undefined> {
  if ((params === undefined || params.length === 0) && file === undefined) return undefined;
  const values: Record<string, GivenValue> = {};
  if (file !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readValueFile(file));
    } catch (error) {
      if (error instanceof UsageError || (error as { exitCode?: number }).exitCode !== undefined) throw error;
      throw new UsageError(`${file} is not JSON.`, 'Give a JSON object such as {"since": "2026-01-01", "limit": 10}.');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new UsageError(`${file} is not a JSON object of parameters.`, 'Such as {"since": "2026-01-01"}.');
    }
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new UsageError(`${file}: ${name} must be text, a number or true/false.`);
      }
      values[name] = value;
    }
  }
  for (const pair of params ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--param ${pair}: give it as name=value.`, 'Such as --param since=2026-01-01.');
    values[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return values;
}
