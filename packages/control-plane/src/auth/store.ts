import type { Role } from '@sovereign/contract';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { ApiKeysTable, SessionsTable, UsersTable, WorkspacesTable } from '../tables.ts';

// Users, their sign-in sessions and their API keys.

/** A live session and its user (who is not disabled). */
export type SessionRow = Pick<SessionsTable, 'session_id'> &
  Pick<UsersTable, 'user_id' | 'email' | 'is_instance_admin'>;

export async function insertSession(
  tx: Queryable,
  session: { sessionId: string; userId: string; tokenHash: string; expiresAt: Date },
): Promise<void> {
  await tx.query('INSERT INTO sessions (session_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)', [
    session.sessionId,
    session.userId,
    session.tokenHash,
    session.expiresAt,
  ]);
}

/** Ends one session (signing out). */
export async function endSession(tx: Queryable, sessionId: string): Promise<void> {
  await tx.query('UPDATE sessions SET revoked_at = now() WHERE session_id = $1', [sessionId]);
}

/** Ends every live session of a user (signing out everywhere, or being disabled). */
export async function endSessionsOf(tx: Queryable, userId: string, now: Date): Promise<void> {
  await tx.query('UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL', [userId, now]);
}

export async function findSession(db: Queryable, tokenHash: string, now: Date): Promise<SessionRow | undefined> {
  const [row] = await db.query<SessionRow>(
    `SELECT s.session_id, u.user_id, u.email, u.is_instance_admin
       FROM sessions s JOIN users u USING (user_id)
      WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.disabled_at IS NULL`,
    [tokenHash, now],
  );
  return row;
}

/** A usable API key: unrevoked, unexpired, of a user who is not disabled. */
export type UsableKeyRow = Pick<ApiKeysTable, 'api_key_id' | 'role' | 'workspace_id' | 'expires_at'> &
  Pick<UsersTable, 'user_id' | 'email'> & {
    /** The organization of the key's workspace, when it has one. */
    organization_id: WorkspacesTable['organization_id'] | null;
  };

/** Finds a usable key by its hash and records that it was used, in one statement. */
export async function useApiKey(db: Queryable, tokenHash: string, now: Date): Promise<UsableKeyRow | undefined> {
  const [row] = await db.query<UsableKeyRow>(
    `UPDATE api_keys k SET last_used_at = $2
       FROM users u
      WHERE k.user_id = u.user_id AND k.token_hash = $1 AND k.revoked_at IS NULL
        AND k.expires_at > $2 AND u.disabled_at IS NULL
      RETURNING k.api_key_id, u.user_id, u.email, k.role, k.workspace_id, k.expires_at,
        (SELECT w.organization_id FROM workspaces w WHERE w.workspace_id = k.workspace_id) AS organization_id`,
    [tokenHash, now],
  );
  return row;
}

/** Why a key that useApiKey refused is refused: unknown (or revoked), expired, or its user disabled. */
export async function refusedKeyReason(
  db: Queryable,
  tokenHash: string,
  now: Date,
): Promise<'unknown' | 'expired' | 'user_disabled'> {
  const [row] = await db.query<Pick<ApiKeysTable, 'expires_at'> & { disabled: boolean }>(
    `SELECT k.expires_at, u.disabled_at IS NOT NULL AS disabled
       FROM api_keys k JOIN users u USING (user_id)
      WHERE k.token_hash = $1 AND k.revoked_at IS NULL`,
    [tokenHash],
  );
  if (row === undefined) return 'unknown';
  if (row.disabled) return 'user_disabled';
  return row.expires_at <= now ? 'expired' : 'unknown';
}

export type ApiKeyRow = ApiKeysTable;

/** The user's unrevoked keys (expired ones too, so they can be seen and cleaned up), newest first. */
export async function listApiKeys(db: Queryable, userId: string, onlyKeyId: string | null): Promise<ApiKeyRow[]> {
  return db.query<ApiKeyRow>(
    `SELECT * FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR api_key_id = $2)
      ORDER BY created_at DESC, api_key_id`,
    [userId, onlyKeyId],
  );
}

