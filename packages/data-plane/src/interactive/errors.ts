import { ErrorCode } from '@sovereign/contract';
import {
  ConflictProblem,
  ForbiddenProblem,
  HttpProblem,
  NotFoundProblem,
  UnauthorizedProblem,
} from '@sovereign/server-kit/http';

export class RunNotHereProblem extends NotFoundProblem {
  constructor() {
    super(ErrorCode.runNotFound, 'No such run on this data plane.');
  }
}

export class RunNotInteractiveProblem extends ConflictProblem {
  constructor() {
    super(ErrorCode.runNotInteractive, 'That run is of a batch job: only interactive jobs are served here.');
  }
}

/** The run has ended (409), or is still starting (503: retry shortly). */
export class InteractiveNotRunningProblem extends HttpProblem {
  constructor(status: string) {
    const starting = status === 'claimed' || status === 'starting';
    super(
      starting ? 503 : 409,
      ErrorCode.interactiveNotRunning,
      starting
        ? 'The app is starting: its port does not answer yet. Retry in a moment.'
        : `The run is ${status}: its app is not served any more. Trigger the job again.`,
      // `status` is the HTTP status in a problem document: the run's is `runStatus`.
      { runStatus: starting ? 'starting' : status, ...(starting ? { retryAfterSeconds: 1 } : {}) },
    );
  }
}

export class InteractiveOnOtherInstanceProblem extends HttpProblem {
  constructor() {
    super(
      503,
      ErrorCode.interactiveOnOtherInstance,
      'The run is served by another instance of this data plane; this one cannot reach it.',
    );
  }
}

export class InteractiveUnreachableProblem extends HttpProblem {
  constructor() {
    super(502, ErrorCode.interactiveUnreachable, 'The app did not answer on its port.');
  }
}

export class SessionInvalidProblem extends UnauthorizedProblem {
  constructor() {
    super(
      ErrorCode.interactiveSessionInvalid,
      'The session cookie is not valid for this app (or has expired): open the app again from the dashboard or with sov.',
    );
  }
}

export class TicketInvalidProblem extends UnauthorizedProblem {
  constructor() {
    super(
      ErrorCode.interactiveTicketInvalid,
      'This launch link is used, expired, for another app, or was opened in another browser than the one that asked for it: open the app again.',
    );
  }
}

/** A request another origin's page sent with the app's cookie: only a link (a top-level GET) may come from elsewhere. */
export class CrossOriginProblem extends ForbiddenProblem {
  constructor() {
    super(
      ErrorCode.interactiveCrossOrigin,
      'This app answers its own pages only: a request from another origin with its session cookie is refused.',
    );
  }
}
