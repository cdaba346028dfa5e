import {
  Closed,
  ErrorCode,
  LiveScopedTokenList,
  RevokedScopedToken,
  roleScopes,
  ScopedTokenRequest,
  ScopedTokenResponse,
  scopedTokenMaxTtlSeconds,
  Uuid,
  writeScopes,
} from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { ConflictProblem, ForbiddenProblem } from '@sovereign/server-kit/http';
import { Type } from 'typebox';
import { audited, userAuthor } from '../audit/record.ts';
import { rateLimitClient } from '../auth/client-address.ts';
import { principalOf } from '../auth/principal.ts';
import type { Deps } from '../context.ts';
import { findDataplane } from '../dataplanes/store.ts';
import { assertNotMoved } from '../moves/guard.ts';
import { workspaceFor } from '../workspaces/access.ts';
import { scopedTokenToRevoke } from './access.ts';
import { announceRevocations } from './revocations.ts';
import { signScopedToken } from './scoped-token.ts';
import { insertScopedToken, listLiveScopedTokens, revokeScopedTokens } from './store.ts';

/**
 * Scoped tokens: what a user gets to call their workspace's data plane with (served at
 * /workspaces/{id}/dataplane-token), listed and revoked here. Not the data plane's own
 * credential token, which dataplane-api/credential-token.ts issues to data planes.
 */
export async function scopedTokenRoutes(app: App, deps: Deps) {
  const { db } = deps;

  app.post(
    '/workspaces/:workspaceId/dataplane-token',
    {
      schema: {
        tags: ['Tokens'],
        summary: "A short-lived token for the workspace's data plane, with the scopes asked for",
        description: `Scopes must be allowed by your role. Lifetime ${scopedTokenMaxTtlSeconds} s at most. Rate-limited per client address and per user.`,
        params: Closed({ workspaceId: Uuid }),
        body: ScopedTokenRequest,
        response: { 200: ScopedTokenResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const limit = deps.config.rateLimits.tokensPerClient;
      deps.limiter.take([
        { key: `scoped-token:client:${rateLimitClient(request.ip)}`, limit },
        { key: `scoped-token:user:${principal.userId}`, limit },
      ]);
      const workspace = await workspaceFor(db, principal, request.params.workspaceId, 'viewer');
      const allowed = roleScopes[workspace.role];
      const refused = request.body.scopes.filter((s) => !allowed.includes(s));
      if (refused.length > 0) {
        throw new ForbiddenProblem(
          ErrorCode.scopeNotAllowed,
          `Your role (${workspace.role}) does not allow: ${refused.join(', ')}.`,
          { refusedScopes: refused, role: workspace.role },
        );
      }
      // A moved workspace is read, never written: what was copied is what stays.
      if (request.body.scopes.some((scope) => writeScopes.includes(scope))) {
        await assertNotMoved(
          db,
          workspace.workspace_id,
          'Its data plane takes no new deployment, variable, state or run',
        );
      }
      const plane = await findDataplane(db, workspace.dataplane_id);
      if (plane === undefined || plane.tombstone) {
        throw new ConflictProblem(
          ErrorCode.noDataplaneAvailable,
          "The workspace's data plane was deleted; its data stays in the region, but nothing can reach it here.",
        );
      }
      const { token, claims } = await signScopedToken(
        deps,
        principal,
        workspace,
        request.body.scopes,
        request.body.ttlSeconds,
      );
      const expiresAt = new Date(claims.exp * 1000);
      await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        await insertScopedToken(tx, {
          jti: claims.jti,
          workspaceId: workspace.workspace_id,
          dataplaneId: workspace.dataplane_id,
          userId: principal.userId,
          scopes: claims.scope,
          issuedAt: new Date(claims.iat * 1000),
          expiresAt,
          credential: principal.credential,
        });
        return {
          result: undefined,
          // Named by its id, so an administrator can find and revoke it (the workspace is its own).
          audit: {
            organizationId: workspace.organization_id,
            action: 'dataplane_token.issue',
            targetType: 'dataplane_token',
            targetId: claims.jti,
          },
        };
      });
      return {
        token,
        tokenId: claims.jti,
        expiresAt: expiresAt.toISOString(),
        scopes: request.body.scopes,
        dataplane: { dataplaneId: plane.dataplane_id, regionId: plane.region_id, url: plane.public_url },
      };
    },
  );

  app.get(
    '/workspaces/:workspaceId/dataplane-tokens',
    {
      schema: {
        tags: ['Tokens'],
        summary: "A workspace's scoped tokens that can still be used (owners and admins)",
        description:
          'Unexpired tokens, and those with the interactive scope whose app sessions may still be open (a session outlives its token by up to 8 hours). Revoked ones are listed with revokedAt while they would have been live. Revoke any with POST /dataplane-tokens/{tokenId}/revoke: its data plane refuses it, and every app session opened with it, within a second.',
        params: Closed({ workspaceId: Uuid }),
        response: { 200: LiveScopedTokenList },
      },
    },
    async (request) => {
      const workspace = await workspaceFor(db, principalOf(request), request.params.workspaceId, 'admin');
      const rows = await listLiveScopedTokens(db, workspace.workspace_id, deps.now());
      return {
        data: rows.map((r) => ({
          tokenId: r.jti,
          userId: r.user_id,
          email: r.email,
          scopes: r.scopes.split(' '),
          issuedAt: r.issued_at.toISOString(),
          expiresAt: r.expires_at.toISOString(),
          revokedAt: r.revoked_at?.toISOString() ?? null,
          issuedVia: r.via,
        })),
      };
    },
  );

  app.post(
    '/dataplane-tokens/:tokenId/revoke',
    {
      schema: {
        tags: ['Tokens'],
        summary:
          'Revoke a scoped token: its data plane refuses it, and the app sessions opened with it, within a second',
        description: 'Allowed to the user the token was issued to and to owners and admins of its organization.',
        params: Closed({ tokenId: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: RevokedScopedToken },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { tokenId } = request.params;
      const revoked = await audited(db, userAuthor(principal.userId, request.id), async (tx) => {
        const row = await scopedTokenToRevoke(tx, principal, tokenId);
        // Revoked before: answered as it was, and nothing new for the trail.
        if (row.revoked_at !== null) return { result: { revokedAt: row.revoked_at, tell: [] }, audit: [] };
        const now = deps.now();
        return {
          result: { revokedAt: now, tell: await revokeScopedTokens(tx, { jti: tokenId }, now) },
          audit: {
            organizationId: row.organization_id,
            action: 'dataplane_token.revoke',
            targetType: 'token',
            targetId: tokenId,
          },
        };
      });
      await announceRevocations(deps, revoked.tell);
      return { tokenId, revokedAt: revoked.revokedAt.toISOString() };
    },
  );
}
