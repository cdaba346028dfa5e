import { readMasterKey } from '@sovereign/server-kit/keys';
import { openDatabase } from '@sovereign/server-kit/sql';
import { migrateControlPlane } from '../app.ts';
import type { ControlPlaneConfig } from '../config.ts';
import { SigningKeys } from './keys.ts';
import { loadMasterKeyring } from './master-keys.ts';

export const masterKeyUsage = `usage: sov-control-plane master-key id|rotate

  id       prints the fingerprint of the key in SOV_MASTER_KEY / SOV_MASTER_KEY_FILE
           (and of SOV_PREVIOUS_MASTER_KEY / SOV_PREVIOUS_MASTER_KEY_FILE when set)
  rotate   seals every private signing key again under the key in SOV_NEW_MASTER_KEY
           or SOV_NEW_MASTER_KEY_FILE, in one transaction; then restart every replica
           with the new key in SOV_MASTER_KEY (the old one no longer opens them)

Without downtime, restart the replicas one at a time with the new key in
SOV_MASTER_KEY and the old one in SOV_PREVIOUS_MASTER_KEY: each reads keys sealed
under either, and the first to start seals them all again under the new one.

Keys are read from the environment or a file, never from the command line, where
other users of the machine could read them.`;

/**
 * `sov-control-plane master-key ...`: works on the control plane's database directly,
 * as the data plane's command of the same name does on its own.
 */
export async function masterKeyCommand(
  action: string | undefined,
  config: ControlPlaneConfig,
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
): Promise<number> {
  if (action !== 'id' && action !== 'rotate') {
    print(masterKeyUsage);
    return 2;
  }
  const ring = await loadMasterKeyring(config);
  if (action === 'id') {
    print(`${ring.current.keyId}\t(from ${ring.current.source})`);
    for (const previous of ring.previous) print(`${previous.keyId}\t(from ${previous.source}, read only)`);
    return 0;
  }
  if (ring.current.source === 'dev key file') {
    print('a dev key is not rotated: give the control plane a real key in SOV_MASTER_KEY or SOV_MASTER_KEY_FILE');
    return 2;
  }
  if (!env.SOV_NEW_MASTER_KEY && !env.SOV_NEW_MASTER_KEY_FILE) {
    print(
      'no new key: set SOV_NEW_MASTER_KEY (32 random bytes as base64 or 64 hex digits, e.g. `openssl rand -base64 32`) or SOV_NEW_MASTER_KEY_FILE (a file holding one, mode 0600)',
    );
    return 2;
  }
  const next = await readMasterKey(
    {
      variable: 'SOV_NEW_MASTER_KEY',
      key: env.SOV_NEW_MASTER_KEY,
      file: env.SOV_NEW_MASTER_KEY_FILE,
      label: 'the new master key',
    },
    'control plane',
  );
  if (next === undefined) throw new Error('the new master key could not be read');
  if (next.keyId === ring.current.keyId) {
    print('the new key is the current key: nothing to do');
    return 2;
  }
  const db = await openDatabase(config.database);
  try {
    await migrateControlPlane(db);
    // The new key seals; the current and previous ones only open what they sealed.
    const keys = new SigningKeys(db, {
      current: next,
      previous: [ring.current, ...ring.previous].filter((key) => key.keyId !== next.keyId),
    });
    const report = await keys.open();
    print(
      `sealed ${report.resealed + report.sealedPlaintext} private signing key(s) again, from ${ring.current.keyId} to ${next.keyId}`,
    );
    print('restart every replica of the control plane with the new key in SOV_MASTER_KEY now');
    return 0;
  } finally {
    await db.close();
  }
}
