import { Type } from 'typebox';
import type { VariableOptions } from './environment.ts';

/** The kinds of variable both planes read, with the limits every value of them has. */

/** A count, size or duration: a whole number, 0 or more unless `minimum` says otherwise. */
export function WholeNumber(options: VariableOptions & { default?: number; minimum?: number; maximum?: number }) {
  return Type.Integer({ minimum: 0, ...options });
}

/** A TCP port to listen on (0: any free one). */
export function Port(options: VariableOptions & { default?: number }) {
  return Type.Integer({ minimum: 0, maximum: 65_535, ...options });
}

/** `true` or `false`; unset is false. */
export function Flag(options: VariableOptions) {
  return Type.Boolean({ default: false, ...options });
}

/** Text: a path, a URL, a name. */
export function Text(options: VariableOptions & { default?: string; pattern?: string; maxLength?: number }) {
  return Type.String(options);
}

/** A credential, or the key to others: never repeated in a message. */
export function Secret(options: VariableOptions & { pattern?: string; maxLength?: number }) {
  return Type.String({ ...options, secret: true });
}

/** A variable no longer read: setting it is refused with what to set instead. */
export function Retired(instead: string) {
  return Type.Optional(Type.String({ description: `No longer read: ${instead}.`, retired: instead }));
}

/** pino's levels, and `silent` for no logs at all. */
export function LogLevel(options: VariableOptions) {
  return Type.Union(
    [
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ],
    { default: 'info', ...options },
  );
}

/** The logger's level, or false for none. */
export function logLevelOf(level: string): string | false {
  return level === 'silent' ? false : level;
}
