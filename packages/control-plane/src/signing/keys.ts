import { signingAlgorithm } from '@sovereign/protocol';
import type { Database } from '@sovereign/protocol/sql';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';

interface KeyRow {
  kid: string;
  state: 'active' | 'retiring' | 'retired';
  public_jwk: JWK;
  private_jwk: JWK | null;
  created_at: Date;
  retiring_at: Date | null;
  retired_at: Date | null;
}

export interface SigningKeyInfo {
  kid: string;
  state: KeyRow['state'];
  createdAt: string;
  retiringAt: string | null;
  retiredAt: string | null;
}

/** How long a replica trusts its cached view of the keys before reading them again. */
const cacheMs = 10_000;

/**
 * The Ed25519 keys that sign every token of this control plane, kept in its database
 * so all replicas sign and publish the same set. Rotation makes a new active key and
 * moves the old one to `retiring` (still published, so tokens it signed verify until
 * they expire); retirement removes retiring keys from the JWKS for good.
 */
export class SigningKeys {
  readonly #db: Database;
  #cache: { at: number; rows: KeyRow[] } | undefined;
  readonly #imported = new Map<string, Promise<CryptoKey>>();

  constructor(db: Database) {
    this.#db = db;
  }

  async #rows(fresh = false): Promise<KeyRow[]> {
    if (!fresh && this.#cache !== undefined && Date.now() - this.#cache.at < cacheMs) return this.#cache.rows;
    const rows = await this.#db.query<KeyRow>(
      `SELECT kid, state, public_jwk, private_jwk, created_at, retiring_at, retired_at
         FROM signing_keys ORDER BY created_at`,
    );
    this.#cache = { at: Date.now(), rows };
    return rows;
  }

  /** Makes sure an active key exists (first start). */
  async ensureActive(): Promise<void> {
    const rows = await this.#rows(true);
    if (!rows.some((r) => r.state === 'active')) await this.rotate();
  }

  /** A new active key; the previous active one starts retiring. Returns the new kid. */
  async rotate(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(signingAlgorithm, { crv: 'Ed25519', extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const privateJwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    await this.#db.transaction(async (tx) => {
      await tx.query(`UPDATE signing_keys SET state = 'retiring', retiring_at = now() WHERE state = 'active'`);
      await tx.query(`INSERT INTO signing_keys (kid, state, public_jwk, private_jwk) VALUES ($1, 'active', $2, $3)`, [
        kid,
        JSON.stringify({ ...publicJwk, kid, alg: signingAlgorithm, use: 'sig' }),
        JSON.stringify(privateJwk),
      ]);
    });
    this.#cache = undefined;
    return kid;
  }

  /** Retires every retiring key: tokens they signed stop verifying. Returns their kids. */
  async retire(): Promise<string[]> {
    const rows = await this.#db.query<{ kid: string }>(
      `UPDATE signing_keys SET state = 'retired', retired_at = now(), private_jwk = NULL
        WHERE state = 'retiring' RETURNING kid`,
    );
    this.#cache = undefined;
    return rows.map((r) => r.kid);
  }

  async list(): Promise<SigningKeyInfo[]> {
    return (await this.#rows(true)).map((r) => ({
      kid: r.kid,
      state: r.state,
      createdAt: r.created_at.toISOString(),
      retiringAt: r.retiring_at?.toISOString() ?? null,
      retiredAt: r.retired_at?.toISOString() ?? null,
    }));
  }

  /** The published set: the active key and the retiring ones. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const rows = await this.#rows();
    return { keys: rows.filter((r) => r.state !== 'retired').map((r) => r.public_jwk) };
  }

  /** Signs claims with the active key, `typ` naming the kind of token. */
  async sign(claims: JWTPayload, typ: string): Promise<string> {
    let active = (await this.#rows()).find((r) => r.state === 'active');
    // Another replica may have rotated since the cache was filled.
    active ??= (await this.#rows(true)).find((r) => r.state === 'active');
    if (active?.private_jwk == null) throw new Error('no active signing key; the control plane did not start cleanly');
    let key = this.#imported.get(active.kid);
    if (key === undefined) {
      key = importJWK(active.private_jwk, signingAlgorithm) as Promise<CryptoKey>;
      this.#imported.set(active.kid, key);
    }
    return new SignJWT(claims).setProtectedHeader({ alg: signingAlgorithm, kid: active.kid, typ }).sign(await key);
  }

  /** The public key for a kid, if it is still published. */
  async publicKey(kid: string): Promise<JWK | undefined> {
    const find = (rows: KeyRow[]) => rows.find((r) => r.kid === kid && r.state !== 'retired')?.public_jwk;
    return find(await this.#rows()) ?? find(await this.#rows(true));
  }
}
