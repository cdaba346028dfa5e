import { randomBytes } from 'node:crypto';
import type { Database, Queryable } from '@sovereign/protocol/sql';
import { open, seal } from './crypto.ts';
import { VariableNameReservedProblem, VariableNotFoundProblem, WrongMasterKeyError } from './errors.ts';
import type { MasterKey } from './master-key.ts';

/** Names every run gets from Sovereign itself; a variable may not shadow them. */
const reserved = new Set(['PATH', 'HOME', 'PORT', 'LANG']);
const checkPlaintext = Buffer.from('sovereign master key check v1');

export interface VariableListing {
  name: string;
  secret: boolean;
  /** Plain variables only: a secret's value is never returned. */
  value?: string;
  updatedAt: string;
}

interface VariableRow {
  name: string;
  secret: boolean;
  plain_value: string | null;
  sealed_value: Buffer | Uint8Array | null;
  key_version: number | null;
  updated_at: Date;
}

const valueAad = (workspaceId: string, name: string) => `variable:${workspaceId}:${name}`;
const keyAad = (workspaceId: string, version: number) => `data-key:${workspaceId}:${version}`;
const buf = (value: Buffer | Uint8Array) => (Buffer.isBuffer(value) ? value : Buffer.from(value));

/**
 * Workspace variables and secrets (R7). Secrets are sealed with AES-256-GCM under a
 * per-workspace data key; data keys are stored only wrapped by the master key. Each
 * use unwraps the data key anew: nothing decrypted outlives the call that needed it.
 */
export class Variables {
  readonly #db: Database;
  #master: MasterKey;

  private constructor(db: Database, master: MasterKey) {
    this.#db = db;
    this.#master = master;
  }

  /** Proves the master key against the check record (made on first start), or throws WrongMasterKeyError. */
  static async open(db: Database, master: MasterKey): Promise<Variables> {
    const [check] = await db.query<{ master_key_id: string; sealed: Buffer | Uint8Array }>(
      'SELECT master_key_id, sealed FROM master_key_check WHERE id = 1',
    );
    if (check === undefined) {
      await db.query(
        'INSERT INTO master_key_check (id, master_key_id, sealed) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING',
        [master.keyId, seal(master.key, checkPlaintext, 'master-key-check')],
      );
    } else {
      try {
        open(master.key, buf(check.sealed), 'master-key-check');
      } catch {
        throw new WrongMasterKeyError(check.master_key_id, master.keyId);
      }
    }
    return new Variables(db, master);
  }

  static validateName(name: string): void {
    if (name.startsWith('SOV_') || reserved.has(name)) throw new VariableNameReservedProblem(name);
  }

