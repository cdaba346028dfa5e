import {
  type LoadedMasterKey,
  type MasterKey,
  masterKeyFrom,
  parseMasterKey,
  loadMasterKey as readServiceMasterKey,
} from '@sovereign/server-kit/keys';

export type { LoadedMasterKey, MasterKey };
export { masterKeyFrom };

/**
 * The data plane's master key is read as the control plane's is (server-kit/keys): one
 * pattern for operators, one fingerprint per key wherever it is shown.
 */
export interface MasterKeyOptions {
  /** SOV_MASTER_KEY: 32 bytes as base64 (standard or url-safe) or 64 hex digits. */
  key?: string | undefined;
  /** SOV_MASTER_KEY_FILE: a file holding the key in one of those forms. */
  file?: string | undefined;
  dev: boolean;
  /** Dev mode only: where a key is generated on first start and read afterwards. */
  devKeyPath: string;
}

/** 32 bytes written as 64 hex digits or as base64 (padding optional). Errors never echo the text. */
export function parseKey(text: string): Buffer {
  return parseMasterKey(text);
}

/**
 * The master key that wraps every data key, from the first of: SOV_MASTER_KEY,
 * SOV_MASTER_KEY_FILE, and in dev mode only a key generated once into `devKeyPath`.
 * Outside dev mode with neither set, the data plane refuses to start.
 */
export function loadMasterKey(options: MasterKeyOptions): Promise<LoadedMasterKey> {
  return readServiceMasterKey(
    { variable: 'SOV_MASTER_KEY', key: options.key, file: options.file },
    {
      service: 'data plane',
      purpose: "it wraps the data keys that seal every workspace's secrets here",
      dev: options.dev,
      devKeyPath: options.devKeyPath,
    },
  );
}
