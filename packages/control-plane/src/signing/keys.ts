import { signingAlgorithm } from '@sovereign/contract';
import { open, seal } from '@sovereign/server-kit/keys';
import type { Database, Queryable } from '@sovereign/server-kit/sql';
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
import { LockKeys, lockForTransaction } from '../locks.ts';
import { SigningKeyUnreadableError, WrongMasterKeyError } from './errors.ts';
import { keyIdsOf, keyOf, type MasterKeyring } from './master-keys.ts';
import {
  hasActiveKey,
  insertActiveKey,
  listSigningKeys,
  lockPrivateKeys,
  retireRetiringKeys,
  type SigningKeyRow,
  sealPrivateKey,
  startRetiringActiveKey,
} from './store.ts';

export interface SigningKeyInfo {
  kid: string;
  state: SigningKeyRow['state'];
  createdAt: string;
  retiringAt: string | null;
  retiredAt: string | null;
}

/** What opening the keys found and did, for the startup log (ids and counts, never keys). */
export interface OpenReport {
  masterKeyId: string;
  /** Private keys the database held in plaintext (written before they were sealed), now sealed. */
  sealedPlaintext: number;
  /** Private keys sealed under a previous master key, now sealed under the current one. */
  resealed: number;
  /** Private keys held (active and retiring), all sealed under the current master key. */
  privateKeys: number;
}

/** How long a replica trusts its cached view of the keys before reading them again. */
const cacheMs = 10_000;

/** A sealed private key names its row: a blob moved to another kid fails to open. */
const sealedKeyAad = (kid: string) => `sovereign signing key ${kid}`;

/**
 * The Ed25519 keys that sign every token of this control plane, kept in its database
 * so all replicas sign and publish the same set. Rotation makes a new active key and
 * moves the old one to `retiring` (still published, so tokens it signed verify until
 * they expire); retirement removes retiring keys from the JWKS for good.
 *
 * Private keys are stored only sealed (AES-256-GCM) under the master key, each with the
 * master key's id and its kid as additional data. Once opened, a replica holds the
 * imported keys in memory: it keeps signing while another replica re-seals the rows
 * under a new master key.
 */
export class SigningKeys {
  readonly #db: Database;
  readonly #ring: MasterKeyring;
  #cache: { at: number; rows: SigningKeyRow[] } | undefined;
  readonly #imported = new Map<string, Promise<CryptoKey>>();
  /** Public keys imported to verify with, by kid: an import costs more than the verification. */
  readonly #verifying = new Map<string, Promise<CryptoKey>>();

  constructor(db: Database, ring: MasterKeyring) {
    this.#db = db;
    this.#ring = ring;
  }

