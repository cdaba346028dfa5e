import { randomBytes } from 'node:crypto';
import { masterKeyLength as keyLength, open, seal } from '@sovereign/server-kit/keys';
import type { Database, Queryable } from '@sovereign/server-kit/sql';
import type { LeftJoined, Row } from '../storage/tables.ts';
import {
  SecretUnreadableError,
  VariableInvalidProblem,
  VariableNameReservedProblem,
  VariableNotFoundProblem,
  WrongMasterKeyError,
} from './errors.ts';
import type { MasterKey } from './master-key.ts';

/**
 * Names the executor sets for every run (see executor.ts): a variable of that name
 * would override them (PATH, HOME, LANG) or be overridden (SOV_*, PORT for interactive
 * jobs) without a word. Only these: any other name is the workspace's business.
 */
export const reservedNames: readonly string[] = ['PATH', 'HOME', 'LANG', 'PORT'];
export const reservedPrefix = 'SOV_';
/** What a process environment can hold, and what the API accepts. */
const namePattern = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// The associated data of each ciphertext: where it belongs. Workspace ids are UUIDs
// and names match namePattern, so neither holds a colon and the strings are unambiguous.
const checkPlaintext = Buffer.from('sovereign master key check v1');
const checkAad = 'master-key-check';
const valueAad = (workspaceId: string, name: string) => `variable:${workspaceId}:${name}`;
const keyAad = (workspaceId: string, version: number) => `data-key:${workspaceId}:${version}`;

/** Two-int advisory locks live apart from the one-bigint ones migrations take. */
const workspaceLockSpace = 0x5056_0003;

export interface VariableListing {
  name: string;
  secret: boolean;
  /** Plain variables only: a secret's value is never returned. */
  value?: string;
  updatedAt: string;
}

type ListedRow = Row<'variables', 'name' | 'secret' | 'plain_value' | 'updated_at'>;

/** A variable with the data key its secret value is sealed under (both null for plain ones). */
type SealedRow = Row<'variables', 'name' | 'secret' | 'plain_value' | 'sealed_value' | 'key_version'> &
  LeftJoined<Row<'data_keys', 'wrapped' | 'master_key_id'>>;

interface DataKey {
  key: Buffer;
  version: number;
}

/** Refuses names a run's environment cannot hold or that Sovereign sets itself. */
export function checkVariableName(name: string): void {
  if (!namePattern.test(name)) {
    throw new VariableInvalidProblem(
      'A variable name is a letter or _, then letters, digits or _ (at most 128 characters).',
    );
  }
  if (name.startsWith(reservedPrefix) || reservedNames.includes(name)) throw new VariableNameReservedProblem(name);
}

/** One spelling per workspace id: the id is part of every ciphertext's associated data. */
function canonicalWorkspace(workspaceId: string): string {
  if (!uuidPattern.test(workspaceId)) throw new Error(`workspace id ${JSON.stringify(workspaceId)} is not a UUID`);
  return workspaceId.toLowerCase();
}

const listing = (row: ListedRow): VariableListing => ({
  name: row.name,
  secret: row.secret,
  ...(row.secret || row.plain_value === null ? {} : { value: row.plain_value }),
  updatedAt: row.updated_at.toISOString(),
});

/**
 * Workspace variables and secrets (R7). Plain values are stored as they are. Secret
 * values are sealed with AES-256-GCM under a per-workspace data key, made on the
 * workspace's first secret; data keys are stored only wrapped by the master key, and
 * a check record sealed under the master key proves at start that it is the right one.
 *
 * Nothing decrypted is cached: every call unwraps the data keys it needs and zeroes
 * them before it returns. An unwrap is one AES-GCM operation on 32 bytes, far cheaper
 * than the query that fetched it, and a key that is not kept cannot outlive a
 * rotation or turn up in a heap dump later.
 *
 * Writes to a workspace's secrets and its keys hold a per-workspace advisory lock, so
 * instances sharing the database never create two data keys or seal under a key that
 * a concurrent rotation is retiring.
 */
export class Variables {
  readonly #db: Database;
  #master: MasterKey;

  private constructor(db: Database, master: MasterKey) {
    this.#db = db;
    this.#master = master;
  }

