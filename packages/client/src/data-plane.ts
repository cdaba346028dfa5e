import type { InteractiveLaunch, InteractiveLaunchRequest } from '@sovereign/contract/interactive';
import type {
  AnswerOf,
  DataPlaneRoutes,
  MovedOutput,
  ScopedTokenResponse,
  StoreParametersRequest,
} from '@sovereign/contract/public';
import type { Scope } from '@sovereign/contract/scopes';
import { ApiError, problemOf, UnreachableError } from './errors.ts';
import { fillPath, HttpService, type Query, type RequestOptions, type Trace } from './http.ts';
import { InsecureHttpError, inClear } from './plain-http.ts';
import { serverSentEvents } from './sse.ts';

type Routes = typeof DataPlaneRoutes;

/** Where a token comes from: the control plane's `POST /workspaces/{id}/dataplane-token`. */
export interface TokenIssuer {
  dataplaneToken(workspaceId: string, scopes: Scope[]): Promise<ScopedTokenResponse>;
}

/** A data plane that has never started has no address to call. */
export class DataplaneOfflineError extends ApiError {
  constructor() {
    super(503, {
      code: 'dataplane_unknown',
      detail: "The workspace's data plane has not come online yet: it has no address to call.",
    });
  }
}

/**
 * Scoped tokens, one per workspace and set of scopes, kept until shortly before they
 * expire: a page or a command that calls its data plane many times asks the control
 * plane once. A failed issue is not kept.
 */
export class ScopedTokens {
  readonly #issuer: TokenIssuer;
  readonly #renewBeforeMs: number;
  readonly #tokens = new Map<string, Promise<ScopedTokenResponse>>();
  readonly #trace: Trace | undefined;

  constructor(issuer: TokenIssuer, options: { renewBeforeMs?: number; trace?: Trace } = {}) {
    this.#issuer = issuer;
    this.#renewBeforeMs = options.renewBeforeMs ?? 30_000;
    this.#trace = options.trace;
  }

  async get(workspaceId: string, scopes: readonly Scope[]): Promise<ScopedTokenResponse> {
    const key = `${workspaceId} ${[...scopes].sort().join(' ')}`;
    let pending = this.#tokens.get(key);
    if (pending !== undefined) {
      const issued = await pending.catch(() => undefined);
      if (issued === undefined || Date.parse(issued.expiresAt) - Date.now() < this.#renewBeforeMs) pending = undefined;
    }
    if (pending === undefined) {
      pending = this.#issuer.dataplaneToken(workspaceId, [...scopes]).then((issued) => {
        this.#trace?.(`scoped token for ${scopes.join(' ')}, expires ${issued.expiresAt}`);
        return issued;
      });
      this.#tokens.set(key, pending);
      pending.catch(() => this.#tokens.delete(key));
    }
    return pending;
  }

  /** Forgets every token (on sign-out, or after a data plane refused one). */
  forget(): void {
    this.#tokens.clear();
  }
}

export interface DataPlaneOptions {
  trace?: Trace;
  /**
   * How long to keep retrying while the data plane answers "not yet" (it is starting
   * and has not registered with its control plane); 0: not at all.
   */
  notYetWaitMs?: number;
  /** Called once when such a wait begins (the CLI prints a note). */
  onWaiting?(): void;
  /**
   * Call a data plane whose address is plain http to another machine (its token then
   * travels in clear); by default that is refused with InsecureHttpError before anything
   * is sent. The address comes from the control plane's answer, not from the user.
   */
  allowInsecureHttp?: boolean;
}

/**
 * Refusals that mean "not yet": the data plane is starting. A workspace it does not
 * host is a refusal: it asks its control plane about a new one at the first call.
 */
const notYet = new Set(['dataplane_not_ready']);

/**
 * A workspace's data plane, called directly with a scoped token carrying the scopes
 * given (R2): logs, outputs, state and variables never pass through the control plane.
 * A refused token (expired, revoked) is renewed once.
 */
export class DataPlaneClient {
  readonly workspaceId: string;
  readonly scopes: readonly Scope[];
  readonly #tokens: ScopedTokens;
  readonly #options: DataPlaneOptions;

  constructor(tokens: ScopedTokens, workspaceId: string, scopes: readonly Scope[], options: DataPlaneOptions = {}) {
    this.#tokens = tokens;
    this.workspaceId = workspaceId;
    this.scopes = scopes;
    this.#options = options;
  }

  /** Forgets the kept tokens, so the next call asks for a fresh one. */
  forgetTokens(): void {
    this.#tokens.forget();
  }

