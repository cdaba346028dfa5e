import type {
  Dataplane,
  DataplaneCreateResponseBody,
  DataplaneHealth,
  DeploymentMetadata,
  Job,
  Me,
  MyOrganization,
  Organization,
  Region,
  Run,
  RunStatus,
  Scope,
  ScopedTokenResponse,
  Session,
  Workspace,
} from '@sovereign/contract';
import { ApiError, NotSignedInError } from '../errors.ts';
import type { Output } from '../output/output.ts';
import { HttpClient, type Query, type RequestOptions } from './http.ts';

/**
 * The control plane's public API, signed in as one profile's user. A refused
 * credential becomes NotSignedInError, which tells the user to sign in again.
 */
export class ControlPlane {
  readonly http: HttpClient;
  readonly #token: string | undefined;
  readonly #profile: string;

  constructor(apiUrl: string, token: string | undefined, profile: string, output: Output) {
    this.http = new HttpClient(`${apiUrl.replace(/\/+$/, '')}/api/public/v1`, 'the control plane', output);
    this.#token = token;
    this.#profile = profile;
  }

  async call<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    if (this.#token === undefined) throw new NotSignedInError(this.#profile);
    try {
      return await this.http.json<T>(method, path, { ...options, token: this.#token });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401)
        throw new NotSignedInError(this.#profile, true, error.code);
      throw error;
    }
  }

  login(email: string, password: string) {
    return this.http.json<Session>('POST', '/auth/login', {
      body: { email, password },
    });
  }

  logout() {
    return this.call<void>('POST', '/auth/logout');
  }

  me() {
    return this.call<Me>('GET', '/me');
  }

  changePassword(currentPassword: string, newPassword: string) {
    return this.call<{ sessionsEnded: number }>('POST', '/me/password', { body: { currentPassword, newPassword } });
  }

  organizations() {
    return this.call<{ data: MyOrganization[] }>('GET', '/organizations').then((r) => r.data);
  }

  createOrganization(name: string) {
    return this.call<Organization>('POST', '/organizations', { body: { name } });
  }

  regions(organizationId: string) {
    return this.call<{ data: Region[] }>('GET', '/regions', { query: { organizationId } }).then((r) => r.data);
  }

  createRegion(body: { name: string; organizationId: string; enabled?: boolean }) {
    return this.call<Region>('POST', '/regions', { body });
  }

  updateRegion(regionId: string, body: { name?: string; enabled?: boolean }) {
    return this.call<Region>('PATCH', `/regions/${regionId}`, { body });
  }

  deleteRegion(regionId: string) {
    return this.call<Region>('DELETE', `/regions/${regionId}`);
  }

  dataplanes(regionIds?: string[]) {
    const query: Query = regionIds === undefined ? {} : { regionIds };
    return this.call<{ data: Dataplane[] }>('GET', '/dataplanes', { query }).then((r) => r.data);
  }

  dataplane(dataplaneId: string) {
    return this.call<Dataplane>('GET', `/dataplanes/${dataplaneId}`);
  }

  dataplaneHealth(dataplaneId: string) {
    return this.call<DataplaneHealth>('GET', `/dataplanes/${dataplaneId}/health`);
  }

  createDataplane(body: { name: string; regionId: string; enabled?: boolean; publicUrl?: string }) {
    return this.call<DataplaneCreateResponseBody>('POST', '/dataplanes', { body });
  }

  updateDataplane(dataplaneId: string, body: { name?: string; enabled?: boolean; publicUrl?: string }) {
    return this.call<Dataplane>('PATCH', `/dataplanes/${dataplaneId}`, { body });
  }

  deleteDataplane(dataplaneId: string) {
    return this.call<Dataplane>('DELETE', `/dataplanes/${dataplaneId}`);
  }

  workspaces(organizationId?: string) {
    return this.call<{ data: Workspace[] }>('GET', '/workspaces', { query: { organizationId } }).then((r) => r.data);
  }

  workspace(workspaceId: string) {
    return this.call<Workspace>('GET', `/workspaces/${workspaceId}`);
  }

  createWorkspace(body: { name: string; organizationId: string; regionId: string }) {
    return this.call<Workspace>('POST', '/workspaces', { body });
  }

  dataplaneToken(workspaceId: string, scopes: Scope[]) {
    return this.call<ScopedTokenResponse>('POST', `/workspaces/${workspaceId}/dataplane-token`, { body: { scopes } });
  }

  jobs(workspaceId: string, includeArchived = false) {
    return this.call<{ data: Job[] }>('GET', `/workspaces/${workspaceId}/jobs`, {
      query: { includeArchived: includeArchived || undefined },
    }).then((r) => r.data);
  }

  deployments(workspaceId: string) {
    return this.call<{ data: DeploymentMetadata[] }>('GET', `/workspaces/${workspaceId}/deployments`).then(
      (r) => r.data,
    );
  }

  setPaused(jobId: string, paused: boolean) {
    return this.call<{ jobId: string; paused: boolean }>('PATCH', `/jobs/${jobId}`, { body: { paused } });
  }

  trigger(jobId: string) {
    return this.call<Run>('POST', `/jobs/${jobId}/runs`);
  }

  runs(query: { workspaceId?: string; jobId?: string; status?: RunStatus; limit?: number; cursor?: string }) {
    return this.call<{ data: Run[]; nextCursor: string | null }>('GET', '/runs', { query });
  }

  run(runId: string) {
    return this.call<Run>('GET', `/runs/${runId}`);
  }

  cancel(runId: string) {
    return this.call<Run>('POST', `/runs/${runId}/cancel`);
  }
}
