import { type LoadedMasterKey, loadMasterKey, MasterKeyInvalidError, readMasterKey } from '@sovereign/server-kit/keys';
import type { ControlPlaneConfig } from '../config.ts';

const service = 'control plane';

/**
 * The master keys the control plane holds: `current` seals every private signing key it
 * writes; `previous` (during a rotation) are only read, and what they sealed is sealed
 * again under `current` at start.
 */
export interface MasterKeyring {
  readonly current: LoadedMasterKey;
  readonly previous: readonly LoadedMasterKey[];
}

/**
 * SOV_MASTER_KEY / SOV_MASTER_KEY_FILE, and in dev mode a key generated once under
 * SOV_HOME, as the data plane reads its own; plus SOV_PREVIOUS_MASTER_KEY /
 * SOV_PREVIOUS_MASTER_KEY_FILE when set. Without a key outside dev mode: refuse to start.
 */
export async function loadMasterKeyring(config: Pick<ControlPlaneConfig, 'masterKey' | 'dev'>): Promise<MasterKeyring> {
  const { masterKey } = config;
  const current = await loadMasterKey(
    { variable: 'SOV_MASTER_KEY', key: masterKey.key, file: masterKey.file },
    {
      service,
      purpose:
        'it seals the private signing keys in the database (for development, SOV_DEV=true generates one under SOV_HOME)',
      dev: config.dev,
      devKeyPath: masterKey.devKeyPath,
    },
  );
  const previous = await readMasterKey(
    {
      variable: 'SOV_PREVIOUS_MASTER_KEY',
      key: masterKey.previousKey,
      file: masterKey.previousFile,
      label: 'the previous master key',
    },
    service,
  );
  if (previous?.keyId === current.keyId) {
    throw new MasterKeyInvalidError(
      `it is the current key (${current.keyId}); set it to the key being replaced, or unset it`,
      'the previous master key',
    );
  }
  return { current, previous: previous === undefined ? [] : [previous] };
}

/** The key of the ring with this id, if the control plane holds it. */
export function keyOf(ring: MasterKeyring, keyId: string): LoadedMasterKey | undefined {
  return [ring.current, ...ring.previous].find((key) => key.keyId === keyId);
}

export function keyIdsOf(ring: MasterKeyring): string[] {
  return [ring.current, ...ring.previous].map((key) => key.keyId);
}