export async function insertApiKey(
  tx: Queryable,
  key: {
    apiKeyId: string;
    userId: string;
    name: string;
    tokenHash: string;
    prefix: string;
    role: Role;
    workspaceId: string | null;
    expiresAt: Date;
  },
): Promise<ApiKeyRow> {
  const [row] = await tx.query<ApiKeyRow>(
    `INSERT INTO api_keys (api_key_id, user_id, name, token_hash, prefix, role, workspace_id, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [key.apiKeyId, key.userId, key.name, key.tokenHash, key.prefix, key.role, key.workspaceId, key.expiresAt],
  );
  if (row === undefined) throw new Error('insert returned nothing');
  return row;
}

type RevokedKeyRow = Pick<ApiKeysTable, 'api_key_id'> & { organization_id: WorkspacesTable['organization_id'] | null };

/** Revokes one of the user's keys (with its workspace's organization); undefined when they have no such live key. */
export async function revokeApiKey(
  tx: Queryable,
  apiKeyId: string,
  userId: string,
  now: Date,
): Promise<RevokedKeyRow | undefined> {
  const [row] = await tx.query<RevokedKeyRow>(
    `UPDATE api_keys k SET revoked_at = $3
      WHERE api_key_id = $1 AND user_id = $2 AND revoked_at IS NULL
      RETURNING api_key_id, (SELECT w.organization_id FROM workspaces w WHERE w.workspace_id = k.workspace_id) AS organization_id`,
    [apiKeyId, userId, now],
  );
  return row;
}

/** Sets a new password hash and ends every other session of the user; answers how many ended. */
export async function replacePassword(
  tx: Queryable,
  userId: string,
  passwordHash: string,
  keepSessionId: string,
  now: Date,
): Promise<string[]> {
  await tx.query('UPDATE users SET password_hash = $2, updated_at = $3 WHERE user_id = $1', [
    userId,
    passwordHash,
    now,
  ]);
  const ended = await tx.query<{ session_id: string }>(
    `UPDATE sessions SET revoked_at = $3
      WHERE user_id = $1 AND session_id <> $2 AND revoked_at IS NULL AND expires_at > $3 RETURNING session_id`,
    [userId, keepSessionId, now],
  );
  return ended.map((r) => r.session_id);
}

export type UserRow = UsersTable;

export async function findUser(db: Queryable, userId: string): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>('SELECT * FROM users WHERE user_id = $1', [userId]);
  return row;
}

/** The user with this email, whatever its case (emails are unique so). */
/** Whether any instance administrator can sign in (not disabled). */
export async function hasActiveInstanceAdmin(db: Queryable): Promise<boolean> {
  const [row] = await db.query('SELECT 1 FROM users WHERE is_instance_admin AND disabled_at IS NULL LIMIT 1');
  return row !== undefined;
}

export async function findUserByEmail(db: Queryable, email: string): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>('SELECT * FROM users WHERE lower(email) = lower($1)', [email]);
  return row;
}

export async function insertUser(
  tx: Queryable,
  user: { userId: string; email: string; name: string; passwordHash: string; isInstanceAdmin: boolean },
): Promise<UserRow> {
  const [row] = await tx.query<UserRow>(
    `INSERT INTO users (user_id, email, name, password_hash, is_instance_admin)
     VALUES ($1, $2, $3, $4, $5) RETURNING *`,
    [user.userId, user.email, user.name, user.passwordHash, user.isInstanceAdmin],
  );
  if (row === undefined) throw new Error('insert returned nothing');
  return row;
}

/**
 * Disables a user: from now on they cannot sign in, and their API keys are refused (not
 * revoked: enabling the user again brings back the keys that have not expired). Their
 * sessions end with it (the scoped tokens issued to them are the caller's to revoke).
 * Keeps the first time it was disabled.
 */
export async function disableUser(tx: Queryable, userId: string, now: Date): Promise<UserRow | undefined> {
  const [row] = await tx.query<UserRow>(
    'UPDATE users SET disabled_at = coalesce(disabled_at, $2), updated_at = $2 WHERE user_id = $1 RETURNING *',
    [userId, now],
  );
  if (row === undefined) return undefined;
  await endSessionsOf(tx, userId, now);
  return row;
}

export async function enableUser(tx: Queryable, userId: string, now: Date): Promise<UserRow | undefined> {
  const [row] = await tx.query<UserRow>(
    'UPDATE users SET disabled_at = NULL, updated_at = $2 WHERE user_id = $1 RETURNING *',
    [userId, now],
  );
  return row;
}