  /** The data plane's API and the token to call it with. */
  async connection(): Promise<{ http: HttpService; token: string; url: string }> {
    const issued = await this.#tokens.get(this.workspaceId, this.scopes);
    const url = issued.dataplane.url;
    if (url === null || url === '') throw new DataplaneOfflineError();
    if (this.#options.allowInsecureHttp !== true && inClear(url)) throw new InsecureHttpError('the data plane', url);
    return {
      http: new HttpService(`${url.replace(/\/+$/, '')}/api/v1`, `the data plane (${url})`, this.#options.trace),
      token: issued.token,
      url,
    };
  }

  /** Calls `attempt` with a connection: once more with a new token after a 401, and again while "not yet". */
  async #with<T>(attempt: (http: HttpService, token: string) => Promise<T>): Promise<T> {
    const deadline = Date.now() + (this.#options.notYetWaitMs ?? 0);
    let renewed = false;
    let waiting = false;
    for (;;) {
      const { http, token } = await this.connection();
      try {
        return await attempt(http, token);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.status === 401 && !renewed) {
          renewed = true;
          this.#tokens.forget();
          continue;
        }
        if (!notYet.has(error.code) || Date.now() > deadline) throw error;
        if (!waiting) this.#options.onWaiting?.();
        waiting = true;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async #json<T>(method: string, path: string, params: Record<string, string>, options: RequestOptions = {}) {
    return this.#with((http, token) =>
      http.json<T>(method, fillPath(path, { workspaceId: this.workspaceId, ...params }), { ...options, token }),
    );
  }

  /** Resolves once the data plane accepts the token for this workspace (waiting while "not yet"). */
  async ready(): Promise<void> {
    await this.#with(async (http, token) => {
      const response = await http.send('GET', `/workspaces/${this.workspaceId}/deployments`, { token });
      if (response.ok) {
        await response.body?.cancel();
        return;
      }
      // Only "not yet" is waited for; any other refusal shows on the real call.
      const problem = await problemOf(response);
      if (notYet.has(problem.code)) throw problem;
    });
  }

