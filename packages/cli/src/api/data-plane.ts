import type { DeployResult, JobState, LogPage, OutputFile, Scope, Variable } from '@sovereign/contract';
import { ApiError, CliError } from '../errors.ts';
import type { Output } from '../output/output.ts';
import type { ControlPlane } from './control-plane.ts';
import { HttpClient, problemOf, type RequestOptions } from './http.ts';

/** Refusals that mean "not yet": a new workspace reaches its data plane with the next heartbeat. */
const notYet = new Set(['workspace_not_hosted', 'dataplane_not_ready']);
const notYetWaitMs = 30_000;

/**
 * A workspace's data plane, reached directly with a scoped token that carries just the
 * scopes the command needs (R2): nothing of the workspace's data passes through the
 * control plane.
 */
export class DataPlane {
  readonly http: HttpClient;
  readonly workspaceId: string;
  readonly #cp: ControlPlane;
  readonly #scopes: Scope[];
  readonly #output: Output;
  #token: string;

  private constructor(
    url: string,
    workspaceId: string,
    token: string,
    source: { cp: ControlPlane; scopes: Scope[] },
    output: Output,
  ) {
    this.http = new HttpClient(`${url.replace(/\/+$/, '')}/api/v1`, `the data plane (${url})`, output);
    this.workspaceId = workspaceId;
    this.#token = token;
    this.#cp = source.cp;
    this.#scopes = source.scopes;
    this.#output = output;
  }

  static async connect(cp: ControlPlane, workspaceId: string, scopes: Scope[], output: Output): Promise<DataPlane> {
    const issued = await DataPlane.#issue(cp, workspaceId, scopes, output);
    if (issued.dataplane.url === null || issued.dataplane.url === '') {
      throw new CliError("The workspace's data plane has not come online yet: it has no address.", {
        hint: 'Start the data plane (npm start does), or ask its operator; then try again.',
      });
    }
    return new DataPlane(issued.dataplane.url, workspaceId, issued.token, { cp, scopes }, output);
  }

  static async #issue(cp: ControlPlane, workspaceId: string, scopes: Scope[], output: Output) {
    const issued = await cp.dataplaneToken(workspaceId, scopes);
    output.trace(`scoped token for ${scopes.join(' ')}, expires ${issued.expiresAt}`);
    return issued;
  }

  /** A fresh token with the same scopes: a long `--follow` outlives the first one. */
  async renew(): Promise<void> {
    this.#token = (await DataPlane.#issue(this.#cp, this.workspaceId, this.#scopes, this.#output)).token;
  }

  get url(): string {
    return this.http.baseUrl.replace(/\/api\/v1$/, '');
  }

  /**
   * A call whose body can be sent again: while the data plane answers "not yet" (a
   * workspace created seconds ago), it is retried for a while with a note.
   */
  async #withRetry<T>(attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + notYetWaitMs;
    let noted = false;
    let renewed = false;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (error instanceof ApiError && error.code === 'token_expired' && !renewed) {
          renewed = true;
          await this.renew();
          continue;
        }
        if (!(error instanceof ApiError) || !notYet.has(error.code ?? '') || Date.now() > deadline) throw error;
        if (!noted) {
          this.#output.note(this.#output.err.dim('Waiting for the data plane to pick up the workspace…'));
          noted = true;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  call<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return this.#withRetry(() => this.http.json<T>(method, path, { ...options, token: this.#token }));
  }

  /** A raw response (a stream, a file); problem answers are thrown. */
  open(path: string, options: RequestOptions = {}): Promise<Response> {
    return this.#withRetry(() => this.http.ok('GET', path, { ...options, token: this.#token }));
  }

  /** Resolves once the data plane accepts the token for this workspace. */
  async ready(): Promise<void> {
    await this.#withRetry(async () => {
      const response = await this.http.send('GET', `/workspaces/${this.workspaceId}/deployments`, {
        token: this.#token,
      });
      if (!response.ok) {
        const problem = await problemOf(response);
        // Any refusal other than "not yet" shows up on the real call with its own message.
        if (notYet.has(problem.code ?? '')) throw problem;
      } else {
        await response.body?.cancel();
      }
    });
  }

  /** The upload itself is sent once: a stream cannot be replayed. Call ready() first. */
  deploy(body: ReadableStream<Uint8Array>, sizeBytes: number, dryRun: boolean): Promise<DeployResult> {
    return this.http.json<DeployResult>('POST', `/workspaces/${this.workspaceId}/deployments`, {
      token: this.#token,
      raw: body,
      headers: { 'content-type': 'application/gzip', 'content-length': String(sizeBytes) },
      query: { dryRun: dryRun || undefined },
    });
  }

  variables() {
    return this.call<{ data: Variable[] }>('GET', `/workspaces/${this.workspaceId}/variables`).then((r) => r.data);
  }

  setVariable(name: string, value: string, secret: boolean) {
    return this.call<Variable>('PUT', `/workspaces/${this.workspaceId}/variables/${encodeURIComponent(name)}`, {
      body: { value, secret },
    });
  }

  removeVariable(name: string) {
    return this.call<void>('DELETE', `/workspaces/${this.workspaceId}/variables/${encodeURIComponent(name)}`);
  }

  logs(runId: string, after: number, limit = 1000) {
    return this.call<LogPage>('GET', `/runs/${runId}/logs`, { query: { after, limit } });
  }

  followLogs(runId: string, after: number, signal?: AbortSignal) {
    return this.http.send('GET', `/runs/${runId}/logs`, {
      token: this.#token,
      query: { follow: true, after },
      headers: { accept: 'text/event-stream' },
      ...(signal === undefined ? {} : { signal }),
    });
  }

  outputs(runId: string) {
    return this.call<{ data: OutputFile[] }>('GET', `/runs/${runId}/outputs`).then((r) => r.data);
  }

  output(runId: string, path: string) {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    return this.open(`/runs/${runId}/outputs/${encoded}`, { headers: { accept: 'application/octet-stream' } });
  }

  state(job: string) {
    return this.call<JobState>('GET', `/workspaces/${this.workspaceId}/jobs/${encodeURIComponent(job)}/state`);
  }

  setState(job: string, state: unknown) {
    return this.call<JobState>('PUT', `/workspaces/${this.workspaceId}/jobs/${encodeURIComponent(job)}/state`, {
      body: { state },
    });
  }
}
