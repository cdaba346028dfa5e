import { randomUUID } from 'node:crypto';
import {
  Closed,
  ErrorCode,
  roleScopes,
  type ScopedTokenClaims,
  Scopes,
  scopedTokenMaxTtlSeconds,
  Timestamp,
  TokenType,
  Uuid,
} from '@sovereign/protocol';
import { ConflictProblem, ForbiddenProblem, NotFoundProblem } from '@sovereign/protocol/http';
import { Type } from 'typebox';
import { audit, userActor } from '../audit/record.ts';
import { boundWorkspace, requireInstanceAdmin, roleIn } from '../auth/access.ts';
import { principalOf } from '../auth/principal.ts';
import type { Deps } from '../context.ts';
import { type DataplaneRow, selectDataplane } from '../dataplanes/store.ts';
import type { PublicApi } from '../public-api.ts';
import { workspaceFor } from '../workspaces/store.ts';

const ScopeSchema = Type.Enum(Scopes);

const DataplaneTokenResponse = Type.Object({
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

const SigningKey = Type.Object({
  kid: Type.String(),
  state: Type.Union([Type.Literal('active'), Type.Literal('retiring'), Type.Literal('retired')]),
  createdAt: Timestamp,
  retiringAt: Type.Union([Timestamp, Type.Null()]),
  retiredAt: Type.Union([Timestamp, Type.Null()]),
});

/** Scoped tokens for data planes, their revocation, and the signing keys. */
export async function signingRoutes(app: PublicApi, deps: Deps) {
  const { db, keys } = deps;

  app.post(
    '/workspaces/:workspaceId/dataplane-token',
    {
      schema: {
        tags: ['Tokens'],
        summary: "A short-lived token for the workspace's data plane, with the scopes asked for",
        description: `Scopes must be allowed by your role. Lifetime ${scopedTokenMaxTtlSeconds} s at most. Rate-limited per client address and per user.`,
        params: Closed({ workspaceId: Uuid }),
        body: Closed({
          scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: Scopes.length, uniqueItems: true }),
          ttlSeconds: Type.Optional(Type.Integer({ minimum: 5, maximum: scopedTokenMaxTtlSeconds })),
        }),
        response: { 200: DataplaneTokenResponse },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const limit = deps.config.rateLimits.tokensPerClient;
      deps.limiter.take([
        { key: `scoped-token:client:${request.ip}`, limit },
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
      const [plane] = await db.query<DataplaneRow>(`${selectDataplane} WHERE d.dataplane_id = $1`, [
        workspace.dataplane_id,
      ]);
      if (plane === undefined || plane.tombstone) {
        throw new ConflictProblem(
          ErrorCode.noDataplaneAvailable,
          "The workspace's data plane was deleted; its data stays in the region, but nothing can reach it here.",
        );
      }
      const iat = Math.floor(deps.now().getTime() / 1000);
      // A token made with an API key ends when the key does, if that comes first.
      const keyEnds =
        principal.apiKey === undefined ? Infinity : Math.floor(principal.apiKey.expiresAt.getTime() / 1000);
      const exp = Math.min(iat + (request.body.ttlSeconds ?? scopedTokenMaxTtlSeconds), keyEnds);
      const jti = randomUUID();
      const claims: ScopedTokenClaims = {
        iss: deps.config.publicUrl,
        sub: principal.userId,
        aud: workspace.dataplane_id,
        region: workspace.region_id,
        org: workspace.organization_id,
        ws: workspace.workspace_id,
        scope: request.body.scopes.join(' '),
        iat,
        exp,
        jti,
      };
      const token = await keys.sign({ ...claims }, TokenType.scoped);
      const expiresAt = new Date(exp * 1000);
      await db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO issued_tokens (jti, workspace_id, dataplane_id, user_id, scopes, issued_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [
            jti,
            workspace.workspace_id,
            workspace.dataplane_id,
            principal.userId,
            claims.scope,
            new Date(iat * 1000),
            expiresAt,
          ],
        );
        await audit(tx, userActor(principal), {
          organizationId: workspace.organization_id,
          action: 'dataplane_token.issue',
          targetType: 'workspace',
          targetId: workspace.workspace_id,
          requestId: request.id,
        });
      });
      return {
        token,
        tokenId: jti,
        expiresAt: expiresAt.toISOString(),
        scopes: request.body.scopes,
        dataplane: { dataplaneId: plane.dataplane_id, regionId: plane.region_id, url: plane.public_url },
      };
    },
  );

  app.post(
    '/dataplane-tokens/:tokenId/revoke',
    {
      schema: {
        tags: ['Tokens'],
        summary: 'Revoke a scoped token: data planes refuse it from their next heartbeat on',
        description: 'Allowed to the user the token was issued to and to owners and admins of its organization.',
        params: Closed({ tokenId: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: Type.Object({ tokenId: Type.String(), revokedAt: Timestamp }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const notFound = new NotFoundProblem(ErrorCode.tokenNotFound, 'No such token.');
      const revokedAt = await db.transaction(async (tx) => {
        const [row] = await tx.query<{
          user_id: string;
          workspace_id: string;
          organization_id: string;
          revoked_at: Date | null;
        }>(
          `SELECT t.user_id, t.workspace_id, w.organization_id, t.revoked_at
             FROM issued_tokens t JOIN workspaces w USING (workspace_id)
            WHERE t.jti = $1`,
          [request.params.tokenId],
        );
        if (row === undefined) throw notFound;
        // A key bound to one workspace reaches no token of another, not even its user's own.
        const bound = boundWorkspace(principal);
        if (bound !== null && bound !== row.workspace_id) throw notFound;
        if (row.user_id !== principal.userId) {
          const role = await roleIn(tx, principal, row.organization_id, row.workspace_id);
          if (role === null) throw notFound;
          if (role !== 'owner' && role !== 'admin') {
            throw new ForbiddenProblem(
              ErrorCode.insufficientRole,
              "Only an owner or admin may revoke another user's token.",
              {
                requiredRole: 'admin',
                role,
              },
            );
          }
        }
        if (row.revoked_at !== null) return row.revoked_at;
        const [updated] = await tx.query<{ revoked_at: Date }>(
          'UPDATE issued_tokens SET revoked_at = $2 WHERE jti = $1 RETURNING revoked_at',
          [request.params.tokenId, deps.now()],
        );
        await audit(tx, userActor(principal), {
          organizationId: row.organization_id,
          action: 'dataplane_token.revoke',
          targetType: 'token',
          targetId: request.params.tokenId,
          requestId: request.id,
        });
        return updated?.revoked_at ?? deps.now();
      });
      return { tokenId: request.params.tokenId, revokedAt: revokedAt.toISOString() };
    },
  );

  app.get(
    '/signing-keys',
    {
      schema: {
        tags: ['Signing keys'],
        summary: 'List signing keys (instance administrators)',
        response: { 200: Type.Object({ data: Type.Array(SigningKey) }) },
      },
    },
    async (request) => {
      requireInstanceAdmin(principalOf(request));
      return { data: await keys.list() };
    },
  );

  app.post(
    '/signing-keys/rotate',
    {
      schema: {
        tags: ['Signing keys'],
        summary: 'Make a new active signing key; the previous one keeps verifying until retired',
        response: { 200: Type.Object({ data: Type.Array(SigningKey) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireInstanceAdmin(principal);
      const kid = await keys.rotate();
      await audit(db, userActor(principal), {
        organizationId: null,
        action: 'signing_key.rotate',
        targetType: 'signing_key',
        targetId: kid,
        requestId: request.id,
      });
      return { data: await keys.list() };
    },
  );

  app.post(
    '/signing-keys/retire',
    {
      schema: {
        tags: ['Signing keys'],
        summary: 'Retire every retiring key: tokens they signed stop verifying',
        response: { 200: Type.Object({ data: Type.Array(SigningKey) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireInstanceAdmin(principal);
      for (const kid of await keys.retire()) {
        await audit(db, userActor(principal), {
          organizationId: null,
          action: 'signing_key.retire',
          targetType: 'signing_key',
          targetId: kid,
          requestId: request.id,
        });
      }
      return { data: await keys.list() };
    },
  );
}
