import { Readable } from 'node:stream';
import { Closed, DeploymentList, DeploymentManifest, DeployQuery, DeployResult, Uuid } from '@sovereign/contract';
import type { App } from '@sovereign/server-kit/http';
import { scopedOf } from '../auth/scoped.ts';
import { enqueue, type OutboxDeliverer } from '../outbox/outbox.ts';
import { BundleInvalidProblem, BundleMediaTypeProblem, BundleTooLargeProblem } from './errors.ts';
import { deploymentReportKind } from './report.ts';
import type { Deployments } from './service.ts';

const WorkspaceParams = Closed({ workspaceId: Uuid });
const bundleTypes = ['application/gzip', 'application/x-gzip', 'application/octet-stream', 'application/x-tar+gzip'];
const tags = ['Deployments'];

/** What the deployment routes use. */
export interface DeploymentRoutesOptions {
  deployments: Deployments;
  /** Woken once a deployment's report is enqueued, so the control plane learns of it at once. */
  outbox: Pick<OutboxDeliverer, 'wake'>;
  maxBundleBytes: number;
}

/** Deployments: bundles are streamed in, validated whole, stored here; only metadata goes to the control plane. */
export async function deploymentRoutes(app: App, options: DeploymentRoutesOptions) {
  const { deployments, maxBundleBytes } = options;

  // The body stays a stream: a bundle is never held in memory whole.
  app.addContentTypeParser(bundleTypes, (_request, payload, done) => done(null, payload));

  app.post(
    '/workspaces/:workspaceId/deployments',
    {
      config: { scope: 'deployments:write' },
      bodyLimit: maxBundleBytes,
      // After the token check (the scope's hook runs first), before any byte is parsed: a
      // JSON or form body would be buffered whole, up to the bundle limit.
      onRequest: async (request) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
        if (!bundleTypes.includes(type)) throw new BundleMediaTypeProblem(bundleTypes);
      },
      schema: {
        tags,
        summary: 'Upload a project (a gzipped tar with sovereign.yaml at its root) as a new deployment',
        description: 'With dryRun=true the bundle is validated and the job changes reported; nothing is stored.',
        params: WorkspaceParams,
        querystring: DeployQuery,
        response: { 200: DeployResult },
      },
    },
    async (request) => {
      const declared = Number(request.headers['content-length'] ?? 0);
      if (declared > maxBundleBytes) throw new BundleTooLargeProblem(maxBundleBytes);
      const scoped = scopedOf(request);
      if (!(request.body instanceof Readable)) {
        throw new BundleInvalidProblem('The request carries no bundle.', [{ path: '.', message: 'is empty' }]);
      }
      const result = await deployments.upload(scoped.workspaceId, request.body, {
        dryRun: request.query.dryRun === true,
        createdBy: scoped.userId,
        onStored: (tx, report) => enqueue(tx, deploymentReportKind, `deployment:${report.deploymentId}`, report),
      });
      options.outbox.wake();
      request.log.info(
        {
          workspaceId: scoped.workspaceId,
          deploymentId: result.deploymentId,
          dryRun: result.dryRun,
          sizeBytes: result.sizeBytes,
        },
        result.dryRun ? 'deployment checked' : 'deployment stored',
      );
      return result;
    },
  );

  app.get(
    '/workspaces/:workspaceId/deployments',
    {
      config: { scope: 'deployments:read' },
      schema: {
        tags,
        summary: "The workspace's deployments, newest (current) first",
        params: WorkspaceParams,
        response: { 200: DeploymentList },
      },
    },
    async (request) => ({ data: await deployments.list(scopedOf(request).workspaceId) }),
  );

  app.get(
    '/workspaces/:workspaceId/deployments/:deploymentId/manifest',
    {
      config: { scope: 'deployments:read' },
      schema: {
        tags,
        summary: 'The sovereign.yaml of a deployment, as uploaded',
        params: Closed({ workspaceId: Uuid, deploymentId: Uuid }),
        response: { 200: DeploymentManifest },
      },
    },
    async (request) => {
      const { text } = await deployments.manifest(scopedOf(request).workspaceId, request.params.deploymentId);
      return { deploymentId: request.params.deploymentId, manifest: text };
    },
  );
}
