import { type ErrorCode, type ProblemDocument, problemType } from '@sovereign/contract';

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * A refusal the client is meant to see. Thrown anywhere in a handler, it becomes an
 * `application/problem+json` answer with its status and stable code.
 */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly extensions: Record<string, unknown>;

  constructor(status: number, code: ErrorCode, detail: string, extensions: Record<string, unknown> = {}) {
    super(detail);
    this.name = 'HttpProblem';
    this.status = status;
    this.code = code;
    this.extensions = extensions;
  }

  toDocument(): ProblemDocument {
    return {
      type: problemType(this.code),
      title: titles[this.status] ?? 'Error',
      status: this.status,
      detail: this.message,
      code: this.code,
      ...this.extensions,
    };
  }
}

export class BadRequestProblem extends HttpProblem {
  constructor(code: ErrorCode, detail: string, extensions?: Record<string, unknown>) {
    super(400, code, detail, extensions);
  }
}

export class UnauthorizedProblem extends HttpProblem {
  constructor(code: ErrorCode, detail: string) {
    super(401, code, detail);
  }
}

export class ForbiddenProblem extends HttpProblem {
  constructor(code: ErrorCode, detail: string, extensions?: Record<string, unknown>) {
    super(403, code, detail, extensions);
  }
}

export class NotFoundProblem extends HttpProblem {
  constructor(code: ErrorCode, detail: string) {
    super(404, code, detail);
  }
}

export class ConflictProblem extends HttpProblem {
  constructor(code: ErrorCode, detail: string, extensions?: Record<string, unknown>) {
    super(409, code, detail, extensions);
  }
}

export class TooManyRequestsProblem extends HttpProblem {
  constructor(retryAfterSeconds: number) {
    super(429, 'rate_limited', `Too many requests; retry in ${retryAfterSeconds} s.`, { retryAfterSeconds });
  }
}
