import type {
  ApiKey,
  Dataplane,
  DataplaneHealth,
  Job,
  Me,
  MyOrganization,
  Organization,
  Region,
  Run,
  ScopedTokenResponse,
  Session,
  Workspace,
} from '@sovereign/contract/public';
import type { RunStatus } from '@sovereign/contract/run-states';
import type { Role, Scope } from '@sovereign/contract/scopes';
import { ApiError, requestJson } from './http.ts';

/**
 * The control plane's public API, on the origin that served this page. It carries names,
 * ids, statuses and times only: logs, outputs, state and variables come from the data
 * plane (data-plane.ts), never through here.
 */
const base = '/api/public/v1';
const storageKey = 'sovereign.session';

function load(): Session | null {
  try {
    const saved = JSON.parse(localStorage.getItem(storageKey) ?? 'null') as Session | null;
    if (saved === null || typeof saved.accessToken !== 'string' || Date.parse(saved.expiresAt) <= Date.now()) {
      return null;
    }
    return saved;
  } catch {
    return null;
  }
}

let current: Session | null = load();
const listeners = new Set<() => void>();

export function getSession(): Session | null {
  return current;
}

export function setSession(next: Session | null): void {
  current = next;
  if (next === null) localStorage.removeItem(storageKey);
  else localStorage.setItem(storageKey, JSON.stringify(next));
  for (const listener of listeners) listener();
}

export function subscribeSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

async function call<T>(path: string, options: { method?: string; body?: unknown; signal?: AbortSignal } = {}) {
  try {
    return await requestJson<T>(`${base}${path}`, { ...options, token: current?.accessToken });
  } catch (error) {
    // The session ended (expired, revoked, signed out elsewhere): back to the sign-in page.
    if (error instanceof ApiError && error.status === 401 && current !== null) setSession(null);
    throw error;
  }
}

const list = async <T>(path: string, signal?: AbortSignal) =>
  (await call<{ data: T[] }>(path, signal === undefined ? {} : { signal })).data;

export interface RunFilter {
  workspaceId?: string | undefined;
  jobId?: string | undefined;
  status?: RunStatus | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export type DataplaneToken = ScopedTokenResponse;

export const controlPlane = {
  async login(email: string, password: string): Promise<Session> {
    const session = await requestJson<Session>(`${base}/auth/login`, { method: 'POST', body: { email, password } });
    setSession(session);
    return session;
  },
  async logout(): Promise<void> {
    try {
      await call('/auth/logout', { method: 'POST' });
    } finally {
      setSession(null);
    }
  },
  me: (signal?: AbortSignal) => call<Me>('/me', signal === undefined ? {} : { signal }),
  organizations: (signal?: AbortSignal) => list<MyOrganization>('/organizations', signal),
  createOrganization: (name: string) => call<Organization>('/organizations', { method: 'POST', body: { name } }),
  workspaces: (signal?: AbortSignal) => list<Workspace>('/workspaces', signal),
  workspace: (workspaceId: string, signal?: AbortSignal) =>
    call<Workspace>(`/workspaces/${workspaceId}`, signal === undefined ? {} : { signal }),
  createWorkspace: (body: { name: string; organizationId: string; regionId: string }) =>
    call<Workspace>('/workspaces', { method: 'POST', body }),
  regions: (organizationId: string, signal?: AbortSignal) =>
    list<Region>(`/regions?organizationId=${encodeURIComponent(organizationId)}`, signal),
  dataplanes: (regionIds: string[], signal?: AbortSignal) =>
    regionIds.length === 0
      ? Promise.resolve([])
      : list<Dataplane>(
          `/dataplanes?${regionIds.map((id) => `regionIds=${encodeURIComponent(id)}`).join('&')}`,
          signal,
        ),
  health: (dataplaneId: string, signal?: AbortSignal) =>
    call<DataplaneHealth>(`/dataplanes/${dataplaneId}/health`, signal === undefined ? {} : { signal }),
  jobs: (workspaceId: string, signal?: AbortSignal) => list<Job>(`/workspaces/${workspaceId}/jobs`, signal),
  setPaused: (jobId: string, paused: boolean) =>
    call<{ jobId: string; paused: boolean }>(`/jobs/${jobId}`, { method: 'PATCH', body: { paused } }),
  trigger: (jobId: string) => call<Run>(`/jobs/${jobId}/runs`, { method: 'POST' }),
  async runs(filter: RunFilter, signal?: AbortSignal) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) if (value !== undefined) query.set(key, String(value));
    return call<{ data: Run[]; nextCursor: string | null }>(`/runs?${query}`, signal === undefined ? {} : { signal });
  },
  run: (runId: string, signal?: AbortSignal) => call<Run>(`/runs/${runId}`, signal === undefined ? {} : { signal }),
  cancel: (runId: string) => call<Run>(`/runs/${runId}/cancel`, { method: 'POST' }),
  apiKeys: (signal?: AbortSignal) => list<ApiKey>('/api-keys', signal),
  createApiKey: (body: { name: string; role?: Role; expiresInDays?: number }) =>
    call<ApiKey & { key: string }>('/api-keys', { method: 'POST', body }),
  revokeApiKey: (apiKeyId: string) => call<undefined>(`/api-keys/${apiKeyId}`, { method: 'DELETE' }),
  dataplaneToken: (workspaceId: string, scopes: Scope[]) =>
    call<DataplaneToken>(`/workspaces/${workspaceId}/dataplane-token`, { method: 'POST', body: { scopes } }),
};
