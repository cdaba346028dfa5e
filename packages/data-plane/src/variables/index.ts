export {
  MasterKeyFileInsecureError,
  MasterKeyInvalidError,
  MasterKeyMissingError,
  VariableNameReservedProblem,
  VariableNotFoundProblem,
  WrongMasterKeyError,
} from './errors.ts';
export { loadMasterKey, type MasterKey, masterKeyFrom, parseKey } from './master-key.ts';
export { type VariableListing, Variables } from './store.ts';
