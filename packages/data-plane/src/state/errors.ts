import { ErrorCode } from '@sovereign/contract';
import { ConflictProblem, NotFoundProblem } from '@sovereign/server-kit/http';

/** A job name no deployment of the workspace ever had: a typo saves no state for nothing. */
export class StateJobNotFoundProblem extends NotFoundProblem {
  constructor() {
    super(ErrorCode.jobNotFound, 'No deployment of this workspace has a job of that name.');
  }
}

/**
 * A job gone from the current deployment: its saved state can still be read (to carry a
 * cursor over to a renamed job), but not written, as no run of it will start from it.
 */
export class StateJobArchivedProblem extends ConflictProblem {
  constructor() {
    super(ErrorCode.jobArchived, 'The job is archived: it is no longer in the deployment, and its state is read-only.');
  }
}

export class StateNotFoundProblem extends NotFoundProblem {
  constructor() {
    super(ErrorCode.stateNotFound, 'The job has no saved state yet.');
  }
}
