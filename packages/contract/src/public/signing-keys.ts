import { type Static, Type } from 'typebox';
import { Timestamp } from '../schema.ts';

export const SigningKey = Type.Object({
  kid: Type.String(),
  state: Type.Union([Type.Literal('active'), Type.Literal('retiring'), Type.Literal('retired')]),
  createdAt: Timestamp,
  retiringAt: Type.Union([Timestamp, Type.Null()]),
  retiredAt: Type.Union([Timestamp, Type.Null()]),
});
export type SigningKey = Static<typeof SigningKey>;

export const SigningKeyList = Type.Object({ data: Type.Array(SigningKey) });
export type SigningKeyList = Static<typeof SigningKeyList>;
