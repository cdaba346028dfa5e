import type { Scope } from './scopes.ts';

/** Longest lifetime of a scoped data-plane token, in seconds. */
export const scopedTokenMaxTtlSeconds = 600;
/** Clock skew a data plane tolerates when checking `exp` / `iat`, in seconds. */
export const tokenClockSkewSeconds = 30;
/** Signing algorithm of every token the control plane issues. */
export const signingAlgorithm = 'EdDSA';

/** The `typ` header values, so one kind of token can never pass for another. */
export const TokenType = {
  scoped: 'sov-scoped+jwt',
  dataplane: 'sov-dataplane+jwt',
} as const;

/** Claims of a token a client presents to a data plane. */
export interface ScopedTokenClaims {
  iss: string;
  /** The user the token was issued to. */
  sub: string;
  /** The data plane id the token is for. */
  aud: string;
  region: string;
  org: string;
  ws: string;
  /** Space-separated, as in OAuth 2. */
  scope: string;
  iat: number;
  exp: number;
  jti: string;
}

/** Claims of the token a data plane gets for its client credentials. */
export interface DataplaneTokenClaims {
  iss: string;
  /** The data plane id. */
  sub: string;
  /** Always the control plane audience below. */
  aud: string;
  region: string;
  org: string;
  iat: number;
  exp: number;
  jti: string;
}

/** Audience of data-plane credential tokens: the control plane's internal API. */
export const controlPlaneAudience = 'sovereign:control-plane';

export function parseScope(scope: string): Scope[] {
  return scope.split(' ').filter((s) => s.length > 0) as Scope[];
}