  /**
   * Proves the master key against the check record, or throws WrongMasterKeyError. On
   * first start the record is made; should another instance make it at the same moment
   * with another key, the one written first wins and this one is refused.
   */
  static async open(db: Database, master: MasterKey): Promise<Variables> {
    let check = await readCheck(db);
    if (check === undefined) {
      // Data keys without a check record (a partial restore): prove the key against one of them.
      const [dataKey] = await db.query<Row<'data_keys', 'workspace_id' | 'version' | 'wrapped' | 'master_key_id'>>(
        'SELECT workspace_id::text AS workspace_id, version, wrapped, master_key_id FROM data_keys LIMIT 1',
      );
      if (dataKey !== undefined) {
        try {
          open(master.key, dataKey.wrapped, keyAad(dataKey.workspace_id, dataKey.version)).fill(0);
        } catch {
          throw new WrongMasterKeyError(dataKey.master_key_id, master.keyId);
        }
      }
      await db.query(
        'INSERT INTO master_key_check (id, master_key_id, sealed) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING',
        [master.keyId, seal(master.key, checkPlaintext, checkAad)],
      );
      check = await readCheck(db);
      if (check === undefined) throw new Error('the master key check record was not written');
    }
    verifyCheck(master, check);
    return new Variables(db, master);
  }

  /** The id of the master key in use (never the key). */
  get masterKeyId(): string {
    return this.#master.keyId;
  }