  async #dataKey(tx: Queryable, workspaceId: string, version?: number): Promise<{ key: Buffer; version: number }> {
    const [row] = await tx.query<{ version: number; wrapped: Buffer | Uint8Array }>(
      version === undefined
        ? 'SELECT version, wrapped FROM data_keys WHERE workspace_id = $1 AND active'
        : 'SELECT version, wrapped FROM data_keys WHERE workspace_id = $1 AND version = $2',
      version === undefined ? [workspaceId] : [workspaceId, version],
    );
    if (row !== undefined) {
      return { key: open(this.#master.key, buf(row.wrapped), keyAad(workspaceId, row.version)), version: row.version };
    }
    if (version !== undefined) throw new Error(`data key ${version} of workspace ${workspaceId} is missing`);
    return this.#newDataKey(tx, workspaceId, 1);
  }

  async #newDataKey(tx: Queryable, workspaceId: string, version: number): Promise<{ key: Buffer; version: number }> {
    const key = randomBytes(32);
    await tx.query('INSERT INTO data_keys (workspace_id, version, wrapped, master_key_id) VALUES ($1, $2, $3, $4)', [
      workspaceId,
      version,
      seal(this.#master.key, key, keyAad(workspaceId, version)),
      this.#master.keyId,
    ]);
    return { key, version };
  }

  async set(workspaceId: string, name: string, value: string, secret: boolean): Promise<void> {
    Variables.validateName(name);
    await this.#db.transaction(async (tx) => {
      let sealed: Buffer | null = null;
      let version: number | null = null;
      if (secret) {
        const dataKey = await this.#dataKey(tx, workspaceId);
        sealed = seal(dataKey.key, Buffer.from(value), valueAad(workspaceId, name));
        version = dataKey.version;
      }
      await tx.query(
        `INSERT INTO variables (workspace_id, name, secret, plain_value, sealed_value, key_version)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (workspace_id, name) DO UPDATE SET secret = EXCLUDED.secret, plain_value = EXCLUDED.plain_value,
           sealed_value = EXCLUDED.sealed_value, key_version = EXCLUDED.key_version, updated_at = now()`,
        [workspaceId, name, secret, secret ? null : value, sealed, version],
      );
    });
  }

  async remove(workspaceId: string, name: string): Promise<void> {
    const rows = await this.#db.query('DELETE FROM variables WHERE workspace_id = $1 AND name = $2 RETURNING name', [
      workspaceId,
      name,
    ]);
    if (rows.length === 0) throw new VariableNotFoundProblem();
  }

  async list(workspaceId: string): Promise<VariableListing[]> {
    const rows = await this.#db.query<VariableRow>(
      'SELECT name, secret, plain_value, updated_at FROM variables WHERE workspace_id = $1 ORDER BY name',
      [workspaceId],
    );
    return rows.map((r) => ({
      name: r.name,
      secret: r.secret,
      ...(r.secret || r.plain_value === null ? {} : { value: r.plain_value }),
      updatedAt: r.updated_at.toISOString(),
    }));
  }

  /** Every value, secrets decrypted: for a run's environment, never for the API. */
  async resolve(workspaceId: string): Promise<Record<string, string>> {
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<VariableRow>(
        'SELECT name, secret, plain_value, sealed_value, key_version FROM variables WHERE workspace_id = $1 ORDER BY name',
        [workspaceId],
      );
      const keys = new Map<number, Buffer>();
      const out: Record<string, string> = {};
      for (const row of rows) {
        if (!row.secret) {
          out[row.name] = row.plain_value ?? '';
          continue;
        }
        const version = row.key_version ?? 1;
        let key = keys.get(version);
        if (key === undefined) {
          key = (await this.#dataKey(tx, workspaceId, version)).key;
          keys.set(version, key);
        }
        out[row.name] = open(key, buf(row.sealed_value ?? Buffer.alloc(0)), valueAad(workspaceId, row.name)).toString();
      }
      return out;
    });
  }

  /** The secret values of a workspace, for masking its runs' logs. */
  async secretValues(workspaceId: string): Promise<string[]> {
    const secretNames = new Set((await this.list(workspaceId)).filter((v) => v.secret).map((v) => v.name));
    const all = await this.resolve(workspaceId);
    return Object.entries(all)
      .filter(([name]) => secretNames.has(name))
      .map(([, value]) => value);
  }

  /** A new data key for the workspace; its secrets are sealed again under it, in one transaction. */
  async rotateDataKey(workspaceId: string): Promise<number> {
    return this.#db.transaction(async (tx) => {
      const values = await tx.query<VariableRow>(
        'SELECT name, sealed_value, key_version FROM variables WHERE workspace_id = $1 AND secret FOR UPDATE',
        [workspaceId],
      );
      const [latest] = await tx.query<{ v: number }>(
        'SELECT coalesce(max(version), 0) AS v FROM data_keys WHERE workspace_id = $1',
        [workspaceId],
      );
      const opened: Array<[string, Buffer]> = [];
      for (const row of values) {
        const old = await this.#dataKey(tx, workspaceId, row.key_version ?? 1);
        opened.push([
          row.name,
          open(old.key, buf(row.sealed_value ?? Buffer.alloc(0)), valueAad(workspaceId, row.name)),
        ]);
      }
      await tx.query('UPDATE data_keys SET active = false WHERE workspace_id = $1', [workspaceId]);
      const next = await this.#newDataKey(tx, workspaceId, (latest?.v ?? 0) + 1);
      for (const [name, plaintext] of opened) {
        await tx.query(
          'UPDATE variables SET sealed_value = $3, key_version = $4, updated_at = now() WHERE workspace_id = $1 AND name = $2',
          [workspaceId, name, seal(next.key, plaintext, valueAad(workspaceId, name)), next.version],
        );
      }
      return next.version;
    });
  }

  /** Wraps every data key and the check record under a new master key, in one transaction. */
  async rotateMasterKey(next: MasterKey): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const keys = await tx.query<{ workspace_id: string; version: number; wrapped: Buffer | Uint8Array }>(
        'SELECT workspace_id, version, wrapped FROM data_keys FOR UPDATE',
      );
      for (const row of keys) {
        const aad = keyAad(row.workspace_id, row.version);
        const key = open(this.#master.key, buf(row.wrapped), aad);
        await tx.query(
          'UPDATE data_keys SET wrapped = $3, master_key_id = $4 WHERE workspace_id = $1 AND version = $2',
          [row.workspace_id, row.version, seal(next.key, key, aad), next.keyId],
        );
      }
      await tx.query('UPDATE master_key_check SET master_key_id = $1, sealed = $2, updated_at = now() WHERE id = 1', [
        next.keyId,
        seal(next.key, checkPlaintext, 'master-key-check'),
      ]);
    });
    this.#master = next;
  }
}
