import { ErrorCode } from '@sovereign/contract';
import { ConflictProblem, NotFoundProblem } from '@sovereign/server-kit/http';
import type { MoveRow } from './store.ts';
import { toMove } from './view.ts';

/**
 * A workspace moved (or being moved) to another region takes no new deployment, trigger
 * or write: the problem names where it went, so a client can go there.
 */
export class WorkspaceMovedProblem extends ConflictProblem {
  constructor(move: MoveRow, what = 'It takes no new deployment, run or write') {
    const where = `${move.to_name} in region ${move.to_region_name.toLowerCase()}`;
    super(
      ErrorCode.workspaceMoved,
      move.status === 'completed'
        ? `Workspace ${move.from_name} was moved to ${where}. ${what}: use ${move.to_name}.`
        : `Workspace ${move.from_name} is being moved to ${where}. ${what}; finish the move (sov workspace move ${move.from_name} --to ${move.to_region_name.toLowerCase()}) and use ${move.to_name}.`,
      { movedTo: toMove(move) },
    );
  }
}

export class MoveNotFoundProblem extends NotFoundProblem {
  constructor() {
    super(ErrorCode.moveNotFound, 'No move of this workspace was started: start one first.');
  }
}

export class MoveSameRegionProblem extends ConflictProblem {
  constructor(region: string) {
    super(ErrorCode.moveSameRegion, `The workspace is in region ${region} already: choose another region.`);
  }
}

/** The move cannot end yet; `reason` says what is missing, and running the move again picks up from there. */
export class MoveIncompleteProblem extends ConflictProblem {
  constructor(detail: string, extensions: Record<string, unknown> = {}) {
    super(ErrorCode.moveIncomplete, detail, extensions);
  }
}
