import {
  maxParameters,
  maxParametersBytes,
  maxParameterValueLength,
  type ParameterProblem,
  type ParameterType,
  ParameterTypes,
  type ParameterValue,
  parameterNamePattern,
} from '@sovereign/contract';

/**
 * A job's declared parameters (`params:` in sovereign.yaml) and the check of a run's
 * values against them. Declarations stay in the data plane with the manifest: the
 * control plane is never told a job's parameters, not even their names.
 */
export interface ParameterDeclaration {
  name: string;
  type: ParameterType;
  /** Given to a run that does not set it; already of the declared type. */
  default?: ParameterValue;
  required?: boolean;
  description?: string;
}

const namePattern = new RegExp(parameterNamePattern);
const declarationKeys = new Set(['name', 'type', 'default', 'required', 'description']);
const maxDescriptionLength = 1000;
const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;
const integerPattern = /^[+-]?\d{1,16}$/;
const numberPattern = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const isMapping = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** A calendar date, `2026-01-31`; `2026-02-30` is not one. */
function isDate(text: string): boolean {
  const match = datePattern.exec(text);
  if (match === null) return false;
  const [, y, m, d] = match.map(Number);
  const day = new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 0));
  return day.getUTCFullYear() === y && day.getUTCMonth() === (m ?? 1) - 1 && day.getUTCDate() === d;
}

/**
 * A value read as the declared type: typed JSON as it is, or text (a command line's) read
 * as that type; undefined when it is not one. A YAML 1.1 date (a Date) is a date too.
 */
export function asType(type: ParameterType, value: unknown): ParameterValue | undefined {
  switch (type) {
    case 'string':
      // No NUL: an environment variable cannot hold one, nor can jsonb.
      return typeof value === 'string' && value.length <= maxParameterValueLength && !value.includes('\0')
        ? value
        : undefined;
    case 'integer': {
      if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
      if (typeof value !== 'string' || !integerPattern.test(value.trim())) return undefined;
      const n = Number(value.trim());
      return Number.isSafeInteger(n) ? n : undefined;
    }
    case 'number': {
      if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
      if (typeof value !== 'string' || !numberPattern.test(value.trim())) return undefined;
      const n = Number(value.trim());
      return Number.isFinite(n) ? n : undefined;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return value === 'true' ? true : value === 'false' ? false : undefined;
    case 'date':
      if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString().slice(0, 10);
      return typeof value === 'string' && isDate(value) ? value : undefined;
  }
}

const describeType: Record<ParameterType, string> = {
  string: 'text',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  date: 'a date such as 2026-01-31',
};

/**
 * Reads a job's `params:` list, reporting each problem at its path; undefined when the
 * job declares none. A job that runs on its own (a schedule, `after`) has no one to give
 * it a value, so none of its parameters may be required.
 */
export function parseDeclarations(
  raw: unknown,
  at: string,
  fail: (path: string, message: string) => void,
  options: { triggered: boolean },
): ParameterDeclaration[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) {
    fail(at, 'must be a list such as [{ name: since, type: date, required: true }]');
    return undefined;
  }
  if (raw.length > maxParameters) fail(at, `has ${raw.length} parameters; ${maxParameters} at most`);
  const declarations: ParameterDeclaration[] = [];
  // Names are compared as their variables are named (SOV_PARAM_ + upper case).
  const seen = new Map<string, number>();
  for (const [i, item] of raw.entries()) {
    const here = `${at}[${i}]`;
    if (!isMapping(item) || item instanceof Date) {
      fail(here, 'must be a mapping such as { name: since, type: date }');
      continue;
    }
    for (const key of Object.keys(item)) if (!declarationKeys.has(key)) fail(`${here}.${key}`, 'is not a known key');
    const name = item.name;
    let ok = true;
    if (typeof name !== 'string' || !namePattern.test(name)) {
      fail(
        `${here}.name`,
        name === undefined
          ? 'is required'
          : `${JSON.stringify(name)} must be 1 to 64 letters, digits or _, not starting with a digit`,
      );
      ok = false;
    } else {
      const upper = name.toUpperCase();
      const other = seen.get(upper);
      if (other !== undefined) {
        fail(`${here}.name`, `"${name}" is also the name of ${at}[${other}] (SOV_PARAM_${upper})`);
        ok = false;
      } else seen.set(upper, i);
    }
    const type = item.type ?? 'string';
    if (typeof type !== 'string' || !(ParameterTypes as readonly string[]).includes(type)) {
      fail(`${here}.type`, `${JSON.stringify(type)} must be one of ${ParameterTypes.join(', ')}`);
      ok = false;
    }
    const required = item.required ?? false;
    if (typeof required !== 'boolean') {
      fail(`${here}.required`, 'must be true or false');
      ok = false;
    }
    const description = item.description;
    if (description !== undefined && description !== null) {
      if (typeof description !== 'string' || description.length > maxDescriptionLength) {
        fail(`${here}.description`, `must be text of ${maxDescriptionLength} characters at most`);
        ok = false;
      }
    }
    let defaultValue: ParameterValue | undefined;
    if (item.default !== undefined && item.default !== null && ok) {
      defaultValue = asType(type as ParameterType, item.default);
      if (defaultValue === undefined) {
        fail(`${here}.default`, `${JSON.stringify(item.default)} is not ${describeType[type as ParameterType]}`);
        ok = false;
      } else if (required === true) {
        fail(`${here}.required`, 'a parameter with a default is never missing: drop required or the default');
        ok = false;
      }
    }
    if (ok && required === true && options.triggered) {
      fail(
        `${here}.required`,
        'a job started by its trigger (schedule, every, once, after) has no one to give it a value: give it a default instead',
      );
      ok = false;
    }
    if (!ok) continue;
    declarations.push({
      name: name as string,
      type: type as ParameterType,
      ...(defaultValue === undefined ? {} : { default: defaultValue }),
      ...(required === true ? { required: true } : {}),
      ...(typeof description === 'string' ? { description } : {}),
    });
  }
  return declarations;
}

