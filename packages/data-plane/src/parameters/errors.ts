import { ErrorCode, type ParameterProblem } from '@sovereign/contract';
import { HttpProblem, NotFoundProblem } from '@sovereign/server-kit/http';

/** Values that do not match the job's declaration: each parameter with what is wrong (never its value). */
export class ParametersInvalidProblem extends HttpProblem {
  constructor(job: string, problems: ParameterProblem[]) {
    super(
      422,
      ErrorCode.parametersInvalid,
      `The parameters do not match what the job ${job} declares: ${problems.map((p) => `${p.name} ${p.message}`).join('; ')}.`,
      { problems },
    );
  }
}

/** A job of no current deployment of the workspace: parameters are checked against its declaration. */
export class ParametersJobNotFoundProblem extends NotFoundProblem {
  constructor() {
    super(ErrorCode.jobNotFound, 'The workspace’s current deployment has no job of that name.');
  }
}

export class ParametersNotFoundProblem extends NotFoundProblem {
  constructor() {
    super(ErrorCode.parametersNotFound, 'No such parameters in this workspace.');
  }
}
