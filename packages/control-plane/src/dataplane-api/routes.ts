import { ErrorCode, InternalRoutes } from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { ConflictProblem } from '@sovereign/server-kit/http';
import { audited, dataplaneAuthor } from '../audit/record.ts';
import { rateLimitClient } from '../auth/client-address.ts';
import type { Deps } from '../context.ts';
import { applyDeploymentReport, checkSchedules } from '../deployments/apply-report.ts';
import { recordInstance } from '../instances/store.ts';
import { type HeldRuns, settleHeldRuns } from '../leases/heartbeat.ts';
import { cancelsFor, claimRuns, releaseClaims, requeueUndelivered } from '../leases/store.ts';
import type { Woken } from '../runs/dispatcher.ts';
import { applyRunEvents } from '../runs/lifecycle.ts';
import { Wakes } from '../runs/wakes.ts';
import { listRevokedScopedTokens, revocationsSince } from '../tokens/store.ts';
import { findHostedWorkspaceOrganization, listHostedWorkspaceIds } from '../workspaces/store.ts';
import { authenticateDataplane, exchangeClientCredentials } from './credential-token.ts';
import { checkPublicUrl, instanceEvent, type PublicUrlMismatchProblem, refusedInstance } from './public-url.ts';

const hidden = { hide: true, tags: ['Internal'] };

/**
 * The API data planes call (the protocol's control plane side, under /api/internal/v1):
 * every call is made by a data plane, outbound, with its credential token.
 */