export type CheckedValues =
  | { ok: true; values: Record<string, ParameterValue> }
  | { ok: false; problems: ParameterProblem[] };

/**
 * A run's values checked against its job's declarations: every name declared, every
 * required one given, every value of its type (text read as it); the defaults fill in the
 * rest. A job that declares nothing takes nothing. Problems name parameters, never values.
 */
export function checkValues(
  declarations: readonly ParameterDeclaration[] | undefined,
  given: Readonly<Record<string, unknown>>,
): CheckedValues {
  const problems: ParameterProblem[] = [];
  const declared = new Map((declarations ?? []).map((d) => [d.name, d]));
  const values: Record<string, ParameterValue> = {};
  for (const [name, value] of Object.entries(given)) {
    const declaration = declared.get(name);
    if (declaration === undefined) {
      problems.push({
        name,
        problem: 'unknown',
        message:
          declared.size === 0
            ? 'the job declares no parameters'
            : `is not a parameter of the job (${[...declared.keys()].join(', ')})`,
      });
      continue;
    }
    const typed = asType(declaration.type, value);
    if (typed === undefined) {
      problems.push({ name, problem: 'wrong_type', message: `must be ${describeType[declaration.type]}` });
    } else values[name] = typed;
  }
  for (const declaration of declared.values()) {
    if (Object.hasOwn(given, declaration.name)) continue;
    if (declaration.default !== undefined) values[declaration.name] = declaration.default;
    else if (declaration.required === true) {
      problems.push({ name: declaration.name, problem: 'missing', message: 'is required' });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  if (Buffer.byteLength(JSON.stringify(values)) > maxParametersBytes) {
    return {
      ok: false,
      problems: [
        { name: '.', problem: 'too_large', message: `the values are larger than ${maxParametersBytes} bytes` },
      ],
    };
  }
  return { ok: true, values };
}

/** A run's environment for its values: `SOV_PARAM_<NAME>` (upper case), each as text. */
export function parameterEnv(values: Readonly<Record<string, ParameterValue>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) env[`SOV_PARAM_${name.toUpperCase()}`] = String(value);
  return env;
}
