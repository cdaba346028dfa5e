import { ErrorCode, type InternalRoute, InternalRoutes } from '@sovereign/contract';
import type { Static, TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';

/** The control plane refused our credentials: the data plane was deleted (or its secret is wrong). */
export class CredentialsRevokedError extends Error {
  readonly code: string;
  constructor(code: string) {
    super(`the control plane refused this data plane's credentials (${code})`);
    this.name = 'CredentialsRevokedError';
    this.code = code;
  }
}

/** The control plane could not be reached, or failed; worth retrying. */
export class ControlPlaneUnavailableError extends Error {
  constructor(cause: string) {
    super(`control plane unavailable: ${cause}`);
    this.name = 'ControlPlaneUnavailableError';
  }
}

/**
 * The control plane answered with a body its own schema refuses: a control plane of
 * another version, or a proxy's page. Taken as the control plane being unavailable (an
 * upgrade in progress ends), never as an answer acted on.
 */
export class UnexpectedAnswerError extends ControlPlaneUnavailableError {
  constructor(path: string, problem: string) {
    super(`${path} answered a body the protocol refuses (${problem})`);
    this.name = 'UnexpectedAnswerError';
  }
}

/** The control plane refused a message for a reason retrying will not fix. */
export class ProtocolRefusedError extends Error {
  readonly status: number;
  readonly code: string;
  /** The problem document's members, for the refusals that say more (a public URL mismatch). */
  readonly problem: Record<string, unknown>;
  constructor(status: number, code: string, path: string, problem: Record<string, unknown> = {}) {
    super(`control plane refused ${path}: ${status} ${code}`);
    this.name = 'ProtocolRefusedError';
    this.status = status;
    this.code = code;
    this.problem = problem;
  }
}

const revokedCodes: ReadonlySet<string> = new Set([
  ErrorCode.invalidClientCredentials,
  ErrorCode.dataplaneCredentialsRevoked,
]);

const validators = new Map<TSchema, Validator>();

/** The answer, when the route's response schema takes it. */
function checked<R extends InternalRoute>(route: R, answer: unknown): Static<R['response']> {
  let validator = validators.get(route.response);
  if (validator === undefined) {
    validator = Compile(route.response);
    validators.set(route.response, validator);
  }
  if (validator.Check(answer)) return answer as Static<R['response']>;
  const [first] = validator.Errors(answer);
  throw new UnexpectedAnswerError(
    route.path,
    first === undefined ? 'no detail' : `${first.instancePath} ${first.message}`,
  );
}

/** A body as JSON, or undefined when it is not JSON at all. */
async function jsonOf(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

/**
 * Every call this data plane makes to its control plane: outbound only, JSON, with a
 * short-lived access token from the client credentials, renewed before it expires.
 */
export class ControlPlaneClient {
  readonly baseUrl: string;
  readonly #clientId: string;
  readonly #clientSecret: string;
  #token: { value: string; renewAt: number } | undefined;

  constructor(options: { baseUrl: string; clientId: string; clientSecret: string }) {
    this.baseUrl = options.baseUrl;
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
  }

  async #send(
    path: string,
    body: unknown,
    token?: string,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 15_000);
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify(body),
        signal: options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]),
      });
    } catch (error) {
      throw new ControlPlaneUnavailableError(error instanceof Error ? error.message : String(error));
    }
  }

  async #accessToken(): Promise<string> {
    if (this.#token !== undefined && Date.now() < this.#token.renewAt) return this.#token.value;
    const route = InternalRoutes.token;
    const body: Static<typeof route.body> = {
      client_id: this.#clientId,
      client_secret: this.#clientSecret,
      grant_type: 'client_credentials',
    };
    const response = await this.#send(route.path, body);
    if (!response.ok) await this.#fail(response, route.path);
    const answer = checked(route, await jsonOf(response));
    // Renew at two thirds of the lifetime, so a slow call never carries an expired token.
    this.#token = { value: answer.access_token, renewAt: Date.now() + (answer.expires_in * 1000 * 2) / 3 };
    return answer.access_token;
  }

  async #fail(response: Response, path: string): Promise<never> {
    let code = 'unknown';
    let problem: Record<string, unknown> = {};
    try {
      const parsed = (await response.json()) as unknown;
      if (parsed !== null && typeof parsed === 'object') problem = parsed as Record<string, unknown>;
      code = String(problem.code ?? 'unknown');
    } catch {
      // not a problem document
    }
    if (response.status === 401 && revokedCodes.has(code)) throw new CredentialsRevokedError(code);
    if (response.status >= 500 || response.status === 429) {
      throw new ControlPlaneUnavailableError(`${response.status} ${code}`);
    }
    throw new ProtocolRefusedError(response.status, code, path, problem);
  }

  /**
   * Sends a protocol message and returns the answer, checked against the route's schema;
   * renews the access token once if it was refused as stale.
   */
  call<R extends InternalRoute>(
    route: R,
    body: Static<R['body']>,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<Static<R['response']>> {
    return this.deliver(route, body, options);
  }

  /** As `call`, for a body kept since it was made (an outbox message), typed when it was stored. */
  async deliver<R extends InternalRoute>(
    route: R,
    body: unknown,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<Static<R['response']>> {
    let response = await this.#send(route.path, body, await this.#accessToken(), options);
    if (response.status === 401) {
      this.#token = undefined;
      response = await this.#send(route.path, body, await this.#accessToken(), options);
    }
    if (!response.ok) await this.#fail(response, route.path);
    return checked(route, await jsonOf(response));
  }

  /** The control plane's published signing keys. */
  async jwks(): Promise<{ keys: Array<Record<string, unknown>> }> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/.well-known/jwks.json`, { signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      throw new ControlPlaneUnavailableError(error instanceof Error ? error.message : String(error));
    }
    if (!response.ok) await this.#fail(response, '/.well-known/jwks.json');
    return (await response.json()) as { keys: Array<Record<string, unknown>> };
  }
}
