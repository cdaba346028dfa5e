// Startup and signing errors: plain Errors that stop the control plane (or fail the one
// request that needed the key) with their message. They carry key ids, never keys.

/** A private key is sealed under a master key the control plane was not given: refuse, loudly. */
export class WrongMasterKeyError extends Error {
  readonly expectedKeyId: string;
  readonly givenKeyIds: string[];

  constructor(expected: string, given: string[]) {
    super(
      `the master key does not match the one the control plane's signing keys are sealed with (key id ${expected} expected, ${given.join(' and ')} given): start it with that key in SOV_MASTER_KEY, or in SOV_PREVIOUS_MASTER_KEY while rotating to a new one`,
    );
    this.name = 'WrongMasterKeyError';
    this.expectedKeyId = expected;
    this.givenKeyIds = given;
  }
}

/**
 * A sealed private key fails authentication under the master key it names: it was
 * altered, or copied from another row (its kid is authenticated with it).
 */
export class SigningKeyUnreadableError extends Error {
  readonly kid: string;

  constructor(kid: string, masterKeyId: string) {
    super(
      `the private signing key ${kid} (master key ${masterKeyId}) cannot be read: it was altered or moved from another row`,
    );
    this.name = 'SigningKeyUnreadableError';
    this.kid = kid;
  }
}
