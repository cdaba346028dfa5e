import { isAbort, problemOf, UnreachableError } from './errors.ts';

export type Query = Record<string, string | number | boolean | undefined | readonly string[]>;

export interface RequestOptions {
  token?: string | undefined;
  /** A JSON body. */
  body?: unknown;
  /** A body sent as is (a stream is sent with duplex: 'half'). */
  raw?: RequestInit['body'];
  headers?: Record<string, string>;
  query?: Query | undefined;
  signal?: AbortSignal | undefined;
}

/** Where a line about each request goes (`sov --verbose`); the token is never in it. */
export type Trace = (message: string) => void;

/** The page's own address in a browser, so a base of `''` means "this origin". */
const pageHref = (globalThis as { location?: { href: string } }).location?.href;

/**
 * One HTTP service (the control plane or a data plane): JSON in and out, a problem
 * answer turned into ApiError, a connection failure into UnreachableError.
 */
export class HttpService {
  readonly baseUrl: string;
  readonly what: string;
  readonly #trace: Trace | undefined;

  constructor(baseUrl: string, what: string, trace?: Trace) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.what = what;
    this.#trace = trace;
  }

  url(path: string, query: Query = {}): string {
    const url = new URL(this.baseUrl + path, pageHref);
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
    let body: RequestInit['body'] = options.raw ?? null;
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
        signal: options.signal ?? null,
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      if (isAbort(error) || options.signal?.aborted) throw error;
      this.#trace?.(`${method} ${url} failed: ${(error as Error).message}`);
      throw new UnreachableError(this.what, new URL(url).origin, error);
    }
    this.#trace?.(`${method} ${url} -> ${response.status} (${Math.round(performance.now() - started)}ms)`);
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

/** A path of the route table with its `{name}` parameters filled in, each encoded. */
export function fillPath(path: string, params: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no ${name} for ${path}`);
    return encodeURIComponent(value);
  });
}
