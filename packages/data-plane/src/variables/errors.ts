import { ErrorCode } from '@sovereign/contract';
import { BadRequestProblem, NotFoundProblem } from '@sovereign/server-kit/http';

// Startup errors are plain Errors: they stop the process with their message and are
// never an HTTP answer. None of them ever carries key material, only key ids.

// Read by the server kit, as the control plane's key is: its errors are the ones thrown.
export { MasterKeyFileInsecureError, MasterKeyInvalidError, MasterKeyMissingError } from '@sovereign/server-kit/keys';

/** The configured master key is not the one the secrets were sealed with: fail loudly. */
export class WrongMasterKeyError extends Error {
  readonly expectedKeyId: string;
  readonly givenKeyId: string;

  constructor(expected: string, given: string) {
    super(
      `the master key does not match the one this data plane's secrets were sealed with (key id ${expected} expected, ${given} given)`,
    );
    this.name = 'WrongMasterKeyError';
    this.expectedKeyId = expected;
    this.givenKeyId = given;
  }
}

/**
 * A stored secret or data key fails authentication under the right master key: it was
 * altered, or copied from another row. Never answered as garbage; an internal error.
 */
export class SecretUnreadableError extends Error {
  constructor(what: string) {
    super(`${what} cannot be decrypted: it was altered or moved from another place`);
    this.name = 'SecretUnreadableError';
  }
}

export class VariableNotFoundProblem extends NotFoundProblem {
  constructor(name: string) {
    super(ErrorCode.variableNotFound, `The workspace has no variable ${name}.`);
  }
}

export class VariableNameReservedProblem extends BadRequestProblem {
  constructor(name: string) {
    super(
      ErrorCode.variableNameReserved,
      `${name} is set by Sovereign for every run (SOV_* names, PATH, HOME, LANG, PORT); choose another name.`,
    );
  }
}

/** A name a process environment cannot hold, or a value with a NUL byte. */
export class VariableInvalidProblem extends BadRequestProblem {
  constructor(detail: string) {
    super(ErrorCode.validationFailed, detail);
  }
}
