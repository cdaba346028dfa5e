// Startup errors are plain Errors: they stop a service with their message and are never
// an HTTP answer. None of them ever carries key material: only paths, sizes and key ids.

/** No master key is configured, outside dev mode: the service refuses to start. */
export class MasterKeyMissingError extends Error {
  constructor(service: string, variable: string, purpose: string) {
    super(
      `the ${service} refuses to start without a master key: set ${variable} (32 random bytes as base64 or 64 hex digits, e.g. \`openssl rand -base64 32\`) or ${variable}_FILE (a file holding one, mode 0600, owned by the user running the ${service}); ${purpose}`,
    );
    this.name = 'MasterKeyMissingError';
  }
}

/** The key is malformed (not 32 bytes, not base64 or hex) or its file cannot be read. */
export class MasterKeyInvalidError extends Error {
  constructor(detail: string, what = 'the master key') {
    super(`${what} is unusable: ${detail}`);
    this.name = 'MasterKeyInvalidError';
  }
}

/** The key file is not a private regular file of this user: refuse it rather than trust it. */
export class MasterKeyFileInsecureError extends Error {
  readonly path: string;

  constructor(path: string, problem: string, fix: string, service: string) {
    super(
      `the master key file ${path} ${problem}; it must be a regular file of mode 0600 (or 0400) owned by the user running the ${service}. Fix: ${fix}`,
    );
    this.name = 'MasterKeyFileInsecureError';
    this.path = path;
  }
}
