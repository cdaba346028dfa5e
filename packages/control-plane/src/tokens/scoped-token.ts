import { randomUUID } from 'node:crypto';
import { type Scope, type ScopedTokenClaims, scopedTokenMaxTtlSeconds, TokenType } from '@sovereign/contract';
import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../context.ts';
import type { WorkspaceRow } from '../workspaces/store.ts';

/**
 * Signs a scoped token: what the caller may do (`scopes`, already checked against their
 * role) in one workspace, for that workspace's data plane alone (its audience), for
 * `ttlSeconds` (the most by default). A token made with an API key ends when the key
 * does, if that comes first.
 */
export async function signScopedToken(
  deps: Pick<Deps, 'config' | 'keys' | 'now'>,
  principal: Principal,
  workspace: WorkspaceRow,
  scopes: Scope[],
  ttlSeconds: number | undefined,
): Promise<{ token: string; claims: ScopedTokenClaims }> {
  const iat = Math.floor(deps.now().getTime() / 1000);
  const keyEnds = principal.apiKey === undefined ? Infinity : Math.floor(principal.apiKey.expiresAt.getTime() / 1000);
  const claims: ScopedTokenClaims = {
    iss: deps.config.publicUrl,
    sub: principal.userId,
    aud: workspace.dataplane_id,
    region: workspace.region_id,
    org: workspace.organization_id,
    ws: workspace.workspace_id,
    scope: scopes.join(' '),
    iat,
    exp: Math.min(iat + (ttlSeconds ?? scopedTokenMaxTtlSeconds), keyEnds),
    jti: randomUUID(),
  };
  return { token: await deps.keys.sign({ ...claims }, TokenType.scoped), claims };
}
