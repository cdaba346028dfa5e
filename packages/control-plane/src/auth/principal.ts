import { ErrorCode, type Role } from '@sovereign/contract';
import { UnauthorizedProblem } from '@sovereign/server-kit/http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Deps } from '../context.ts';
import { hashSecret, SecretPrefix } from './secrets.ts';
import { findSession, refusedKeyReason, useApiKey } from './store.ts';

/** What an API key narrows its user's power to. */
export interface KeyLimits {
  /** The most the key may do in any organization; its user's own role there caps it too. */
  role: Role;
  /** The one workspace the key acts in, or null for a key across the user's organizations. */
  workspaceId: string | null;
  /** The organization of that workspace. */
  organizationId: string | null;
  expiresAt: Date;
}

/** The person behind a request to the public API. */
export interface Principal {
  userId: string;
  email: string;
  /** Acts as an instance administrator: only a signed-in administrator, never through an API key. */
  isInstanceAdmin: boolean;
  credential: { type: 'session' | 'api_key'; id: string };
  /** Set when the request came with an API key: what it may do, at most. */
  apiKey?: KeyLimits;
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

const invalidToken = () =>
  new UnauthorizedProblem(
    ErrorCode.invalidToken,
    'The token is unknown, expired or revoked; sign in again or use a valid API key.',
  );

/**
 * The principal of a token, read afresh on every request: a key's expiry, its user
 * being disabled and (in access.ts) its user's current roles all apply at once.
 */
async function lookup(deps: Deps, token: string): Promise<Principal> {
  const hash = hashSecret(token);
  const now = deps.now();
  if (token.startsWith(`${SecretPrefix.session}_`)) {
    const row = await findSession(deps.db, hash, now);
    if (row === undefined) throw invalidToken();
    return {
      userId: row.user_id,
      email: row.email,
      isInstanceAdmin: row.is_instance_admin,
      credential: { type: 'session', id: row.session_id },
    };
  }
  if (token.startsWith(`${SecretPrefix.apiKey}_`)) {
    const row = await useApiKey(deps.db, hash, now);
    if (row === undefined) {
      const reason = await refusedKeyReason(deps.db, hash, now);
      if (reason === 'expired') {
        throw new UnauthorizedProblem(ErrorCode.apiKeyExpired, 'The API key has expired; make a new one.');
      }
      if (reason === 'user_disabled') {
        throw new UnauthorizedProblem(
          ErrorCode.userDisabled,
          "The API key's user is disabled; an instance administrator can enable them again.",
        );
      }
      throw invalidToken();
    }
    return {
      userId: row.user_id,
      email: row.email,
      isInstanceAdmin: false,
      credential: { type: 'api_key', id: row.api_key_id },
      apiKey: {
        role: row.role,
        workspaceId: row.workspace_id,
        organizationId: row.organization_id,
        expiresAt: row.expires_at,
      },
    };
  }
  throw invalidToken();
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
    if (token === '') throw invalidToken();
    request.principal = await lookup(deps, token);
  });
}

/** The principal of an authenticated route (installAuthentication ran). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) {
    throw new UnauthorizedProblem(ErrorCode.unauthenticated, 'Sign in first.');
  }
  return request.principal;
}