export async function dataplaneApiRoutes(app: App, deps: Deps) {
  const { db } = deps;

  // Airbyte's token endpoint takes form bodies too, as OAuth 2 clients send them.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.post(
    InternalRoutes.token.path,
    {
      schema: {
        ...hidden,
        summary: 'Exchange data plane client credentials for a short-lived credential token',
        body: InternalRoutes.token.body,
        response: { 200: InternalRoutes.token.response },
      },
    },
    async (request) => {
      const { client_id: clientId, client_secret: clientSecret } = request.body;
      const limit = deps.config.rateLimits.tokensPerClient;
      deps.limiter.take([
        { key: `client-credentials:client:${rateLimitClient(request.ip)}`, limit },
        { key: `client-credentials:id:${clientId}`, limit },
      ]);
      const { token, expiresIn } = await exchangeClientCredentials(deps, clientId, clientSecret);
      return { access_token: token, token_type: 'Bearer' as const, expires_in: expiresIn };
    },
  );

  app.post(
    InternalRoutes.initialize.path,
    {
      schema: {
        ...hidden,
        summary: 'A data plane instance starts: who am I, and what do I check tokens against?',
        body: InternalRoutes.initialize.body,
        response: { 200: InternalRoutes.initialize.response },
      },
    },
    async (request) => {
      const plane = await authenticateDataplane(request, deps);
      const refused = await audited(db, dataplaneAuthor(plane.dataplane_id, request.id), async (tx) => {
        const url = await checkPublicUrl(tx, plane, request.body, deps.now());
        if ('refused' in url) return { result: url.refused, audit: url.audit };
        await recordInstance(tx, plane.dataplane_id, request.body, url.publicUrl, null);
        return {
          result: undefined,
          audit: instanceEvent(plane, 'dataplane_instance.initialize', request.body.instanceId),
        };
      });
      if (refused !== undefined) throw refusedInstance(request.log, plane, request.body.instanceId, refused);
      return {
        dataplaneId: plane.dataplane_id,
        dataplaneName: plane.name,
        dataplaneEnabled: plane.enabled,
        regionId: plane.region_id,
        regionName: plane.region_name,
        regionEnabled: plane.region_enabled,
        organizationId: plane.organization_id,
        issuer: deps.config.publicUrl,
        jwksUrl: `${deps.config.publicUrl}/.well-known/jwks.json`,
        heartbeatIntervalSeconds: deps.config.heartbeatIntervalSeconds,
      };
    },
  );

  app.post(
    InternalRoutes.heartbeat.path,
    {
      schema: {
        ...hidden,
        summary: 'An instance is alive; the answer carries what it must know',
        body: InternalRoutes.heartbeat.body,
        response: { 200: InternalRoutes.heartbeat.response },
      },
    },
    async (request) => {
      const plane = await authenticateDataplane(request, deps);
      const now = deps.now();
      // A heartbeat is audited only when it reports a public URL that is news.
      const answer = await audited<HeldRuns | { refused: PublicUrlMismatchProblem }>(
        db,
        dataplaneAuthor(plane.dataplane_id, request.id),
        async (tx) => {
          const url = await checkPublicUrl(tx, plane, request.body, now);
          if ('refused' in url) return { result: { refused: url.refused }, audit: url.audit };
          await recordInstance(tx, plane.dataplane_id, request.body, url.publicUrl, now);
          const held = await settleHeldRuns(tx, plane.dataplane_id, request.body, deps.config.runLeaseSeconds, now);
          return { result: held, audit: [] };
        },
      );
      if ('refused' in answer) throw refusedInstance(request.log, plane, request.body.instanceId, answer.refused);
      const { fenced, cancels, requeued } = answer;
      if (requeued.length > 0) await deps.dispatcher.wake(plane.dataplane_id);
      const workspaceIds = await listHostedWorkspaceIds(db, plane.dataplane_id);
      const revoked = await listRevokedScopedTokens(db, plane.dataplane_id, now);
      const accepting = plane.enabled && plane.region_enabled;
      return {
        dataplaneEnabled: plane.enabled,
        regionEnabled: plane.region_enabled,
        accepting,
        ...(accepting
          ? {}
          : { reason: plane.enabled ? ('region_disabled' as const) : ('dataplane_disabled' as const) }),
        workspaceIds,
        revokedTokens: revoked.map((r) => ({ jti: r.jti, expiresAt: r.expires_at.toISOString() })),
        cancelRunIds: cancels,
        fencedRunIds: fenced,
        heartbeatIntervalSeconds: deps.config.heartbeatIntervalSeconds,
      };
    },
  );

  app.post(
    InternalRoutes.deploymentReport.path,
    {
      schema: {
        ...hidden,
        summary: 'A data plane stored a deployment: its metadata, never its contents',
        body: InternalRoutes.deploymentReport.body,
        response: { 200: InternalRoutes.deploymentReport.response },
      },
    },
    async (request) => {
      const plane = await authenticateDataplane(request, deps);
      const report = request.body;
      checkSchedules(report);
      const jobs = await audited(db, dataplaneAuthor(plane.dataplane_id, request.id), async (tx) => {
        const organizationId = await findHostedWorkspaceOrganization(tx, report.workspaceId, plane.dataplane_id);
        if (organizationId === undefined) {
          throw new ConflictProblem(
            ErrorCode.workspaceNotOnDataplane,
            'That workspace is not hosted by this data plane.',
          );
        }
        return {
          result: await applyDeploymentReport(tx, plane.dataplane_id, report),
          audit: {
            organizationId,
            action: 'deployment.report',
            targetType: 'deployment',
            targetId: report.deploymentId,
          },
        };
      });
      return { deploymentId: report.deploymentId, jobs };
    },
  );

  app.post(
    InternalRoutes.claim.path,
    {
      schema: {
        ...hidden,
        summary: 'Held open until there is a run for this instance (or a cancel), then hands it out under a lease',
        body: InternalRoutes.claim.body,
        response: { 200: InternalRoutes.claim.response },
      },
    },
    async (request, reply) => {
      const arrived = deps.now();
      const plane = await authenticateDataplane(request, deps);
      const { instanceId, capacity, interactiveCapacity, waitMs, heldRuns } = request.body;
      // Whatever an earlier claim handed this instance and it does not hold never reached it.
      if (heldRuns !== undefined) {
        await requeueUndelivered(db, plane.dataplane_id, instanceId, heldRuns, { before: arrived });
      }
      // The response's close (not the request's, which fires once the body is read) tells
      // us that the instance went away: it must not be handed runs it can never start.
      const closed = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) closed.abort();
      });
      const deadline = Date.now() + waitMs;
      // Cancels are read on the first look and after a wake that may bring one; a wake
      // for queued runs alone (the start path of every run) costs one query, not two.
      let lookForCancels = true;
      let look = true;
      for (;;) {
        // Listen before looking, so a run queued in between still wakes this claim.
        const woken = deps.dispatcher.wait(plane.dataplane_id, Math.max(0, deadline - Date.now()), closed.signal);
        if (!look) {
          const why = await woken;
          look = canTake(why, capacity, interactiveCapacity);
          lookForCancels = why !== 'runs' && why !== 'batch' && why !== 'interactive';
          continue;
        }
        const [claimed, cancelRunIds] = await Promise.all([
          claimRuns(db, plane.dataplane_id, instanceId, capacity, deps.config.runLeaseSeconds, deps.now(), {
            interactiveCapacity,
            workspaceRunLimit: deps.config.workspaceRunLimit,
          }),
          lookForCancels ? cancelsFor(db, plane.dataplane_id, instanceId, heldRuns) : [],
        ]);
        const answer = { ...claimed, cancelRunIds };
        if (closed.signal.aborted) {
          await releaseClaims(
            db,
            plane.dataplane_id,
            instanceId,
            answer.runs.map((r) => r.runId),
          );
          return answer;
        }
        if (answer.runs.length > 0 || answer.cancelRunIds.length > 0 || Date.now() >= deadline) return answer;
        const why = await woken;
        look = canTake(why, capacity, interactiveCapacity);
        lookForCancels = why !== 'runs' && why !== 'batch' && why !== 'interactive';
      }
    },
  );

  app.post(
    InternalRoutes.runEvents.path,
    {
      schema: {
        ...hidden,
        summary: 'Status events of runs: idempotent by (runId, seq), refused from an instance without the lease',
        body: InternalRoutes.runEvents.body,
        response: { 200: InternalRoutes.runEvents.response },
      },
    },
    async (request) => {
      const plane = await authenticateDataplane(request, deps);
      const wakes = new Wakes();
      const answer = await db.transaction((tx) =>
        applyRunEvents(tx, plane.dataplane_id, request.body.instanceId, request.body.events, wakes, deps.now()),
      );
      for (const [dataplaneId, what] of wakes) await deps.dispatcher.wake(dataplaneId, what);
      return answer;
    },
  );

  app.post(
    InternalRoutes.revocations.path,
    {
      schema: {
        ...hidden,
        summary: "Held open until a token of the caller's data plane is revoked, then lists the revocations since",
        body: InternalRoutes.revocations.body,
        response: { 200: InternalRoutes.revocations.response },
      },
    },
    async (request, reply) => {
      const plane = await authenticateDataplane(request, deps);
      const { after, waitMs } = request.body;
      const gone = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) gone.abort();
      });
      const deadline = Date.now() + waitMs;
      for (;;) {
        // Listen before looking, so a revocation committed in between still ends the wait.
        const looked = new AbortController();
        const signal = AbortSignal.any([gone.signal, looked.signal]);
        const revoked = deps.dispatcher.waitForRevocations(
          plane.dataplane_id,
          Math.max(0, deadline - Date.now()),
          signal,
        );
        const answer = await revocationsSince(db, plane.dataplane_id, after, deps.now());
        if (answer.revokedTokens.length > 0 || Date.now() >= deadline || gone.signal.aborted) {
          looked.abort();
          return answer;
        }
        await revoked;
      }
    },
  );
}

/**
 * Whether a held claim looks again after a wake: not for a run of a kind it has no room
 * for (a claim held for apps alone while its batch slots are full hears every batch run
 * queued for its data plane).
 */
function canTake(why: Woken, capacity: number, interactiveCapacity: number | undefined): boolean {
  if (why === 'batch') return capacity > 0;
  // Without interactiveCapacity (an older data plane), capacity counts runs of both kinds.
  if (why === 'interactive') return (interactiveCapacity ?? capacity) > 0;
  return true;
}
