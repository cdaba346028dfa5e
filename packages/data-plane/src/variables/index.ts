export {
  MasterKeyFileInsecureError,
  MasterKeyInvalidError,
  MasterKeyMissingError,
  SecretUnreadableError,
  VariableInvalidProblem,
  VariableNameReservedProblem,
  VariableNotFoundProblem,
  WrongMasterKeyError,
} from './errors.ts';
export {
  type LoadedMasterKey,
  loadMasterKey,
  type MasterKey,
  type MasterKeyOptions,
  masterKeyFrom,
  parseKey,
} from './master-key.ts';
export { checkVariableName, reservedNames, reservedPrefix, type VariableListing, Variables } from './store.ts';
