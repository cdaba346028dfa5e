import { Readable } from 'node:stream';
import {
  Closed,
  DeploymentList,
  DeploymentManifest,
  DeployQuery,
  DeployResult,
  digestHeaderValue,
  ErrorCode,
  Uuid,
} from '@sovereign/contract';
import { type App, HttpProblem } from '@sovereign/server-kit/http';
import type { FastifyReply } from 'fastify';
import { scopedOf } from '../auth/scoped.ts';
import { corsHeaders } from '../http/cors.ts';
import { announcedDigest } from '../http/digest.ts';
import { onlyMediaTypes } from '../http/media-type.ts';
import { enqueue, type OutboxDeliverer } from '../outbox/outbox.ts';
import { BundleInvalidProblem, BundleMediaTypeProblem, BundleTooLargeProblem } from './errors.ts';
import { deploymentReportKind } from './report.ts';
import type { Deployments } from './service.ts';

const WorkspaceParams = Closed({ workspaceId: Uuid });

/**
 * An environment's build, streamed to the client that uploaded it (it stays in the
 * region: the data plane answers the client directly). The stream starts with the first
 * line of output; the deployment's answer, or its refusal, is its last event.
 */
class BuildEvents {
  readonly #reply: FastifyReply;
  started = false;

  constructor(reply: FastifyReply) {
    this.#reply = reply;
  }

  line(line: string): void {
    this.#start();
    this.#reply.raw.write(`event: build\ndata: ${JSON.stringify({ line })}\n\n`);
  }

  end(event: 'result' | 'problem', data: unknown): void {
    this.#reply.raw.end(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #start(): void {
    if (this.started) return;
    this.started = true;
    this.#reply.hijack();
    this.#reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      ...corsHeaders(this.#reply.getHeaders()),
    });
  }
}
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
      onRequest: onlyMediaTypes(bundleTypes, () => new BundleMediaTypeProblem(bundleTypes)),
      schema: {
        tags,
        summary: 'Upload a project (a gzipped tar with sovereign.yaml at its root) as a new deployment',
        description:
          "A `Digest: sha-256=<base64>` header (as the bundle download sends it) is checked against the bytes received: others are refused with 400 digest_mismatch and nothing is stored. With dryRun=true the bundle is validated and the job changes reported; nothing is stored. With `Accept: text/event-stream`, an environment the bundle declares is built with its output streamed as `build` events ({line}), and the answer is the last event: `result` (this route's 200 body) or `problem` (a problem document; the deployment was refused). Without a build the answer is plain JSON.",
        params: WorkspaceParams,
        querystring: DeployQuery,
        response: { 200: DeployResult },
      },
    },
    async (request, reply) => {
      const declared = Number(request.headers['content-length'] ?? 0);
      if (declared > maxBundleBytes) throw new BundleTooLargeProblem(maxBundleBytes);
      // A client that sends the digest (a copy of another data plane's bundle) has it checked.
      const expectedDigest = announcedDigest(request);
      const scoped = scopedOf(request);
      if (!(request.body instanceof Readable)) {
        throw new BundleInvalidProblem('The request carries no bundle.', [{ path: '.', message: 'is empty' }]);
      }
      // A client that takes server-sent events hears an environment's build as it goes;
      // the answer is then the stream's last event. Without a build, it is a plain answer.
      const events = (request.headers.accept ?? '').includes('text/event-stream') ? new BuildEvents(reply) : undefined;
      let result: Awaited<ReturnType<Deployments['upload']>>;
      try {
        result = await deployments.upload(scoped.workspaceId, request.body, {
          dryRun: request.query.dryRun === true,
          createdBy: scoped.userId,
          ...(expectedDigest === undefined ? {} : { expectedDigest }),
          onStored: (tx, report) => enqueue(tx, deploymentReportKind, `deployment:${report.deploymentId}`, report),
          ...(events === undefined ? {} : { onBuildLine: (line: string) => events.line(line) }),
        });
      } catch (error) {
        if (events?.started !== true) throw error;
        if (!(error instanceof HttpProblem)) request.log.error({ err: error }, 'deployment failed while streaming');
        const problem =
          error instanceof HttpProblem
            ? error
            : new HttpProblem(500, ErrorCode.internal, `Something went wrong; quote request id ${request.id}.`);
        events.end('problem', problem.toDocument());
        return reply;
      }
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
      if (events?.started === true) {
        events.end('result', result);
        return reply;
      }
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
    '/workspaces/:workspaceId/deployments/:deploymentId/bundle',
    {
      config: { scope: 'deployments:read' },
      schema: {
        tags,
        summary: 'Download a deployment’s bundle, as uploaded (a gzipped tar)',
        description:
          'With its Content-Length and a `Digest: sha-256=<base64>` header, which an upload may send back so that the receiving data plane checks the bytes: how a workspace moved to another region gets its bundle, through the client (never from one data plane to the other).',
        params: Closed({ workspaceId: Uuid, deploymentId: Uuid }),
      },
    },
    async (request, reply) => {
      const workspaceId = scopedOf(request).workspaceId;
      const bundle = await deployments.download(workspaceId, request.params.deploymentId);
      request.log.info(
        { workspaceId, deploymentId: request.params.deploymentId, sizeBytes: bundle.sizeBytes },
        'bundle downloaded',
      );
      reply
        .type('application/gzip')
        .header('content-length', String(bundle.sizeBytes))
        .header('digest', digestHeaderValue(bundle.digest))
        .header('content-disposition', `attachment; filename="${request.params.deploymentId}.tar.gz"`);
      return reply.send(bundle.body);
    },
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