  /** Uploads a bundle (sent once: a stream cannot be replayed; call ready() first). */
  /**
   * Uploads a bundle. With `onBuildLine`, the output of an environment's build (in the
   * region) is heard line by line as it goes: the data plane streams it, and its answer
   * (or refusal) comes last.
   */
  async deploy(
    body: ReadableStream<Uint8Array> | Uint8Array,
    sizeBytes: number,
    dryRun: boolean,
    onBuildLine?: (line: string) => void,
    options: { digest?: string } = {},
  ): Promise<AnswerOf<Routes['deploy']>> {
    const { http, token, url } = await this.connection();
    const path: Routes['deploy']['path'] = '/workspaces/{workspaceId}/deployments';
    const response = await http.ok('POST', fillPath(path, { workspaceId: this.workspaceId }), {
      token,
      raw: body as RequestInit['body'],
      headers: {
        'content-type': 'application/gzip',
        'content-length': String(sizeBytes),
        // The bytes' digest, when known (a copy of another data plane's bundle): checked there.
        ...(options.digest === undefined ? {} : { digest: options.digest }),
        ...(onBuildLine === undefined ? {} : { accept: 'text/event-stream, application/json' }),
      },
      query: { dryRun: dryRun || undefined },
    });
    if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream') || response.body === null) {
      return (await response.json()) as AnswerOf<Routes['deploy']>;
    }
    for await (const event of serverSentEvents(response.body)) {
      const data = JSON.parse(event.data) as Record<string, unknown>;
      if (event.event === 'build') onBuildLine?.(String(data.line));
      else if (event.event === 'result') return data as AnswerOf<Routes['deploy']>;
      else if (event.event === 'problem') throw new ApiError(Number(data.status) || 500, data);
    }
    // Cut off mid-build: whether the deployment was stored is not known here (`sov deploy` lists them).
    throw new UnreachableError(
      'the data plane',
      new URL(url).origin,
      new Error('its answer ended before the deployment’s'),
    );
  }

  async deployments() {
    const path: Routes['deployments']['path'] = '/workspaces/{workspaceId}/deployments';
    return (await this.#json<AnswerOf<Routes['deployments']>>('GET', path, {})).data;
  }

  /**
   * A deployment's bundle, as a response to stream: its Content-Length, and its `Digest`
   * header (`sha-256=…`) to hand to deploy() so the receiving data plane checks the bytes.
   */
  bundle(deploymentId: string): Promise<Response> {
    return this.#with((http, token) =>
      http.ok('GET', `/workspaces/${this.workspaceId}/deployments/${deploymentId}/bundle`, {
        token,
        headers: { accept: 'application/gzip' },
      }),
    );
  }

  async variables(signal?: AbortSignal) {
    const path: Routes['variables']['path'] = '/workspaces/{workspaceId}/variables';
    return (await this.#json<AnswerOf<Routes['variables']>>('GET', path, {}, { signal })).data;
  }

  setVariable(name: string, value: string, secret?: boolean) {
    const path: Routes['setVariable']['path'] = '/workspaces/{workspaceId}/variables/{name}';
    return this.#json<AnswerOf<Routes['setVariable']>>('PUT', path, { name }, { body: { value, secret } });
  }

  deleteVariable(name: string) {
    const path: Routes['deleteVariable']['path'] = '/workspaces/{workspaceId}/variables/{name}';
    return this.#json<undefined>('DELETE', path, { name });
  }

  logs(runId: string, after = 0, limit = 1000, signal?: AbortSignal) {
    const path: Routes['logs']['path'] = '/runs/{runId}/logs';
    const query: Query = { after, limit };
    return this.#json<AnswerOf<Routes['logs']>>('GET', path, { runId }, { query, signal });
  }

  async outputs(runId: string, signal?: AbortSignal) {
    const path: Routes['outputs']['path'] = '/runs/{runId}/outputs';
    return (await this.#json<AnswerOf<Routes['outputs']>>('GET', path, { runId }, { signal })).data;
  }

  /** One output file's bytes, as a response to stream or save. */
  output(runId: string, path: string): Promise<Response> {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    return this.#with((http, token) =>
      http.ok('GET', `/runs/${runId}/outputs/${encoded}`, { token, headers: { accept: 'application/octet-stream' } }),
    );
  }

  /**
   * The outputs of runs of the workspace this one was moved from, copied here by the move
   * (of one old run, or all); they are read in this region, like any run's outputs.
   */
  async movedOutputs(runId?: string, signal?: AbortSignal) {
    const path: Routes['movedOutputs']['path'] = '/workspaces/{workspaceId}/moved-outputs';
    return (await this.#json<AnswerOf<Routes['movedOutputs']>>('GET', path, {}, { query: { runId }, signal })).data;
  }

  /** One moved output's bytes, as a response to stream or save. */
  movedOutput(runId: string, path: string): Promise<Response> {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    return this.#with((http, token) =>
      http.ok('GET', `/workspaces/${this.workspaceId}/moved-outputs/${runId}/${encoded}`, {
        token,
        headers: { accept: 'application/octet-stream' },
      }),
    );
  }

  /**
   * Stores an output of a run of the workspace this one was moved from (sent once: a
   * stream cannot be replayed), with its Digest, which this data plane checks.
   */
  async storeMovedOutput(
    runId: string,
    path: string,
    body: ReadableStream<Uint8Array>,
    sizeBytes: number,
    digest: string,
  ): Promise<MovedOutput> {
    const { http, token } = await this.connection();
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    const response = await http.ok('PUT', `/workspaces/${this.workspaceId}/moved-outputs/${runId}/${encoded}`, {
      token,
      raw: body as RequestInit['body'],
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(sizeBytes), digest },
    });
    return (await response.json()) as MovedOutput;
  }

  /** The job's saved state; an ApiError `state_not_found` when it has none yet (the CLI says so). */
  requireState(job: string, signal?: AbortSignal) {
    const path: Routes['state']['path'] = '/workspaces/{workspaceId}/jobs/{job}/state';
    return this.#json<AnswerOf<Routes['state']>>('GET', path, { job }, { signal });
  }

  /** The job's saved state, or null when it has none yet (the dashboard shows "none"). */
  async state(job: string, signal?: AbortSignal) {
    try {
      return await this.requireState(job, signal);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'state_not_found') return null;
      throw error;
    }
  }

  setState(job: string, state: unknown) {
    const path: Routes['setState']['path'] = '/workspaces/{workspaceId}/jobs/{job}/state';
    return this.#json<AnswerOf<Routes['setState']>>('PUT', path, { job }, { body: { state } });
  }

  /**
   * Stores a run's parameters here, checked against the job's declaration (an ApiError
   * `parameters_invalid` listing each problem): trigger the run with the answer's
   * `parametersId`, so the control plane never sees the values (issue 20).
   */
  storeParameters(job: string, values: StoreParametersRequest['values']) {
    const path: Routes['storeParameters']['path'] = '/workspaces/{workspaceId}/parameters';
    return this.#json<AnswerOf<Routes['storeParameters']>>('POST', path, {}, { body: { job, values } });
  }

  /** A run's parameters, by the `parametersId` the run carries. */
  parameters(parametersId: string, signal?: AbortSignal) {
    const path: Routes['parameters']['path'] = '/workspaces/{workspaceId}/parameters/{parametersId}';
    return this.#json<AnswerOf<Routes['parameters']>>('GET', path, { parametersId }, { signal });
  }

  /** A single-use ticket that opens a run's app as the token's user (see the dashboard's open-app page). */
  launchApp(runId: string, request: InteractiveLaunchRequest) {
    return this.#json<InteractiveLaunch>('POST', '/runs/{runId}/app/launch', { runId }, { body: request });
  }

  /** The raw response of a followed log (server-sent events); see followLogs. */
  async openLogStream(runId: string, after: number, signal?: AbortSignal): Promise<Response> {
    const { http, token } = await this.connection();
    return http.send('GET', `/runs/${runId}/logs`, {
      token,
      query: { follow: true, after },
      headers: { accept: 'text/event-stream' },
      signal,
    });
  }
}
