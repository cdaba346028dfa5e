import { ErrorCode } from '@sovereign/protocol';
import { UnauthorizedProblem } from '@sovereign/protocol/http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Deps } from '../context.ts';
import { hashSecret, SecretPrefix } from './secrets.ts';

/** The person behind a request to the public API. */
export interface Principal {
  userId: string;
  email: string;
  isInstanceAdmin: boolean;
  credential: { type: 'session' | 'api_key'; id: string };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The route needs no credential (login, signup, JWKS). */
    public?: boolean;
  }
}

interface CredentialRow {
  credential_id: string;
  user_id: string;
  email: string;
  is_instance_admin: boolean;
}

async function lookup(deps: Deps, token: string): Promise<Principal | undefined> {
  const hash = hashSecret(token);
  if (token.startsWith(`${SecretPrefix.session}_`)) {
    const [row] = await deps.db.query<CredentialRow>(
      `SELECT s.session_id AS credential_id, u.user_id, u.email, u.is_instance_admin
         FROM sessions s JOIN users u USING (user_id)
        WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2`,
      [hash, deps.now()],
    );
    return row && toPrincipal(row, 'session');
  }
  if (token.startsWith(`${SecretPrefix.apiKey}_`)) {
    const [row] = await deps.db.query<CredentialRow>(
      `UPDATE api_keys k SET last_used_at = $2
         FROM users u
        WHERE k.user_id = u.user_id AND k.token_hash = $1 AND k.revoked_at IS NULL
          AND (k.expires_at IS NULL OR k.expires_at > $2)
        RETURNING k.api_key_id AS credential_id, u.user_id, u.email, u.is_instance_admin`,
      [hash, deps.now()],
    );
    return row && toPrincipal(row, 'api_key');
  }
  return undefined;
}

function toPrincipal(row: CredentialRow, type: 'session' | 'api_key'): Principal {
  return {
    userId: row.user_id,
    email: row.email,
    isInstanceAdmin: row.is_instance_admin,
    credential: { type, id: row.credential_id },
  };
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

/**
 * Every route of the scope needs a session token or an API key, unless its config
 * says `public`. Runs before body parsing: an anonymous caller learns nothing of the
 * body's validity.
 */
export function installAuthentication(app: FastifyInstance, deps: Deps): void {
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.public === true) return;
    const token = bearerToken(request);
    if (token === undefined) {
      throw new UnauthorizedProblem(ErrorCode.unauthenticated, 'Sign in first: send Authorization: Bearer <token>.');
    }
    const principal = token === '' ? undefined : await lookup(deps, token);
    if (principal === undefined) {
      throw new UnauthorizedProblem(
        ErrorCode.invalidToken,
        'The token is unknown, expired or revoked; sign in again or use a valid API key.',
      );
    }
    request.principal = principal;
  });
}

/** The principal of an authenticated route (installAuthentication ran). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) {
    throw new UnauthorizedProblem(ErrorCode.unauthenticated, 'Sign in first.');
  }
  return request.principal;
}
