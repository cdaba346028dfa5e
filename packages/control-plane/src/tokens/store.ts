import { interactiveSessionMaxSeconds } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { IssuedTokensTable, UsersTable, WorkspacesTable } from '../tables.ts';

/**
 * The scoped tokens the control plane issued: metadata only (never the token), so they
 * can be listed and revoked, and their revocations followed by the data planes. A
 * revocation gets a number from a sequence; a data plane asks for those after the last
 * number it saw.
 */

/** A scoped token as issued: its claims' metadata, and what it was issued under. */
export interface IssuedScopedToken {
  jti: string;
  workspaceId: string;
  dataplaneId: string;
  userId: string;
  scopes: string;
  issuedAt: Date;
  expiresAt: Date;
  /** The credential it was issued under: ending that credential revokes it. */
  credential: { type: 'session' | 'api_key'; id: string };
}

export async function insertScopedToken(tx: Queryable, token: IssuedScopedToken): Promise<void> {
  await tx.query(
    `INSERT INTO issued_tokens (jti, workspace_id, dataplane_id, user_id, scopes, issued_at, expires_at,
                                session_id, api_key_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      token.jti,
      token.workspaceId,
      token.dataplaneId,
      token.userId,
      token.scopes,
      token.issuedAt,
      token.expiresAt,
      token.credential.type === 'session' ? token.credential.id : null,
      token.credential.type === 'api_key' ? token.credential.id : null,
    ],
  );
}

/** Which issued tokens a revocation ends. */
export type RevocationTarget =
  | { jti: string }
  /** Every token of a user; in one organization's workspaces only, when it is given. */
  | { userId: string; organizationId?: string }
  | { sessionIds: string[] }
  | { apiKeyId: string }
  /** A workspace's tokens that carry any of these scopes (a moved workspace's that can write). */
  | { workspaceId: string; anyScope: readonly string[] };

/**
 * Revokes the tokens a target names that could still be used: those not expired, and
 * those that may still back an interactive session (which outlives its token by up to
 * `interactiveSessionMaxSeconds`). Returns the data planes to tell, at once.
 */
export async function revokeScopedTokens(tx: Queryable, target: RevocationTarget, now: Date): Promise<string[]> {
  const rows = await tx.query<Pick<IssuedTokensTable, 'dataplane_id'>>(
    `UPDATE issued_tokens t SET revoked_at = $1, revocation_seq = nextval('token_revocation_seq')
      WHERE t.revoked_at IS NULL AND t.expires_at > $1::timestamptz - ($2::int * interval '1 second')
        AND ($3::text IS NULL OR t.jti = $3)
        AND ($4::uuid IS NULL OR t.user_id = $4)
        AND ($5::uuid IS NULL OR t.workspace_id IN (SELECT workspace_id FROM workspaces WHERE organization_id = $5))
        AND ($6::uuid[] IS NULL OR t.session_id = ANY($6::uuid[]))
        AND ($7::uuid IS NULL OR t.api_key_id = $7)
        AND ($8::uuid IS NULL OR (t.workspace_id = $8 AND string_to_array(t.scopes, ' ') && $9::text[]))
      RETURNING t.dataplane_id`,
    [
      now,
      interactiveSessionMaxSeconds,
      'jti' in target ? target.jti : null,
      'userId' in target ? target.userId : null,
      'userId' in target ? (target.organizationId ?? null) : null,
      'sessionIds' in target ? target.sessionIds : null,
      'apiKeyId' in target ? target.apiKeyId : null,
      'workspaceId' in target ? target.workspaceId : null,
      'workspaceId' in target ? [...target.anyScope] : null,
    ],
  );
  return [...new Set(rows.map((r) => r.dataplane_id))];
}

/**
 * A data plane's revocations numbered above `after` that still matter (the token could
 * still be used, or back an app's session), oldest first, a page at most. With none,
 * `through` is the newest number there is, so the next look starts past the rest.
 */
export async function revocationsSince(
  db: Queryable,
  dataplaneId: string,
  after: number,
  now: Date,
  limit = 1000,
): Promise<{ revokedTokens: Array<{ jti: string; expiresAt: string }>; through: number }> {
  const rows = await db.query<Pick<IssuedTokensTable, 'jti' | 'expires_at'> & { revocation_seq: string }>(
    `SELECT jti, expires_at, revocation_seq::text AS revocation_seq FROM issued_tokens
      WHERE dataplane_id = $1 AND revocation_seq > $2
        AND expires_at > $3::timestamptz - ($4::int * interval '1 second')
      ORDER BY revocation_seq LIMIT $5`,
    [dataplaneId, after, now, interactiveSessionMaxSeconds, limit],
  );
  const last = rows.at(-1);
  if (last !== undefined) {
    return {
      revokedTokens: rows.map((r) => ({ jti: r.jti, expiresAt: r.expires_at.toISOString() })),
      through: Number(last.revocation_seq),
    };
  }
  const [newest] = await db.query<{ seq: string | null }>(
    'SELECT max(revocation_seq)::text AS seq FROM issued_tokens WHERE dataplane_id = $1 AND revocation_seq IS NOT NULL',
    [dataplaneId],
  );
  return { revokedTokens: [], through: Math.max(after, Number(newest?.seq ?? 0)) };
}

export type LiveScopedTokenRow = Pick<
  IssuedTokensTable,
  'jti' | 'user_id' | 'scopes' | 'issued_at' | 'expires_at' | 'revoked_at'
> &
  Pick<UsersTable, 'email'> & { via: 'session' | 'api_key' | null };

/**
 * A workspace's tokens that can still be used: unexpired, or (with the `interactive`
 * scope) still able to back an app's session. Revoked ones are listed too while they
 * would have been live, so an administrator sees what was ended.
 */
export async function listLiveScopedTokens(
  db: Queryable,
  workspaceId: string,
  now: Date,
): Promise<LiveScopedTokenRow[]> {
  return db.query<LiveScopedTokenRow>(
    `SELECT t.jti, t.user_id, u.email, t.scopes, t.issued_at, t.expires_at, t.revoked_at,
            CASE WHEN t.session_id IS NOT NULL THEN 'session' WHEN t.api_key_id IS NOT NULL THEN 'api_key' END AS via
       FROM issued_tokens t JOIN users u USING (user_id)
      WHERE t.workspace_id = $1
        AND (t.expires_at > $2 OR (t.scopes ~ '(^| )interactive( |$)'
             AND t.expires_at > $2::timestamptz - ($3::int * interval '1 second')))
      ORDER BY t.issued_at DESC, t.jti LIMIT 1000`,
    [workspaceId, now, interactiveSessionMaxSeconds],
  );
}

/** A scoped token, with its workspace's organization: what a revocation's access check needs. */
export type ScopedTokenRow = Pick<IssuedTokensTable, 'user_id' | 'workspace_id' | 'revoked_at'> &
  Pick<WorkspacesTable, 'organization_id'>;

export async function findScopedToken(db: Queryable, jti: string): Promise<ScopedTokenRow | undefined> {
  const [row] = await db.query<ScopedTokenRow>(
    `SELECT t.user_id, t.workspace_id, w.organization_id, t.revoked_at
       FROM issued_tokens t JOIN workspaces w USING (workspace_id)
      WHERE t.jti = $1`,
    [jti],
  );
  return row;
}

/**
 * Every revoked token of a data plane that still matters, by jti: listed past its expiry
 * for as long as a session opened with one may last (a heartbeat carries them all).
 */
export async function listRevokedScopedTokens(
  db: Queryable,
  dataplaneId: string,
  now: Date,
): Promise<Array<Pick<IssuedTokensTable, 'jti' | 'expires_at'>>> {
  return db.query<Pick<IssuedTokensTable, 'jti' | 'expires_at'>>(
    `SELECT jti, expires_at FROM issued_tokens
      WHERE dataplane_id = $1 AND revoked_at IS NOT NULL
        AND expires_at > $2::timestamptz - ($3::int * interval '1 second') ORDER BY jti`,
    [dataplaneId, now, interactiveSessionMaxSeconds],
  );
}
