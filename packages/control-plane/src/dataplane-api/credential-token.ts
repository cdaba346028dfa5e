import { randomUUID } from 'node:crypto';
import {
  controlPlaneAudience,
  type DataplaneTokenClaims,
  ErrorCode,
  signingAlgorithm,
  TokenType,
} from '@sovereign/contract';
import { UnauthorizedProblem } from '@sovereign/server-kit/http';
import type { FastifyRequest } from 'fastify';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { bearerToken } from '../auth/principal.ts';
import { hashSecret, sameHash } from '../auth/secrets.ts';
import type { Deps } from '../context.ts';
import { type DataplaneRow, findCredentialedDataplane, findDataplaneByClientId } from '../dataplanes/store.ts';

/**
 * A data plane's credential token: what it gets for its client credentials (the OAuth 2
 * client-credentials exchange Airbyte's data planes make) and sends with every call of
 * the data plane API. Not a scoped token (tokens/), which a user gets to call a data plane.
 * The contract calls its claims DataplaneTokenClaims and its `typ` TokenType.dataplane.
 */
export type CredentialTokenClaims = DataplaneTokenClaims;

const refusedCredentials = () =>
  new UnauthorizedProblem(ErrorCode.invalidClientCredentials, 'Unknown or deleted data plane credentials.');

/**
 * Checks a data plane's client credentials and signs a short-lived credential token for
 * it, for the control plane alone (its audience). A deleted data plane's are refused.
 */
export async function exchangeClientCredentials(
  deps: Deps,
  clientId: string,
  clientSecret: string,
): Promise<{ token: string; expiresIn: number }> {
  const plane = await findDataplaneByClientId(deps.db, clientId);
  const secretHash = hashSecret(clientSecret);
  if (plane === undefined || plane.tombstone || plane.client_secret_hash === null) throw refusedCredentials();
  if (!sameHash(secretHash, plane.client_secret_hash)) throw refusedCredentials();
  const ttl = deps.config.dataplaneTokenTtlSeconds;
  const iat = Math.floor(deps.now().getTime() / 1000);
  const claims: CredentialTokenClaims = {
    iss: deps.config.publicUrl,
    sub: plane.dataplane_id,
    aud: controlPlaneAudience,
    region: plane.region_id,
    org: plane.organization_id,
    iat,
    exp: iat + ttl,
    jti: randomUUID(),
  };
  return { token: await deps.keys.sign({ ...claims }, TokenType.dataplane), expiresIn: ttl };
}

/**
 * Checks the credential token a data plane got for its client credentials, then that the data
 * plane still exists: deleting it (or its region) refuses its very next call, even
 * with a token that has not expired.
 */
export async function authenticateDataplane(request: FastifyRequest, deps: Deps): Promise<DataplaneRow> {
  const token = bearerToken(request);
  if (token === undefined || token === '') {
    throw new UnauthorizedProblem(ErrorCode.unauthenticated, 'Send the data plane access token as a Bearer token.');
  }
  let claims: CredentialTokenClaims;
  try {
    claims = await verifiedClaims(token, deps);
  } catch {
    throw new UnauthorizedProblem(
      ErrorCode.invalidToken,
      'The data plane access token is invalid or expired; exchange the client credentials again.',
    );
  }
  const plane = await findCredentialedDataplane(deps.db, claims.sub);
  if (plane === undefined) {
    throw new UnauthorizedProblem(
      ErrorCode.dataplaneCredentialsRevoked,
      'This data plane was deleted; its credentials no longer work.',
    );
  }
  return plane;
}

/** How many verified tokens each control plane keeps: a data plane uses one for minutes. */
const verifiedMax = 1_000;
const verifiedByKeys = new WeakMap<Deps['keys'], Map<string, { claims: CredentialTokenClaims; kid: string }>>();

/**
 * A credential token's claims, its signature checked once: a data plane sends the same
 * token with every call until it renews it, and an Ed25519 verification cost more CPU
 * than the rest of a run event's handling. A token met again is still checked for what
 * can change: its expiry, and its key (a retired key's tokens stop working at once).
 */
async function verifiedClaims(token: string, deps: Deps): Promise<CredentialTokenClaims> {
  let verified = verifiedByKeys.get(deps.keys);
  if (verified === undefined) {
    verified = new Map();
    verifiedByKeys.set(deps.keys, verified);
  }
  const now = Math.floor(deps.now().getTime() / 1000);
  const known = verified.get(token);
  if (known !== undefined) {
    if (known.claims.exp > now && (await deps.keys.verificationKey(known.kid)) !== undefined) return known.claims;
    verified.delete(token);
  }
  const { kid } = decodeProtectedHeader(token);
  if (kid === undefined) throw new Error('no key id');
  const key = await deps.keys.verificationKey(kid);
  if (key === undefined) throw new Error('unknown key');
  const { payload } = await jwtVerify<CredentialTokenClaims>(token, key, {
    issuer: deps.config.publicUrl,
    audience: controlPlaneAudience,
    typ: TokenType.dataplane,
    algorithms: [signingAlgorithm],
    currentDate: deps.now(),
  });
  if (verified.size >= verifiedMax) verified.delete(verified.keys().next().value as string);
  verified.set(token, { claims: payload, kid });
  return payload;
}
