import type { Static, TObject, TSchema } from 'typebox';
import { Value } from 'typebox/value';

/**
 * A service's settings come from SOV_* variables, described once per plane by a TypeBox
 * object schema: each property is a variable, with its type, default, limits and
 * description. The text of each is converted by its schema's `type` (integer, number,
 * boolean, string, or one of some strings), then checked against the whole schema.
 * Every wrong variable is reported at once, in one ConfigError: an operator fixes them
 * all before the next start, not one a start.
 */

/** The environment, as `process.env` holds it. */
export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * What a variable's schema may carry besides JSON Schema's keywords. `secret`: its value
 * is never repeated in a message (a message reaches a terminal, a log, a CI page).
 * `expected`: what a good value looks like, said when a value is refused. `retired`: a
 * variable no longer read, and what to set instead; setting it is an error rather than
 * silently ignored.
 */
// A type, not an interface: TypeBox's options take it only with an index signature, which a type has.
export type VariableOptions = {
  description: string;
  secret?: boolean;
  expected?: string;
  retired?: string;
};

export class ConfigError extends Error {
  /** One sentence per wrong variable, each naming it. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    // One line per variable: a service prints each as it is, after "configuration: ".
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Where what a plane finds wrong beyond a variable's own schema (a URL's shape, two variables at odds) is said. */
export interface Problems {
  /** Says what is wrong with `variable`. Only its first problem is kept: later ones tend to follow from it. */
  add(variable: string, message: string): void;
  /** Whether `variable` has a problem already, so what is derived from it need not be judged. */
  has(variable: string): boolean;
}

/** Longest part of a refused value a message repeats. */
const shownLength = 200;

type Schema = TSchema & {
  type?: string;
  anyOf?: Array<{ const?: unknown }>;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  secret?: boolean;
  expected?: string;
  retired?: string;
};

function shown(schema: Schema, raw: string): string {
  if (schema.secret === true) return ' (the value is not shown: it is a secret)';
  const text = raw.length > shownLength ? `${raw.slice(0, shownLength)}…` : raw;
  return `, got "${text}"`;
}

/** What a number's schema asks for, in words: "a whole number from 60 to 28800". */
function describeNumber(schema: Schema): string {
  const kind = schema.type === 'integer' ? 'a whole number' : 'a number';
  const { minimum, maximum } = schema;
  if (minimum !== undefined && maximum !== undefined) return `${kind} from ${minimum} to ${maximum}`;
  if (minimum === 0 && schema.type === 'integer') return kind;
  if (minimum !== undefined) return `${kind} of at least ${minimum}`;
  if (maximum !== undefined) return `${kind} of at most ${maximum}`;
  return kind;
}

function choices(schema: Schema): string[] | undefined {
  if (schema.anyOf === undefined || !schema.anyOf.every((option) => typeof option.const === 'string')) return undefined;
  return schema.anyOf.map((option) => String(option.const));
}

function describe(schema: Schema): string {
  if (schema.expected !== undefined) return schema.expected;
  if (schema.type === 'integer' || schema.type === 'number') return describeNumber(schema);
  if (schema.type === 'boolean') return 'true or false';
  const options = choices(schema);
  if (options !== undefined) return `one of ${options.join(', ')}`;
  return 'valid';
}

/** The variable's value from its text, or why the text is not one. */
function convert(schema: Schema, raw: string): { value: unknown } | { refused: true } {
  if (schema.type === 'integer' || schema.type === 'number') {
    const value = Number(raw);
    const ok = schema.type === 'integer' ? Number.isInteger(value) : Number.isFinite(value);
    return ok ? { value } : { refused: true };
  }
  if (schema.type === 'boolean') {
    if (raw === 'true') return { value: true };
    if (raw === 'false') return { value: false };
    return { refused: true };
  }
  return { value: raw };
}

/**
 * Reads `env` by `schema`, then lets `derive` build the plane's settings from the values,
 * saying through `problems` what it finds wrong. An empty variable counts as unset.
 * Throws one ConfigError naming every wrong variable, if any.
 */
export function readEnvironment<S extends TObject, T>(
  schema: S,
  env: Environment,
  derive: (values: Static<S>, problems: Problems) => T,
): T {
  const found = new Map<string, string>();
  const problems: Problems = {
    add(variable, message) {
      if (!found.has(variable)) found.set(variable, message);
    },
    has: (variable) => found.has(variable),
  };
  const required = new Set<string>(schema.required ?? []);
  const values: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(schema.properties) as Array<[string, Schema]>) {
    const raw = env[name];
    const fallback = property.default ?? (required.has(name) && property.type === 'string' ? '' : undefined);
    values[name] = fallback;
    if (raw === undefined || raw === '') {
      if (required.has(name) && property.default === undefined) problems.add(name, `${name} is required`);
      continue;
    }
    if (property.retired !== undefined) {
      problems.add(name, `${name} is no longer read: ${property.retired}`);
      continue;
    }
    const converted = convert(property, raw);
    if ('value' in converted && Value.Check(property, converted.value)) {
      values[name] = converted.value;
      continue;
    }
    problems.add(name, `${name} must be ${describe(property)}${shown(property, raw)}`);
  }
  let result: T;
  try {
    result = derive(values as Static<S>, problems);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) found.set(`#${found.size}`, problem);
    } else if (found.size === 0) {
      throw error;
    }
    // Else it failed on a value already refused: what was found says why.
    throw new ConfigError([...found.values()]);
  }
  if (found.size > 0) throw new ConfigError([...found.values()]);
  return result;
}
