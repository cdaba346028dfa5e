import { randomUUID } from 'node:crypto';
import { InternalPaths, type JobMetadata, protocolVersion, type RunEvent } from '@sovereign/contract';
import type { Harness } from './harness.ts';

/** A batch job as a deployment report gives it, manual unless `overrides` say otherwise. */
export function job(name: string, overrides: Partial<JobMetadata> = {}): JobMetadata {
  return {
    name,
    kind: 'batch',
    trigger: { type: 'manual' },
    timezone: 'UTC',
    timeoutSeconds: 60,
    retries: 0,
    ...overrides,
  };
}

/**
 * A tenant whose data plane speaks the protocol from the test, as a data plane process
 * would: its jobs reported in a deployment, and the calls of one instance (claims, run
 * events, heartbeats) and of its people (trigger, read a run).
 */
export async function deployed(h: Harness, jobs: JobMetadata[], label = 'runs') {
  const t = await h.tenant(label);
  const { access_token: dpToken } = await h.expect(200, 'POST', InternalPaths.token, {
    body: { client_id: t.dataplane.clientId, client_secret: t.dataplane.clientSecret },
  });
  await h.expect(200, 'POST', InternalPaths.deploymentReport, {
    token: dpToken,
    body: {
      protocolVersion,
      deploymentId: randomUUID(),
      workspaceId: t.workspace.workspaceId,
      digest: `sha256:${'0'.repeat(64)}`,
      sizeBytes: 10,
      createdBy: t.people.owner.userId,
      createdAt: new Date().toISOString(),
      jobs,
    },
  });
  const listed = await h.expect(200, 'GET', `/workspaces/${t.workspace.workspaceId}/jobs`, {
    token: t.people.viewer.token,
  });
  const jobIds = Object.fromEntries(listed.data.map((j: { name: string; jobId: string }) => [j.name, j.jobId]));
  const instanceId = randomUUID();
  const claim = (waitMs = 0, capacity = 10, instance = instanceId, heldRuns?: string[], interactiveCapacity?: number) =>
    h.expect(200, 'POST', InternalPaths.claim, {
      token: dpToken,
      body: {
        protocolVersion,
        instanceId: instance,
        capacity,
        waitMs,
        ...(heldRuns === undefined ? {} : { heldRuns }),
        ...(interactiveCapacity === undefined ? {} : { interactiveCapacity }),
      },
    });
  const events = (list: Array<Omit<RunEvent, 'at'>>, instance = instanceId) =>
    h.expect(200, 'POST', InternalPaths.runEvents, {
      token: dpToken,
      body: {
        protocolVersion,
        instanceId: instance,
        events: list.map((e) => ({ ...e, at: new Date().toISOString() })),
      },
    });
  /** `claimedThrough` left out, as an older data plane does. */
  const heartbeat = (heldRuns: string[], instance = instanceId, claimedThrough?: number) =>
    h.expect(200, 'POST', InternalPaths.heartbeat, {
      token: dpToken,
      body: {
        protocolVersion,
        instanceId: instance,
        version: '0.1.0',
        publicUrl: 'http://127.0.0.1:1',
        capacity: 4,
        heldRuns,
        ...(claimedThrough === undefined ? {} : { claimedThrough }),
      },
    });
  const trigger = (name: string, token = t.people.member.token) =>
    h.expect(200, 'POST', `/jobs/${jobIds[name]}/runs`, { token });
  const run = (runId: string) => h.expect(200, 'GET', `/runs/${runId}`, { token: t.people.viewer.token });
  return { t, jobIds, instanceId, dpToken, claim, events, heartbeat, trigger, run };
}
