import { type Static, Type } from 'typebox';
import { Closed, Timestamp } from '../schema.ts';

/** Data plane: a workspace variable; a secret's value is never returned (R7). */
export const Variable = Type.Object({
  name: Type.String(),
  secret: Type.Boolean(),
  value: Type.Optional(Type.String({ description: 'Plain variables only: a secret is never returned.' })),
  updatedAt: Timestamp,
});
export type Variable = Static<typeof Variable>;

export const VariableList = Type.Object({ data: Type.Array(Variable) });
export type VariableList = Static<typeof VariableList>;

export const VariableName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' });

export const VariableSetRequest = Closed({
  value: Type.String({ maxLength: 64 * 1024 }),
  secret: Type.Optional(
    Type.Boolean({ description: 'Omitted: an existing variable keeps its kind; a new one is plain.' }),
  ),
});
export type VariableSetRequest = Static<typeof VariableSetRequest>;
