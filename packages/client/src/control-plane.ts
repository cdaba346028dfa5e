import type {
  AnswerOf,
  BackfillRequest,
  BodyOf,
  ControlPlaneRoutes,
  DataplaneCreateRequest,
  DataplanePatchRequest,
  NewApiKey,
  RegionCreateRequest,
  RegionPatchRequest,
  RunListQuery,
  WorkspaceCreateRequest,
  WorkspaceMoveRequest,
} from '@sovereign/contract/public';
import type { Scope } from '@sovereign/contract/scopes';
import { ApiError } from './errors.ts';
import { fillPath, HttpService, type Query, type Trace } from './http.ts';

/** Where the control plane's public API is, under its origin. */
export const publicApiPath = '/api/public/v1';

type Routes = typeof ControlPlaneRoutes;
type Name = keyof Routes;

export interface ControlPlaneOptions {
  /** The control plane's origin; `''` for the page's own (the dashboard). */
  url: string;
  /** The bearer credential of every call but sign-in: a session token or an API key; undefined when there is none. */
  credential(): string | undefined;
  /**
   * What a refused credential (401) becomes: the CLI throws its "sign in again" error,
   * the dashboard clears its session (and the ApiError is thrown). Also called, with no
   * error, for a call made without any credential.
   */
  onUnauthorized?(error: ApiError | undefined): Error | undefined;
  /** A line per request (`sov --verbose`). */
  trace?: Trace;
}

interface CallOptions<K extends Name> {
  params?: Record<string, string>;
  query?: Query;
  body?: BodyOf<Routes[K]>;
  signal?: AbortSignal | undefined;
}

/**
 * The control plane's public API. Every method is one route of the contract's
 * ControlPlaneRoutes: its method and path are checked against the table by the type
 * checker, and what it answers is the table's schema, so a change of a public schema
 * that breaks a client fails `tsc`. Only types come from the contract: no TypeBox in a
 * browser bundle.
 */
export class ControlPlaneClient {
  readonly http: HttpService;
  readonly #options: ControlPlaneOptions;

  constructor(options: ControlPlaneOptions) {
    this.http = new HttpService(
      `${options.url.replace(/\/+$/, '')}${publicApiPath}`,
      'the control plane',
      options.trace,
    );
    this.#options = options;
  }

  /** One route of the table, with the credential. */
  async call<K extends Name>(
    _name: K,
    method: Routes[K]['method'],
    path: Routes[K]['path'],
    options: CallOptions<K> = {},
  ): Promise<AnswerOf<Routes[K]>> {
    const token = this.#options.credential();
    if (token === undefined) {
      const replaced = this.#options.onUnauthorized?.(undefined);
      if (replaced !== undefined) throw replaced;
    }
    try {
      return await this.http.json<AnswerOf<Routes[K]>>(method, fillPath(path, options.params ?? {}), {
        token,
        body: options.body,
        query: options.query,
        signal: options.signal,
      });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw this.#options.onUnauthorized?.(error) ?? error;
      throw error;
    }
  }

  /** Signs in: the session's token and when it ends (no credential is sent). */
  login(email: string, password: string): Promise<AnswerOf<Routes['login']>> {
    return this.http.json('POST', '/auth/login' satisfies Routes['login']['path'], { body: { email, password } });
  }

  logout() {
    return this.call('logout', 'POST', '/auth/logout');
  }

  me(signal?: AbortSignal) {
    return this.call('me', 'GET', '/me', { signal });
  }

  changePassword(currentPassword: string, newPassword: string) {
    return this.call('changePassword', 'POST', '/me/password', { body: { currentPassword, newPassword } });
  }

  async organizations(signal?: AbortSignal) {
    return (await this.call('organizations', 'GET', '/organizations', { signal })).data;
  }

  /** An organization; with a region, every workspace of it keeps its data there, for good. */
  createOrganization(name: string, regionId?: string) {
    return this.call('createOrganization', 'POST', '/organizations', {
      body: { name, ...(regionId === undefined ? {} : { regionId }) },
    });
  }

  /** The organization's regions and the shared ones; without one, every region the caller may use. */
  async regions(organizationId?: string, signal?: AbortSignal) {
    return (await this.call('regions', 'GET', '/regions', { query: { organizationId }, signal })).data;
  }

  createRegion(body: RegionCreateRequest) {
    return this.call('createRegion', 'POST', '/regions', { body });
  }

  updateRegion(regionId: string, body: RegionPatchRequest) {
    return this.call('updateRegion', 'PATCH', '/regions/{regionId}', { params: { regionId }, body });
  }

  deleteRegion(regionId: string) {
    return this.call('deleteRegion', 'DELETE', '/regions/{regionId}', { params: { regionId } });
  }

  /** Data planes of these regions, or of every organization you belong to. */
  async dataplanes(regionIds?: readonly string[], signal?: AbortSignal) {
    const query: Query = regionIds === undefined ? {} : { regionIds };
    return (await this.call('dataplanes', 'GET', '/dataplanes', { query, signal })).data;
  }

  dataplane(dataplaneId: string) {
    return this.call('dataplane', 'GET', '/dataplanes/{dataplaneId}', { params: { dataplaneId } });
  }

