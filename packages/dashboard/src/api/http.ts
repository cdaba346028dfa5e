/** A refusal from either plane, from its problem document (or from the network). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The whole problem document: some refusals name what to use instead (a run limit names the run). */
  readonly problem: Problem;

  constructor(status: number, code: string, message: string, problem: Problem = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.problem = problem;
  }
}

interface Problem {
  code?: unknown;
  detail?: unknown;
  title?: unknown;
  [member: string]: unknown;
}

/** Turns a non-2xx answer into an ApiError that says what the server said. */
export async function errorFrom(response: Response): Promise<ApiError> {
  let problem: Problem = {};
  try {
    problem = (await response.json()) as Problem;
  } catch {
    // not JSON: the status says enough
  }
  const code = typeof problem.code === 'string' ? problem.code : `http_${response.status}`;
  const detail =
    typeof problem.detail === 'string'
      ? problem.detail
      : typeof problem.title === 'string'
        ? problem.title
        : response.statusText || `HTTP ${response.status}`;
  return new ApiError(response.status, code, detail, problem);
}

export interface RequestOptions {
  method?: string;
  token?: string | undefined;
  body?: unknown;
  signal?: AbortSignal | undefined;
}

/** A JSON call; resolves to the parsed body (undefined for 204), or throws an ApiError. */
export async function requestJson<T>(url: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: options.signal ?? null,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network_error', `Could not reach ${new URL(url, location.href).host}.`);
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}
