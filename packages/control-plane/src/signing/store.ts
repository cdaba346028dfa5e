import type { Queryable } from '@sovereign/server-kit/sql';
import type { JWK } from 'jose';
import type { SigningKeysTable } from '../tables.ts';

/** A key as the replicas cache it: everything but the plaintext column, which only opening reads. */
export type SigningKeyRow = Omit<SigningKeysTable, 'private_jwk'>;

/** Every key, oldest first. */
export async function listSigningKeys(db: Queryable): Promise<SigningKeyRow[]> {
  return db.query<SigningKeyRow>(
    `SELECT kid, state, public_jwk, sealed_private_key, master_key_id, created_at, retiring_at, retired_at
       FROM signing_keys ORDER BY created_at`,
  );
}

/** The keys that hold a private half, sealed or in plaintext, oldest first, locked for the transaction. */
export async function lockPrivateKeys(
  tx: Queryable,
): Promise<Array<Pick<SigningKeysTable, 'kid' | 'private_jwk' | 'sealed_private_key' | 'master_key_id'>>> {
  return tx.query<Pick<SigningKeysTable, 'kid' | 'private_jwk' | 'sealed_private_key' | 'master_key_id'>>(
    `SELECT kid, private_jwk, sealed_private_key, master_key_id FROM signing_keys
      WHERE private_jwk IS NOT NULL OR sealed_private_key IS NOT NULL ORDER BY created_at FOR UPDATE`,
  );
}

/** Stores a key's private half sealed under a master key, and drops any plaintext copy in the row. */
export async function sealPrivateKey(
  tx: Queryable,
  kid: string,
  sealed: Uint8Array,
  masterKeyId: string,
): Promise<void> {
  await tx.query(
    `UPDATE signing_keys SET private_jwk = NULL, sealed_private_key = $2, master_key_id = $3 WHERE kid = $1`,
    [kid, sealed, masterKeyId],
  );
}

export async function hasActiveKey(db: Queryable): Promise<boolean> {
  const [row] = await db.query('SELECT 1 FROM signing_keys WHERE state = $1', ['active']);
  return row !== undefined;
}

/** The active key starts retiring: still published, so the tokens it signed verify until retired. */
export async function startRetiringActiveKey(tx: Queryable): Promise<void> {
  await tx.query(`UPDATE signing_keys SET state = 'retiring', retiring_at = now() WHERE state = 'active'`);
}

/** Stores a new active key: its public JWK, and its private half sealed under a master key. */
export async function insertActiveKey(
  tx: Queryable,
  key: { kid: string; publicJwk: JWK; sealed: Uint8Array; masterKeyId: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO signing_keys (kid, state, public_jwk, sealed_private_key, master_key_id) VALUES ($1, 'active', $2, $3, $4)`,
    [key.kid, JSON.stringify(key.publicJwk), key.sealed, key.masterKeyId],
  );
}

/** Retires every retiring key, and forgets its private half; answers their kids. */
export async function retireRetiringKeys(tx: Queryable): Promise<string[]> {
  const rows = await tx.query<Pick<SigningKeysTable, 'kid'>>(
    `UPDATE signing_keys
        SET state = 'retired', retired_at = now(), private_jwk = NULL, sealed_private_key = NULL, master_key_id = NULL
      WHERE state = 'retiring' RETURNING kid`,
  );
  return rows.map((r) => r.kid);
}
