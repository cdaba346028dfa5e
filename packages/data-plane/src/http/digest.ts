import { digestOfHeader, ErrorCode } from '@sovereign/contract';
import { BadRequestProblem } from '@sovereign/server-kit/http';
import type { FastifyRequest } from 'fastify';

/**
 * Uploads that carry their bytes' digest (`Digest: sha-256=<base64>`, as this data plane's
 * downloads send it) have them checked: a copy from another data plane through a client (a
 * workspace's move) arrives whole and unchanged, or is refused with nothing stored.
 */

/** An upload whose bytes are not those its Digest header announced: damaged or cut on the way. */
export class DigestMismatchProblem extends BadRequestProblem {
  constructor(what: string, expected: string, received: string) {
    super(
      ErrorCode.digestMismatch,
      `The ${what} received has digest ${received}, not the ${expected} its Digest header announced: nothing was stored.`,
      { errors: [{ path: '.', message: `has digest ${received}` }] },
    );
  }
}

/** A Digest header that names no SHA-256, refused before the body is read. */
export class DigestHeaderInvalidProblem extends BadRequestProblem {
  constructor() {
    super(ErrorCode.validationFailed, 'The Digest header must be sha-256=<the base64 of the bytes’ SHA-256>.', {
      errors: [{ path: 'headers.digest', message: 'must be sha-256=<base64>' }],
    });
  }
}

/** The `sha256:<hex>` a request's Digest header announces; undefined without one; refused when it names none. */
export function announcedDigest(request: FastifyRequest): string | undefined {
  const header = request.headers.digest;
  if (header === undefined) return undefined;
  const digest = digestOfHeader(String(header));
  if (digest === undefined) throw new DigestHeaderInvalidProblem();
  return digest;
}
