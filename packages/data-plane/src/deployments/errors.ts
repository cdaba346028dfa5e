import { ErrorCode } from '@sovereign/contract';
import { BadRequestProblem, HttpProblem, NotFoundProblem } from '@sovereign/server-kit/http';

/** One thing wrong with an upload: where (an entry's path, or a manifest field) and what. */
export interface Finding {
  path: string;
  message: string;
}

/**
 * A refusal is listed whole up to this many findings (a hostile archive can hold
 * thousands); the problem document says how many more there were in `omitted`.
 */
export const maxFindings = 50;

/**
 * Refusals of an upload's content are 400s, not 422s: the body itself is malformed or
 * unsafe, and every one of them carries `errors: [{path, message}]` listing what to fix.
 */
class UploadProblem extends BadRequestProblem {
  readonly errors: Finding[];

  constructor(code: ErrorCode, detail: string, errors: Finding[], omitted = 0) {
    const listed = errors.slice(0, maxFindings);
    const more = omitted + errors.length - listed.length;
    super(code, detail, more > 0 ? { errors: listed, omitted: more } : { errors: listed });
    this.errors = listed;
  }
}

export class BundleTooLargeProblem extends HttpProblem {
  constructor(maxBytes: number) {
    super(413, ErrorCode.bundleTooLarge, `The bundle is larger than this data plane accepts (${maxBytes} bytes).`, {
      maxBytes,
      errors: [{ path: '.', message: `is larger than ${maxBytes} bytes` }],
    });
  }
}

/** A body sent as something else than a bundle (JSON, a form...): refused before any of it is read. */
export class BundleMediaTypeProblem extends HttpProblem {
  constructor(accepted: readonly string[]) {
    super(
      415,
      ErrorCode.unsupportedMediaType,
      'Send the bundle as a gzipped tar, with Content-Type application/gzip.',
      {
        accepted,
      },
    );
  }
}

/** Not a gzipped tar, a damaged one, or one past the entry or unpacked-size limits. */
export class BundleInvalidProblem extends UploadProblem {
  constructor(detail: string, errors: Finding[]) {
    super(ErrorCode.bundleInvalid, detail, errors);
  }
}

/**
 * A bundle with unsafe entries: the code names the worst kind found (paths out of the
 * root, then escaping links, then special files), and `errors` lists every offending
 * entry of every kind.
 */
export class BundleUnsafePathProblem extends UploadProblem {
  constructor(errors: Finding[], omitted = 0) {
    super(ErrorCode.bundleUnsafePath, 'The bundle has entries outside its root.', errors, omitted);
  }
}

export class BundleLinkEscapeProblem extends UploadProblem {
  constructor(errors: Finding[], omitted = 0) {
    super(ErrorCode.bundleLinkEscape, 'The bundle has links that point outside it.', errors, omitted);
  }
}

export class BundleSpecialFileProblem extends UploadProblem {
  constructor(errors: Finding[], omitted = 0) {
    super(
      ErrorCode.bundleSpecialFile,
      'The bundle has entries that are not files, directories or links.',
      errors,
      omitted,
    );
  }
}

export class ManifestMissingProblem extends UploadProblem {
  constructor(message = 'is missing') {
    super(ErrorCode.manifestMissing, 'The bundle has no sovereign.yaml file at its root.', [
      { path: 'sovereign.yaml', message },
    ]);
  }
}

export class ManifestInvalidProblem extends UploadProblem {
  constructor(errors: Finding[]) {
    const listed = errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`);
    const rest = errors.length > listed.length ? ` (and ${errors.length - listed.length} more)` : '';
    super(ErrorCode.manifestInvalid, `sovereign.yaml is invalid: ${listed.join('; ')}${rest}.`, errors);
  }
}

export class DeploymentNotFoundProblem extends NotFoundProblem {
  constructor() {
    super(ErrorCode.deploymentNotFound, 'The workspace has no such deployment.');
  }
}
