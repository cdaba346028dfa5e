import { openDatabase } from '@sovereign/server-kit/sql';
import type { StorageConfig } from '../config.ts';
import { migrateDataPlane } from '../storage/migrations.ts';
import { loadMasterKey } from './master-key.ts';
import { Variables } from './store.ts';

export const masterKeyUsage = `usage: sov-data-plane master-key id|rotate

  id       prints the fingerprint of the key in SOV_MASTER_KEY / SOV_MASTER_KEY_FILE
  rotate   re-wraps every data key under the key in SOV_NEW_MASTER_KEY or
           SOV_NEW_MASTER_KEY_FILE, in one transaction; then restart every instance
           of this data plane with the new key (the old one no longer opens it)

Keys are read from the environment or a file, never from the command line, where
other users of the machine could read them.`;

/**
 * `sov-data-plane master-key ...`: works on the data plane's database directly, as the
 * control plane's `keys` command does, for a maintenance window or a job.
 */
export async function masterKeyCommand(
  action: string | undefined,
  storage: StorageConfig,
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
): Promise<number> {
  if (action !== 'id' && action !== 'rotate') {
    print(masterKeyUsage);
    return 2;
  }
  const current = await loadMasterKey({
    ...storage.masterKey,
    dev: storage.dev,
    devKeyPath: `${storage.dataDir}/master.key`,
  });
  if (action === 'id') {
    print(`${current.keyId}\t(from ${current.source})`);
    return 0;
  }
  if (current.source === 'dev key file') {
    print('a dev key is not rotated: give the data plane a real key in SOV_MASTER_KEY or SOV_MASTER_KEY_FILE');
    return 2;
  }
  if (!env.SOV_NEW_MASTER_KEY && !env.SOV_NEW_MASTER_KEY_FILE) {
    print(
      'no new key: set SOV_NEW_MASTER_KEY (32 random bytes as base64 or 64 hex digits, e.g. `openssl rand -base64 32`) or SOV_NEW_MASTER_KEY_FILE (a file holding one, mode 0600)',
    );
    return 2;
  }
  const next = await loadMasterKey({
    key: env.SOV_NEW_MASTER_KEY,
    file: env.SOV_NEW_MASTER_KEY_FILE,
    dev: false,
    devKeyPath: '',
  }).catch((error: unknown) => {
    throw new Error(`the new key: ${error instanceof Error ? error.message : String(error)}`);
  });
  if (next.keyId === current.keyId) {
    print('the new key is the current key: nothing to do');
    return 2;
  }
  const db = await openDatabase(storage.database);
  try {
    await migrateDataPlane(db);
    const variables = await Variables.open(db, current);
    const { dataKeys } = await variables.rotateMasterKey(next);
    print(`rotated ${dataKeys} data key(s) from ${current.keyId} to ${next.keyId}`);
    print('restart every instance of this data plane with the new key now');
    return 0;
  } finally {
    await db.close();
  }
}
