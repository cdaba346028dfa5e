/** A problem document (RFC 9457) as either plane answers a refusal. */
export interface Problem {
  type?: unknown;
  title?: unknown;
  status?: unknown;
  detail?: unknown;
  code?: unknown;
  [member: string]: unknown;
}

/** A refusal from either plane: its status, its stable code and the whole problem document. */
export class ApiError extends Error {
  readonly status: number;
  /** The problem's code, or `http_<status>` when the answer carried none. */
  readonly code: string;
  /** Some refusals name what to use instead (a run limit names the runs). */
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    const detail = typeof problem.detail === 'string' ? problem.detail : undefined;
    const title = typeof problem.title === 'string' ? problem.title : undefined;
    super(detail ?? title ?? `The server answered ${status}.`);
    this.name = 'ApiError';
    this.status = status;
    this.code = typeof problem.code === 'string' ? problem.code : `http_${status}`;
    this.problem = problem;
  }
}

/** A service that could not be reached at all (refused, reset, no such host). */
export class UnreachableError extends Error {
  /** What was called, in words ("the control plane"). */
  readonly what: string;
  readonly origin: string;

  constructor(what: string, origin: string, cause: unknown) {
    super(`Cannot reach ${what} at ${origin}.`, { cause });
    this.name = 'UnreachableError';
    this.what = what;
    this.origin = origin;
  }
}

/** The ApiError a non-2xx answer stands for, from its problem document when it has one. */
export async function problemOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  let problem: Problem = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null) problem = parsed as Problem;
  } catch {
    problem = { detail: `The server answered ${response.status} ${response.statusText}.`.replace(/ \.$/, '.') };
  }
  return new ApiError(response.status, problem);
}

export function isAbort(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}