  /**
   * Creates or replaces a variable. `secret` omitted keeps an existing variable's kind
   * (a secret stays secret when only its value is written) and makes a new one plain;
   * given, it switches the kind, and the row keeps only the new form.
   */
  async set(workspaceId: string, name: string, value: string, secret?: boolean): Promise<VariableListing> {
    const ws = canonicalWorkspace(workspaceId);
    checkVariableName(name);
    // A run's environment cannot carry NUL: refuse it here rather than fail every run later.
    if (value.includes('\0')) throw new VariableInvalidProblem('A variable value cannot contain a NUL character.');
    return this.#db.transaction(async (tx) => {
      await lockWorkspace(tx, ws);
      const [existing] = await tx.query<Row<'variables', 'secret'>>(
        'SELECT secret FROM variables WHERE workspace_id = $1 AND name = $2',
        [ws, name],
      );
      const asSecret = secret ?? existing?.secret ?? false;
      let sealed: Buffer | null = null;
      let version: number | null = null;
      if (asSecret) {
        const dataKey = await this.#activeDataKey(tx, ws);
        const plaintext = Buffer.from(value, 'utf8');
        try {
          sealed = seal(dataKey.key, plaintext, valueAad(ws, name));
          version = dataKey.version;
        } finally {
          plaintext.fill(0);
          dataKey.key.fill(0);
        }
      }
      const [row] = await tx.query<ListedRow>(
        `INSERT INTO variables (workspace_id, name, secret, plain_value, sealed_value, key_version)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (workspace_id, name) DO UPDATE SET secret = EXCLUDED.secret, plain_value = EXCLUDED.plain_value,
           sealed_value = EXCLUDED.sealed_value, key_version = EXCLUDED.key_version, updated_at = now()
         RETURNING name, secret, plain_value, updated_at`,
        [ws, name, asSecret, asSecret ? null : value, sealed, version],
      );
      if (row === undefined) throw new Error('upsert returned no row');
      return listing(row);
    });
  }

  /** Deletes a variable (a secret's ciphertext with it); VariableNotFoundProblem when there is none. */
  async remove(workspaceId: string, name: string): Promise<void> {
    const rows = await this.#db.query('DELETE FROM variables WHERE workspace_id = $1 AND name = $2 RETURNING name', [
      canonicalWorkspace(workspaceId),
      name,
    ]);
    if (rows.length === 0) throw new VariableNotFoundProblem(name);
  }

  /** Names, kinds and the values of plain variables, by name. Secret values are not even read. */
  async list(workspaceId: string): Promise<VariableListing[]> {
    const rows = await this.#db.query<ListedRow>(
      // COLLATE "C": the same order on every server, whatever its locale.
      'SELECT name, secret, plain_value, updated_at FROM variables WHERE workspace_id = $1 ORDER BY name COLLATE "C"',
      [canonicalWorkspace(workspaceId)],
    );
    return rows.map(listing);
  }

  /** Every value, secrets decrypted: for a run's environment, never for the API. */
  async resolve(workspaceId: string): Promise<Record<string, string>> {
    return (await this.forRun(workspaceId)).values;
  }

  /**
   * What a run needs, from one read: every variable by name for its environment, and the
   * secrets among them (name and value) for masking its logs.
   */
  async forRun(
    workspaceId: string,
  ): Promise<{ values: Record<string, string>; secrets: Array<{ name: string; value: string }> }> {
    const ws = canonicalWorkspace(workspaceId);
    const rows = await this.#db.query<SealedRow>(sealedRowsQuery(false), [ws]);
    const decrypted = this.#decrypt(ws, rows);
    return {
      values: Object.fromEntries(rows.map((row) => [row.name, decrypted.get(row.name) ?? ''])),
      secrets: rows
        .filter((row) => row.secret)
        .map((row) => ({ name: row.name, value: decrypted.get(row.name) ?? '' })),
    };
  }

  /** The secret values of a workspace, for masking its runs' logs. */
  async secretValues(workspaceId: string): Promise<string[]> {
    return (await this.forRun(workspaceId)).secrets.map((secret) => secret.value);
  }

  /**
   * A new data key for the workspace: its secrets are sealed again under it and the
   * previous key is retired (kept wrapped, used by nothing), all in one transaction.
   * Resolves to the new key's version. Values and their updatedAt are unchanged.
   */
  async rotateDataKey(workspaceId: string): Promise<number> {
    const ws = canonicalWorkspace(workspaceId);
    return this.#db.transaction(async (tx) => {
      await lockWorkspace(tx, ws);
      const rows = await tx.query<SealedRow>(sealedRowsQuery(true), [ws]);
      const values = this.#decrypt(ws, rows);
      await tx.query('UPDATE data_keys SET active = false WHERE workspace_id = $1 AND active', [ws]);
      const next = await this.#newDataKey(tx, ws);
      try {
        for (const [name, value] of values) {
          const plaintext = Buffer.from(value, 'utf8');
          const sealed = seal(next.key, plaintext, valueAad(ws, name));
          plaintext.fill(0);
          await tx.query(
            'UPDATE variables SET sealed_value = $3, key_version = $4 WHERE workspace_id = $1 AND name = $2',
            [ws, name, sealed, next.version],
          );
        }
      } finally {
        next.key.fill(0);
      }
      return next.version;
    });
  }

  /**
   * Wraps every data key and the check record under `next`, in one transaction; from
   * then on this instance uses `next`, a start with the old key fails with
   * WrongMasterKeyError, and other instances still holding the old key are refused on
   * their next use of a secret: restart them all with the new key. Values are untouched.
   */
  async rotateMasterKey(next: MasterKey): Promise<{ dataKeys: number }> {
    if (next.key.length !== keyLength) throw new Error(`a master key is ${keyLength} bytes`);
    const count = await this.#db.transaction(async (tx) => {
      // The check row's lock orders this against every creation of a data key.
      const [check] = await tx.query<CheckRow>(
        'SELECT master_key_id, sealed FROM master_key_check WHERE id = 1 FOR UPDATE',
      );
      if (check === undefined) throw new Error('the master key check record is missing');
      verifyCheck(this.#master, check);
      const keys = await tx.query<Row<'data_keys', 'workspace_id' | 'version' | 'wrapped' | 'master_key_id'>>(
        'SELECT workspace_id::text AS workspace_id, version, wrapped, master_key_id FROM data_keys ORDER BY workspace_id, version FOR UPDATE',
      );
      for (const row of keys) {
        const key = this.#unwrap(row.workspace_id, row);
        const aad = keyAad(row.workspace_id, row.version);
        try {
          await tx.query(
            'UPDATE data_keys SET wrapped = $3, master_key_id = $4 WHERE workspace_id = $1 AND version = $2',
            [row.workspace_id, row.version, seal(next.key, key, aad), next.keyId],
          );
        } finally {
          key.fill(0);
        }
      }
      await tx.query('UPDATE master_key_check SET master_key_id = $1, sealed = $2, updated_at = now() WHERE id = 1', [
        next.keyId,
        seal(next.key, checkPlaintext, checkAad),
      ]);
      return keys.length;
    });
    this.#master = next;
    return { dataKeys: count };
  }

  /** Decrypts the rows' secret values (plain ones are taken as they are), by name. */
  #decrypt(ws: string, rows: SealedRow[]): Map<string, string> {
    const keys = new Map<number, Buffer>();
    const values = new Map<string, string>();
    try {
      for (const row of rows) {
        if (!row.secret) {
          values.set(row.name, row.plain_value ?? '');
          continue;
        }
        if (
          row.sealed_value === null ||
          row.key_version === null ||
          row.wrapped === null ||
          row.master_key_id === null
        ) {
          throw new SecretUnreadableError(`secret ${row.name} of workspace ${ws}`);
        }
        let key = keys.get(row.key_version);
        if (key === undefined) {
          key = this.#unwrap(ws, { version: row.key_version, wrapped: row.wrapped, master_key_id: row.master_key_id });
          keys.set(row.key_version, key);
        }
        let plaintext: Buffer;
        try {
          plaintext = open(key, row.sealed_value, valueAad(ws, row.name));
        } catch {
          throw new SecretUnreadableError(`secret ${row.name} of workspace ${ws}`);
        }
        values.set(row.name, plaintext.toString('utf8'));
        plaintext.fill(0);
      }
      return values;
    } finally {
      for (const key of keys.values()) key.fill(0);
    }
  }

  /** A data key in clear. The caller zeroes it when done. */
  #unwrap(ws: string, row: { version: number; wrapped: Uint8Array; master_key_id: string }): Buffer {
    try {
      return open(this.#master.key, row.wrapped, keyAad(ws, row.version));
    } catch {
      // Wrapped under another master key (rotated by another instance): refuse loudly.
      if (row.master_key_id !== this.#master.keyId)
        throw new WrongMasterKeyError(row.master_key_id, this.#master.keyId);
      throw new SecretUnreadableError(`data key ${row.version} of workspace ${ws}`);
    }
  }

  /** The workspace's active data key, made on its first secret. Needs the workspace lock. */
  async #activeDataKey(tx: Queryable, ws: string): Promise<DataKey> {
    const [row] = await tx.query<Row<'data_keys', 'version' | 'wrapped' | 'master_key_id'>>(
      'SELECT version, wrapped, master_key_id FROM data_keys WHERE workspace_id = $1 AND active',
      [ws],
    );
    if (row !== undefined) return { key: this.#unwrap(ws, row), version: row.version };
    return this.#newDataKey(tx, ws);
  }

  /** A fresh data key, wrapped and stored as the workspace's next version. Needs the workspace lock. */
  async #newDataKey(tx: Queryable, ws: string): Promise<DataKey> {
    // Never wrap under a master key that a rotation has replaced; the share lock holds one off meanwhile.
    const [check] = await tx.query<Row<'master_key_check', 'master_key_id'>>(
      'SELECT master_key_id FROM master_key_check WHERE id = 1 FOR SHARE',
    );
    if (check === undefined) throw new Error('the master key check record is missing');
    if (check.master_key_id !== this.#master.keyId)
      throw new WrongMasterKeyError(check.master_key_id, this.#master.keyId);
    const [latest] = await tx.query<{ version: number }>(
      'SELECT coalesce(max(version), 0) AS version FROM data_keys WHERE workspace_id = $1',
      [ws],
    );
    const version = (latest?.version ?? 0) + 1;
    const key = randomBytes(keyLength);
    await tx.query(
      'INSERT INTO data_keys (workspace_id, version, wrapped, master_key_id, active) VALUES ($1, $2, $3, $4, true)',
      [ws, version, seal(this.#master.key, key, keyAad(ws, version)), this.#master.keyId],
    );
    return { key, version };
  }
}

type CheckRow = Row<'master_key_check', 'master_key_id' | 'sealed'>;

async function readCheck(db: Queryable): Promise<CheckRow | undefined> {
  const [row] = await db.query<CheckRow>('SELECT master_key_id, sealed FROM master_key_check WHERE id = 1');
  return row;
}

function verifyCheck(master: MasterKey, check: CheckRow): void {
  try {
    if (!open(master.key, check.sealed, checkAad).equals(checkPlaintext)) throw new Error('unexpected check value');
  } catch {
    throw new WrongMasterKeyError(check.master_key_id, master.keyId);
  }
}

async function lockWorkspace(tx: Queryable, ws: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [workspaceLockSpace, ws]);
}

/** One statement, so the rows and the data keys they name are read from one snapshot. */
function sealedRowsQuery(secretsOnly: boolean): string {
  return `SELECT v.name, v.secret, v.plain_value, v.sealed_value, v.key_version, k.wrapped, k.master_key_id
    FROM variables v
    LEFT JOIN data_keys k ON k.workspace_id = v.workspace_id AND k.version = v.key_version
    WHERE v.workspace_id = $1${secretsOnly ? ' AND v.secret' : ''}
    ORDER BY v.name COLLATE "C"`;
}
