import { ApiError, UnreachableError } from '../errors.ts';
import type { Output } from '../output/output.ts';

export type Query = Record<string, string | number | boolean | undefined | readonly string[]>;

export interface RequestOptions {
  token?: string | undefined;
  /** A JSON body. */
  body?: unknown;
  /** A body sent as is (a stream is sent with duplex: 'half'). */
  raw?: RequestInit['body'];
  headers?: Record<string, string>;
  query?: Query;
  signal?: AbortSignal;
}

/**
 * One HTTP service (the control plane or a data plane): JSON in and out, problem
 * documents turned into ApiError, a connection failure into UnreachableError. The
 * token is sent, never traced.
 */
export class HttpClient {
  readonly baseUrl: string;
  readonly what: string;
  readonly #output: Output;

  constructor(baseUrl: string, what: string, output: Output) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.what = what;
    this.#output = output;
  }

  url(path: string, query: Query = {}): string {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, item);
      else url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  /** The response, whatever its status; throws only when the service cannot be reached. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: RequestInit['body'] | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const url = this.url(path, options.query);
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body,
        signal: options.signal,
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      this.#output.trace(`${method} ${url} failed: ${(error as Error).message}`);
      throw new UnreachableError(this.what, new URL(this.baseUrl).origin, error);
    }
    this.#output.trace(`${method} ${url} -> ${response.status} (${Math.round(performance.now() - started)}ms)`);
    return response;
  }

  /** The response of a 2xx answer; an ApiError otherwise. */
  async ok(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const response = await this.send(method, path, options);
    if (!response.ok) throw await problemOf(response);
    return response;
  }

  /** A JSON call: the parsed body of a 2xx answer (undefined for 204). */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.ok(method, path, options);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }
}

/** The ApiError a non-2xx answer stands for, from its problem document when it has one. */
export async function problemOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  let problem: { detail?: string; title?: string; code?: string } = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null) problem = parsed as typeof problem;
  } catch {
    problem = { detail: `The server answered ${response.status} ${response.statusText}.` };
  }
  return new ApiError(response.status, problem);
}
