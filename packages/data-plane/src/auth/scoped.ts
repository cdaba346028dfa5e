import type { Scope } from '@sovereign/contract';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ScopedPrincipal, TokenVerifier } from './verify-token.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs; every data plane API route names one. */
    scope?: Scope;
  }
  interface FastifyRequest {
    scoped?: ScopedPrincipal;
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? '';
}

/**
 * Every route of the scope checks its token before its body is read: a route without
 * a `scope` in its config is a programming error and is refused, never left open.
 */
export function installScopedAuth(app: FastifyInstance, verifier: TokenVerifier): void {
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config.scope;
    if (scope === undefined) throw new Error(`route ${request.routeOptions.url} declares no scope`);
    const params = (request.params ?? {}) as { workspaceId?: string };
    // Before validation, which makes ids lowercase: the token's workspace is compared with
    // the one spelling, so an id a client wrote in capitals is its own workspace all the same.
    request.scoped = await verifier.verify(bearer(request), params.workspaceId?.toLowerCase(), scope);
  });
}

export function scopedOf(request: FastifyRequest): ScopedPrincipal {
  if (request.scoped === undefined) throw new Error('route used without installScopedAuth');
  return request.scoped;
}