  /**
   * At start, in one transaction: seals plaintext private keys left by earlier versions,
   * re-seals those under a previous master key, proves every other one opens under the
   * current key (else WrongMasterKeyError: the control plane must not start), and makes
   * the first active key if there is none. Every private key is then loaded in memory.
   */
  async open(): Promise<OpenReport> {
    const current = this.#ring.current;
    const opened = new Map<string, CryptoKey>();
    const report = await this.#db.transaction(async (tx) => {
      await lockForTransaction(tx, LockKeys.signingKeys);
      const rows = await lockPrivateKeys(tx);
      let sealedPlaintext = 0;
      let resealed = 0;
      for (const row of rows) {
        let jwk: JWK;
        if (row.sealed_private_key === null || row.master_key_id === null) {
          if (row.private_jwk === null) continue;
          jwk = row.private_jwk;
          sealedPlaintext++;
        } else {
          jwk = this.#unseal(row.kid, row.sealed_private_key, row.master_key_id);
          if (row.master_key_id !== current.keyId) resealed++;
        }
        // Proves the key is one: a garbled row must stop the start, not fail a later request.
        opened.set(row.kid, await importPrivate(row.kid, jwk, row.master_key_id ?? 'none (plaintext)'));
        if (row.master_key_id === current.keyId) continue;
        await sealPrivateKey(tx, row.kid, this.#seal(row.kid, jwk), current.keyId);
      }
      if (!(await hasActiveKey(tx))) {
        const made = await this.#insertActive(tx);
        opened.set(made.kid, await importPrivate(made.kid, made.privateJwk, current.keyId));
      }
      return { masterKeyId: current.keyId, sealedPlaintext, resealed, privateKeys: opened.size };
    });
    for (const [kid, key] of opened) this.#imported.set(kid, Promise.resolve(key));
    this.#cache = undefined;
    return report;
  }

  async #rows(fresh = false): Promise<SigningKeyRow[]> {
    if (!fresh && this.#cache !== undefined && Date.now() - this.#cache.at < cacheMs) return this.#cache.rows;
    const rows = await listSigningKeys(this.#db);
    this.#cache = { at: Date.now(), rows };
    return rows;
  }

  /**
   * A new active key; the previous active one starts retiring. Returns the new kid.
   * `alongside` writes what must land with the rotation (its audit event) in its transaction.
   */
  async rotate(alongside?: (tx: Queryable, kid: string) => Promise<void>): Promise<string> {
    const made = await this.#db.transaction(async (tx) => {
      await lockForTransaction(tx, LockKeys.signingKeys);
      await startRetiringActiveKey(tx);
      const active = await this.#insertActive(tx);
      await alongside?.(tx, active.kid);
      return active;
    });
    this.#imported.set(made.kid, importPrivate(made.kid, made.privateJwk, this.#ring.current.keyId));
    this.#cache = undefined;
    return made.kid;
  }

  /** Makes a key pair and stores it as the active key, its private half sealed. */
  async #insertActive(tx: Queryable): Promise<{ kid: string; privateJwk: JWK }> {
    const { publicKey, privateKey } = await generateKeyPair(signingAlgorithm, { crv: 'Ed25519', extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const privateJwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    await insertActiveKey(tx, {
      kid,
      publicJwk: { ...publicJwk, kid, alg: signingAlgorithm, use: 'sig' },
      sealed: this.#seal(kid, privateJwk),
      masterKeyId: this.#ring.current.keyId,
    });
    return { kid, privateJwk };
  }

  #seal(kid: string, jwk: JWK): Buffer {
    const plaintext = Buffer.from(JSON.stringify(jwk), 'utf8');
    try {
      return seal(this.#ring.current.key, plaintext, sealedKeyAad(kid));
    } finally {
      plaintext.fill(0);
    }
  }

  #unseal(kid: string, sealed: Uint8Array, masterKeyId: string): JWK {
    const master = keyOf(this.#ring, masterKeyId);
    if (master === undefined) throw new WrongMasterKeyError(masterKeyId, keyIdsOf(this.#ring));
    let plaintext: Buffer;
    try {
      plaintext = open(master.key, sealed, sealedKeyAad(kid));
    } catch {
      throw new SigningKeyUnreadableError(kid, masterKeyId);
    }
    try {
      return JSON.parse(plaintext.toString('utf8')) as JWK;
    } finally {
      plaintext.fill(0);
    }
  }

  /**
   * Retires every retiring key: tokens they signed stop verifying. Returns their kids.
   * `alongside` writes what must land with the retirement (its audit events) in its transaction.
   */
  async retire(alongside?: (tx: Queryable, kids: string[]) => Promise<void>): Promise<string[]> {
    const kids = await this.#db.transaction(async (tx) => {
      await lockForTransaction(tx, LockKeys.signingKeys);
      const retired = await retireRetiringKeys(tx);
      await alongside?.(tx, retired);
      return retired;
    });
    for (const kid of kids) {
      this.#imported.delete(kid);
      this.#verifying.delete(kid);
    }
    this.#cache = undefined;
    return kids;
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
    if (active === undefined) throw new Error('no active signing key; the control plane did not start cleanly');
    let key = this.#imported.get(active.kid);
    if (key === undefined) {
      // Made by another replica since this one opened the keys.
      const { kid, sealed_private_key: sealed, master_key_id: masterKeyId } = active;
      if (sealed === null || masterKeyId === null) throw new Error(`the active signing key ${kid} has no private key`);
      key = importPrivate(kid, this.#unseal(kid, sealed, masterKeyId), masterKeyId);
      // A failed import is not kept: the next request tries again.
      key.catch(() => this.#imported.delete(kid));
      this.#imported.set(kid, key);
    }
    return new SignJWT(claims).setProtectedHeader({ alg: signingAlgorithm, kid: active.kid, typ }).sign(await key);
  }

  /** The public key for a kid, if it is still published. */
  async publicKey(kid: string): Promise<JWK | undefined> {
    const find = (rows: SigningKeyRow[]) => rows.find((r) => r.kid === kid && r.state !== 'retired')?.public_jwk;
    return find(await this.#rows()) ?? find(await this.#rows(true));
  }

  /** The public key for a kid as a key to verify with, if it is still published (imported once). */
  async verificationKey(kid: string): Promise<CryptoKey | undefined> {
    const jwk = await this.publicKey(kid);
    if (jwk === undefined) return undefined;
    let key = this.#verifying.get(kid);
    if (key === undefined) {
      key = importJWK(jwk, signingAlgorithm) as Promise<CryptoKey>;
      key.catch(() => this.#verifying.delete(kid));
      this.#verifying.set(kid, key);
    }
    return key;
  }
}

/** A private JWK as a non-extractable key; one that is not a key is SigningKeyUnreadableError. */
async function importPrivate(kid: string, jwk: JWK, masterKeyId: string): Promise<CryptoKey> {
  try {
    return (await importJWK(jwk, signingAlgorithm, { extractable: false })) as CryptoKey;
  } catch {
    throw new SigningKeyUnreadableError(kid, masterKeyId);
  }
}
