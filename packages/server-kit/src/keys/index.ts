export { MasterKeyFileInsecureError, MasterKeyInvalidError, MasterKeyMissingError } from './errors.ts';
export {
  type LoadedMasterKey,
  loadMasterKey,
  type MasterKey,
  type MasterKeyOptions,
  type MasterKeySource,
  masterKeyFrom,
  parseMasterKey,
  readMasterKey,
} from './master-key.ts';
export { masterKeyLength, open, seal } from './seal.ts';
