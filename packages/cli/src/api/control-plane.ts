import type { RunStatus, Scope } from '@sovereign/contract';
import { ApiError, NotSignedInError } from '../errors.ts';
import type { Output } from '../output/output.ts';
import { HttpClient, type Query, type RequestOptions } from './http.ts';

/** The control plane's public API shapes the CLI reads (see /api/public/v1/openapi.json). */
export interface Me {
  userId: string;
  email: string;
  name: string;
  isInstanceAdmin: boolean;
  organizations: Array<{ organizationId: string; name: string; role: string }>;
  /** The API key the CLI signed its requests with (SOV_TOKEN), or null for a session. */
  apiKey: { apiKeyId: string; role: string; workspaceId: string | null; expiresAt: string } | null;
}

export interface Organization {
  organizationId: string;
  name: string;
  isDefault: boolean;
  role?: string;
  createdAt: string;
}

export interface Region {
  regionId: string;
  name: string;
  organizationId: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface Dataplane {
  dataplaneId: string;
  name: string;
  regionId: string;
  enabled: boolean;
  /** Where clients are sent: set by an administrator, or by its first instance to register. */
  publicUrl: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface DataplaneCredentials {
  dataplaneId: string;
  regionId: string;
  clientId: string;
  clientSecret: string;
}

export interface DataplaneHealth {
  dataplaneId: string;
  status: string;
  lastHeartbeatAt: string | null;
  version: string | null;
  publicUrl: string | null;
}

export interface Workspace {
  workspaceId: string;
  name: string;
  organizationId: string;
  regionId: string;
  dataplaneId: string;
  dataResidency: string;
  createdAt: string;
  updatedAt: string;
}

export interface JobTrigger {
  type: string;
  [key: string]: unknown;
}

export interface Job {
  jobId: string;
  workspaceId: string;
  name: string;
  kind: 'batch' | 'interactive';
  trigger: JobTrigger;
  timezone: string;
  timeoutSeconds: number;
  retries: number;
  paused: boolean;
  archived: boolean;
  deploymentId: string;
  createdAt: string;
  updatedAt: string;
  /** Its newest run, or null when it never ran. */
  lastRun: { runId: string; status: RunStatus; trigger: string; queuedAt: string; finishedAt: string | null } | null;
}

export interface Run {
  runId: string;
  jobId: string;
  jobName: string;
  workspaceId: string;
  dataplaneId: string;
  deploymentId: string;
  attempt: number;
  rootRunId: string;
  trigger: string;
  status: RunStatus;
  reasonCode: string | null;
  exitCode: number | null;
  scheduledFor: string | null;
  queuedAt: string;
  claimedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  cancelRequested: boolean;
  /** Where an interactive run is reached on its data plane; null for batch runs. */
  url: string | null;
}

export interface DeploymentMetadata {
  deploymentId: string;
  workspaceId: string;
  digest: string;
  sizeBytes: number;
  jobNames: string[];
  createdAt: string;
}

export interface DataplaneToken {
  token: string;
  expiresAt: string;
  scopes: Scope[];
  dataplane: { dataplaneId: string; regionId: string; url: string | null };
}

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
    return this.http.json<{ accessToken: string; expiresAt: string }>('POST', '/auth/login', {
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
    return this.call<{ data: Organization[] }>('GET', '/organizations').then((r) => r.data);
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
    return this.call<DataplaneCredentials>('POST', '/dataplanes', { body });
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
    return this.call<DataplaneToken>('POST', `/workspaces/${workspaceId}/dataplane-token`, { body: { scopes } });
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

  runs(query: { workspaceId?: string; jobId?: string; status?: string; limit?: number; cursor?: string }) {
    return this.call<{ data: Run[]; nextCursor: string | null }>('GET', '/runs', { query });
  }

  run(runId: string) {
    return this.call<Run>('GET', `/runs/${runId}`);
  }

  cancel(runId: string) {
    return this.call<Run>('POST', `/runs/${runId}/cancel`);
  }
}
