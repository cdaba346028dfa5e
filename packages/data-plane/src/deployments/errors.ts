import { ErrorCode } from '@sovereign/protocol';
import { BadRequestProblem, HttpProblem, NotFoundProblem } from '@sovereign/protocol/http';

export interface Finding {
  path: string;
  message: string;
}

export class BundleTooLargeProblem extends HttpProblem {
  constructor(maxBytes: number) {
    super(413, ErrorCode.bundleTooLarge, `The bundle is larger than this data plane accepts (${maxBytes} bytes).`, {
      maxBytes,
    });
  }
}

export class BundleInvalidProblem extends BadRequestProblem {
  constructor(detail: string, errors: Finding[] = []) {
    super(ErrorCode.bundleInvalid, detail, { errors });
  }
}

/** Entries whose path is absolute or climbs out with `..`. */
export class BundleUnsafePathProblem extends BadRequestProblem {
  constructor(errors: Finding[]) {
    super(ErrorCode.bundleUnsafePath, 'The bundle has entries outside its root.', { errors });
  }
}

/** Links whose target resolves outside the bundle. */
export class BundleLinkEscapeProblem extends BadRequestProblem {
  constructor(errors: Finding[]) {
    super(ErrorCode.bundleLinkEscape, 'The bundle has links that point outside it.', { errors });
  }
}

/** Devices, FIFOs and other entries that are not files, directories or links. */
export class BundleSpecialFileProblem extends BadRequestProblem {
  constructor(errors: Finding[]) {
    super(ErrorCode.bundleSpecialFile, 'The bundle has entries that are not files, directories or links.', { errors });
  }
}

export class ManifestMissingProblem extends BadRequestProblem {
  constructor() {
    super(ErrorCode.manifestMissing, 'The bundle has no sovereign.yaml at its root.', {
      errors: [{ path: 'sovereign.yaml', message: 'is missing' }],
    });
  }
}

export class ManifestInvalidProblem extends BadRequestProblem {
  constructor(errors: Finding[]) {
    super(
      ErrorCode.manifestInvalid,
      `sovereign.yaml is invalid: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}.`,
      {
        errors,
      },
    );
  }
}

export class DeploymentNotFoundProblem extends NotFoundProblem {
  constructor() {
    super(ErrorCode.deploymentNotFound, 'The workspace has no such deployment.');
  }
}
