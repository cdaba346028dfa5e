import { ErrorCode } from '@sovereign/protocol';
import { BadRequestProblem, NotFoundProblem } from '@sovereign/protocol/http';

/** No master key is configured, outside dev mode: the data plane refuses to start. */
export class MasterKeyMissingError extends Error {
  constructor() {
    super(
      'the data plane refuses to start without a master key: set SOV_MASTER_KEY (32 bytes, base64 or hex) or SOV_MASTER_KEY_FILE (a file of mode 0600)',
    );
    this.name = 'MasterKeyMissingError';
  }
}

export class MasterKeyInvalidError extends Error {
  constructor(detail: string) {
    super(`the master key is unusable: ${detail}`);
    this.name = 'MasterKeyInvalidError';
  }
}

/** The key file can be read by others: refuse it rather than trust it. */
export class MasterKeyFileInsecureError extends Error {
  constructor(path: string, mode: number) {
    super(`the master key file ${path} has mode ${(mode & 0o777).toString(8)}; run: chmod 600 ${path}`);
    this.name = 'MasterKeyFileInsecureError';
  }
}

/** The configured master key is not the one the secrets were sealed with: fail loudly. */
export class WrongMasterKeyError extends Error {
  constructor(expected: string, given: string) {
    super(
      `the master key does not match the one this data plane's secrets were sealed with (key id ${expected} expected, ${given} given)`,
    );
    this.name = 'WrongMasterKeyError';
  }
}

export class VariableNotFoundProblem extends NotFoundProblem {
  constructor() {
    super(ErrorCode.variableNotFound, 'The workspace has no such variable.');
  }
}

export class VariableNameReservedProblem extends BadRequestProblem {
  constructor(name: string) {
    super(
      ErrorCode.variableNameReserved,
      `${name} is set by Sovereign for every run (SOV_* names, PATH, HOME, PORT); choose another name.`,
    );
  }
}
