import type { InteractiveLaunch, InteractiveLaunchRequest } from '@sovereign/contract/interactive';
import type { JobState, LogLine, OutputFile as Output, Variable } from '@sovereign/contract/public';
import type { Scope } from '@sovereign/contract/scopes';
import { controlPlane, type DataplaneToken } from './control-plane.ts';
import { ApiError, errorFrom, isAbort, requestJson } from './http.ts';
import { readServerEvents } from './sse.ts';

/**
 * The workspace's data plane, called straight from the browser with a short-lived token
 * scoped to the workspace (R2): logs, outputs, state and variables never pass through the
 * control plane. Tokens are kept until shortly before they expire, per workspace and set
 * of scopes, and each asks only for what the call needs.
 */
const renewBeforeMs = 30_000;
const tokens = new Map<string, Promise<DataplaneToken>>();

export class DataplaneUnreachable extends ApiError {
  constructor() {
    super(503, 'dataplane_unknown', "The workspace's data plane has not started yet: it has no address to call.");
  }
}

async function scoped(workspaceId: string, scopes: Scope[]): Promise<{ token: string; api: string }> {
  const key = `${workspaceId} ${[...scopes].sort().join(' ')}`;
  let pending = tokens.get(key);
  if (pending !== undefined) {
    const issued = await pending.catch(() => undefined);
    if (issued === undefined || Date.parse(issued.expiresAt) - Date.now() < renewBeforeMs) pending = undefined;
  }
  if (pending === undefined) {
    pending = controlPlane.dataplaneToken(workspaceId, scopes);
    tokens.set(key, pending);
    pending.catch(() => tokens.delete(key));
  }
  const issued = await pending;
  if (issued.dataplane.url === null) throw new DataplaneUnreachable();
  return { token: issued.token, api: `${issued.dataplane.url}/api/v1` };
}

/** Forgets every token (on sign-out, or after the data plane refused one). */
export function forgetDataplaneTokens(): void {
  tokens.clear();
}

/** A call to the data plane; a refused token (expired, revoked) is renewed once. */
async function call<T>(
  workspaceId: string,
  scopes: Scope[],
  path: string,
  options: { method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const { token, api } = await scoped(workspaceId, scopes);
    try {
      return await requestJson<T>(`${api}${path}`, { ...options, token });
    } catch (error) {
      if (attempt === 0 && error instanceof ApiError && error.status === 401) {
        forgetDataplaneTokens();
        continue;
      }
      throw error;
    }
  }
}

const enc = encodeURIComponent;

export const dataPlane = {
  variables: async (workspaceId: string, signal?: AbortSignal) =>
    (
      await call<{ data: Variable[] }>(
        workspaceId,
        ['variables:read'],
        `/workspaces/${workspaceId}/variables`,
        signal === undefined ? {} : { signal },
      )
    ).data,
  setVariable: (workspaceId: string, name: string, value: string, secret: boolean) =>
    call<Variable>(workspaceId, ['variables:write'], `/workspaces/${workspaceId}/variables/${enc(name)}`, {
      method: 'PUT',
      body: { value, secret },
    }),
  deleteVariable: (workspaceId: string, name: string) =>
    call<undefined>(workspaceId, ['variables:write'], `/workspaces/${workspaceId}/variables/${enc(name)}`, {
      method: 'DELETE',
    }),
  outputs: async (workspaceId: string, runId: string, signal?: AbortSignal) =>
    (
      await call<{ data: Output[] }>(
        workspaceId,
        ['runs:outputs'],
        `/runs/${runId}/outputs`,
        signal === undefined ? {} : { signal },
      )
    ).data,
  /** One output file's bytes, for a download the browser saves. */
  async output(workspaceId: string, runId: string, path: string): Promise<Blob> {
    const { token, api } = await scoped(workspaceId, ['runs:outputs']);
    const response = await fetch(`${api}/runs/${runId}/outputs/${path.split('/').map(enc).join('/')}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!response.ok) throw await errorFrom(response);
    return response.blob();
  },
  /**
   * A single-use ticket that opens a run's app as the signed-in user, for the browser
   * whose launch `state` the app's origin gave (see pages/open-app.tsx).
   */
  launchApp: (workspaceId: string, runId: string, request: InteractiveLaunchRequest) =>
    call<InteractiveLaunch>(workspaceId, ['interactive'], `/runs/${runId}/app/launch`, {
      method: 'POST',
      body: request,
    }),
  /** The job's saved state, or null when it has none yet. */
  async state(workspaceId: string, job: string, signal?: AbortSignal): Promise<JobState | null> {
    try {
      return await call<JobState>(
        workspaceId,
        ['state:read'],
        `/workspaces/${workspaceId}/jobs/${enc(job)}/state`,
        signal === undefined ? {} : { signal },
      );
    } catch (error) {
      if (error instanceof ApiError && error.code === 'state_not_found') return null;
      throw error;
    }
  },
};

export interface FollowOptions {
  workspaceId: string;
  runId: string;
  signal: AbortSignal;
  /** Lines after this sequence number (0: from the start). */
  after: number;
  onLines(lines: LogLine[]): void;
  /** The stream is open: lines arrive as the run prints them. */
  onOpen?(): void;
  /** A 404 means the run has not reached its data plane yet: whether to keep waiting for it. */
  keepWaiting(): boolean;
}

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Follows a run's log from its data plane as server-sent events until the run ends,
 * reconnecting from the last line seen when the stream breaks. Resolves to 'ended', or to
 * 'absent' when the run never reached its data plane.
 */
export async function followLogs(options: FollowOptions): Promise<'ended' | 'absent' | 'stopped'> {
  let after = options.after;
  let refused = 0;
  while (!options.signal.aborted) {
    try {
      const { token, api } = await scoped(options.workspaceId, ['runs:logs']);
      const response = await fetch(`${api}/runs/${options.runId}/logs?follow=true&after=${after}`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        signal: options.signal,
      });
      if (response.status === 404) {
        await response.body?.cancel();
        if (!options.keepWaiting()) return 'absent';
        await pause(1000, options.signal);
        continue;
      }
      if (response.status === 401 && refused++ === 0) {
        await response.body?.cancel();
        forgetDataplaneTokens();
        continue;
      }
      if (!response.ok || response.body === null) throw await errorFrom(response);
      refused = 0;
      options.onOpen?.();
      for await (const event of readServerEvents(response.body)) {
        if (event.event === 'line') {
          const line = JSON.parse(event.data) as LogLine;
          after = line.seq;
          // React batches the renders of lines that arrive together.
          options.onLines([line]);
        } else if (event.event === 'end') {
          return 'ended';
        }
      }
    } catch (error) {
      if (isAbort(error) || options.signal.aborted) return 'stopped';
      throw error;
    }
    // The stream broke before the run ended: pick up after the last line seen.
    await pause(1000, options.signal);
  }
  return 'stopped';
}
