import { type Static, Type } from 'typebox';
import { Closed, Timestamp, Uuid } from '../schema.ts';
import { Scopes } from '../scopes.ts';
import { scopedTokenMaxTtlSeconds } from '../tokens.ts';

const ScopeSchema = Type.Enum(Scopes);

/** What a client asks its workspace's data plane token for. */
export const ScopedTokenRequest = Closed({
  scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: Scopes.length, uniqueItems: true }),
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 5, maximum: scopedTokenMaxTtlSeconds })),
});
export type ScopedTokenRequest = Static<typeof ScopedTokenRequest>;

/** A scoped token, and where to call with it. */
export const ScopedTokenResponse = Type.Object({
  token: Type.String(),
  tokenId: Type.String(),
  expiresAt: Timestamp,
  scopes: Type.Array(ScopeSchema),
  dataplane: Type.Object({
    dataplaneId: Uuid,
    regionId: Uuid,
    url: Type.Union([Type.String(), Type.Null()], { description: 'Null until the data plane has started once.' }),
  }),
});
export type ScopedTokenResponse = Static<typeof ScopedTokenResponse>;

export const LiveScopedToken = Type.Object({
  tokenId: Type.String(),
  userId: Uuid,
  email: Type.String(),
  scopes: Type.Array(Type.String()),
  issuedAt: Timestamp,
  expiresAt: Timestamp,
  revokedAt: Type.Union([Timestamp, Type.Null()]),
  /** The credential it was issued under; null for tokens issued before this was recorded. */
  issuedVia: Type.Union([Type.Literal('session'), Type.Literal('api_key'), Type.Null()]),
});
export type LiveScopedToken = Static<typeof LiveScopedToken>;

export const LiveScopedTokenList = Type.Object({ data: Type.Array(LiveScopedToken) });
export type LiveScopedTokenList = Static<typeof LiveScopedTokenList>;

export const RevokedScopedToken = Type.Object({ tokenId: Type.String(), revokedAt: Timestamp });
export type RevokedScopedToken = Static<typeof RevokedScopedToken>;
