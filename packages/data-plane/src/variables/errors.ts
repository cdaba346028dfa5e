import { ErrorCode } from '@sovereign/contract';
import { BadRequestProblem, NotFoundProblem } from '@sovereign/server-kit/http';

// Startup errors are plain Errors: they stop the process with their message and are
// never an HTTP answer. None of them ever carries key material, only key ids.

/** No master key is configured, outside dev mode: the data plane refuses to start. */
export class MasterKeyMissingError extends Error {
  constructor() {
    super(
      'the data plane refuses to start without a master key: set SOV_MASTER_KEY (32 random bytes as base64 or 64 hex digits, e.g. `openssl rand -base64 32`) or SOV_MASTER_KEY_FILE (a file holding one, mode 0600, owned by the user running the data plane)',
    );
    this.name = 'MasterKeyMissingError';
  }
}

/** The key is malformed (not 32 bytes, not base64 or hex) or its file cannot be read. */
export class MasterKeyInvalidError extends Error {
  constructor(detail: string) {
    super(`the master key is unusable: ${detail}`);
    this.name = 'MasterKeyInvalidError';
  }
}

/** The key file is not a private regular file of this user: refuse it rather than trust it. */
export class MasterKeyFileInsecureError extends Error {
  readonly path: string;

  constructor(path: string, problem: string, fix: string) {
    super(
      `the master key file ${path} ${problem}; it must be a regular file of mode 0600 (or 0400) owned by the user running the data plane. Fix: ${fix}`,
    );
    this.name = 'MasterKeyFileInsecureError';
    this.path = path;
  }
}

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