  dataplaneHealth(dataplaneId: string, signal?: AbortSignal) {
    return this.call('dataplaneHealth', 'GET', '/dataplanes/{dataplaneId}/health', { params: { dataplaneId }, signal });
  }

  createDataplane(body: DataplaneCreateRequest) {
    return this.call('createDataplane', 'POST', '/dataplanes', { body });
  }

  updateDataplane(dataplaneId: string, body: DataplanePatchRequest) {
    return this.call('updateDataplane', 'PATCH', '/dataplanes/{dataplaneId}', { params: { dataplaneId }, body });
  }

  deleteDataplane(dataplaneId: string) {
    return this.call('deleteDataplane', 'DELETE', '/dataplanes/{dataplaneId}', { params: { dataplaneId } });
  }

  async workspaces(organizationId?: string, signal?: AbortSignal) {
    return (await this.call('workspaces', 'GET', '/workspaces', { query: { organizationId }, signal })).data;
  }

  workspace(workspaceId: string, signal?: AbortSignal) {
    return this.call('workspace', 'GET', '/workspaces/{workspaceId}', { params: { workspaceId }, signal });
  }

  createWorkspace(body: WorkspaceCreateRequest) {
    return this.call('createWorkspace', 'POST', '/workspaces', { body });
  }

  /**
   * Starts moving a workspace to another region, or answers the move started before to the
   * same region (how a move is resumed): the new workspace is in the answer.
   */
  startMove(workspaceId: string, body: WorkspaceMoveRequest) {
    return this.call('startMove', 'POST', '/workspaces/{workspaceId}/move', { params: { workspaceId }, body });
  }

  /** Ends a move once its data is copied: the new workspace's jobs resume as they were in the old. */
  completeMove(workspaceId: string) {
    return this.call('completeMove', 'POST', '/workspaces/{workspaceId}/move/complete', { params: { workspaceId } });
  }

  /** A scoped token for the workspace's data plane; ScopedTokens keeps them. */
  dataplaneToken(workspaceId: string, scopes: Scope[]) {
    return this.call('dataplaneToken', 'POST', '/workspaces/{workspaceId}/dataplane-token', {
      params: { workspaceId },
      body: { scopes },
    });
  }

  async jobs(workspaceId: string, options: { includeArchived?: boolean; signal?: AbortSignal } = {}) {
    const query = { includeArchived: options.includeArchived === true ? true : undefined };
    return (
      await this.call('jobs', 'GET', '/workspaces/{workspaceId}/jobs', {
        params: { workspaceId },
        query,
        signal: options.signal,
      })
    ).data;
  }

  async deployments(workspaceId: string, signal?: AbortSignal) {
    return (
      await this.call('deployments', 'GET', '/workspaces/{workspaceId}/deployments', {
        params: { workspaceId },
        signal,
      })
    ).data;
  }

  job(jobId: string, signal?: AbortSignal) {
    return this.call('job', 'GET', '/jobs/{jobId}', { params: { jobId }, signal });
  }

  setPaused(jobId: string, paused: boolean) {
    return this.call('setPaused', 'PATCH', '/jobs/{jobId}', { params: { jobId }, body: { paused } });
  }

  /** A run of the job now; with `parametersId`, the id of its parameters stored on the data plane (never values). */
  trigger(jobId: string, options: { parametersId?: string } = {}) {
    return this.call('trigger', 'POST', '/jobs/{jobId}/runs', {
      params: { jobId },
      ...(options.parametersId === undefined ? {} : { body: { parametersId: options.parametersId } }),
    });
  }

  runs(filter: Partial<RunListQuery>, signal?: AbortSignal) {
    return this.call('runs', 'GET', '/runs', { query: filter, signal });
  }

  run(runId: string, signal?: AbortSignal) {
    return this.call('run', 'GET', '/runs/{runId}', { params: { runId }, signal });
  }

  cancel(runId: string) {
    return this.call('cancel', 'POST', '/runs/{runId}/cancel', { params: { runId } });
  }

  createBackfill(jobId: string, body: BackfillRequest) {
    return this.call('createBackfill', 'POST', '/jobs/{jobId}/backfills', { params: { jobId }, body });
  }

  async backfills(jobId: string, signal?: AbortSignal) {
    return (await this.call('backfills', 'GET', '/jobs/{jobId}/backfills', { params: { jobId }, signal })).data;
  }

  backfill(backfillId: string, signal?: AbortSignal) {
    return this.call('backfill', 'GET', '/backfills/{backfillId}', { params: { backfillId }, signal });
  }

  cancelBackfill(backfillId: string) {
    return this.call('cancelBackfill', 'POST', '/backfills/{backfillId}/cancel', { params: { backfillId } });
  }

  async apiKeys(signal?: AbortSignal) {
    return (await this.call('apiKeys', 'GET', '/api-keys', { signal })).data;
  }

  createApiKey(body: NewApiKey) {
    return this.call('createApiKey', 'POST', '/api-keys', { body });
  }

  revokeApiKey(apiKeyId: string) {
    return this.call('revokeApiKey', 'DELETE', '/api-keys/{apiKeyId}', { params: { apiKeyId } });
  }
}
