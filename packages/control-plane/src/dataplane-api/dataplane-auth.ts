import {
  controlPlaneAudience,
  type DataplaneTokenClaims,
  ErrorCode,
  signingAlgorithm,
  TokenType,
} from '@sovereign/protocol';
import { UnauthorizedProblem } from '@sovereign/protocol/http';
import type { FastifyRequest } from 'fastify';
import { importJWK, jwtVerify } from 'jose';
import { bearerToken } from '../auth/principal.ts';
import type { Deps } from '../context.ts';
import { type DataplaneRow, selectDataplane } from '../dataplanes/store.ts';
import type { DataplanesTable } from '../tables.ts';

/**
 * Checks the token a data plane got for its client credentials, then that the data
 * plane still exists: deleting it (or its region) refuses its very next call, even
 * with a token that has not expired.
 */
export async function authenticateDataplane(request: FastifyRequest, deps: Deps): Promise<DataplaneRow> {
  const token = bearerToken(request);
  if (token === undefined || token === '') {
    throw new UnauthorizedProblem(ErrorCode.unauthenticated, 'Send the data plane access token as a Bearer token.');
  }
  let claims: DataplaneTokenClaims;
  try {
    const verified = await jwtVerify<DataplaneTokenClaims>(
      token,
      async (header) => {
        const jwk = header.kid === undefined ? undefined : await deps.keys.publicKey(header.kid);
        if (jwk === undefined) throw new Error('unknown key');
        return importJWK(jwk, signingAlgorithm);
      },
      {
        issuer: deps.config.publicUrl,
        audience: controlPlaneAudience,
        typ: TokenType.dataplane,
        algorithms: [signingAlgorithm],
        currentDate: deps.now(),
      },
    );
    claims = verified.payload;
  } catch {
    throw new UnauthorizedProblem(
      ErrorCode.invalidToken,
      'The data plane access token is invalid or expired; exchange the client credentials again.',
    );
  }
  const [plane] = await deps.db.query<DataplaneRow & Pick<DataplanesTable, 'client_secret_hash'>>(
    `${selectDataplane.replace('SELECT ', 'SELECT d.client_secret_hash, ')} WHERE d.dataplane_id = $1`,
    [claims.sub],
  );
  if (plane === undefined || plane.tombstone || plane.client_secret_hash === null) {
    throw new UnauthorizedProblem(
      ErrorCode.dataplaneCredentialsRevoked,
      'This data plane was deleted; its credentials no longer work.',
    );
  }
  return plane;
}
