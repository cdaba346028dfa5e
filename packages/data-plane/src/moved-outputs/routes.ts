import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  Closed,
  digestHeaderValue,
  ErrorCode,
  MovedOutput,
  MovedOutputList,
  MovedOutputQuery,
  Uuid,
} from '@sovereign/contract';
import { type App, BadRequestProblem, HttpProblem, NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { scopedOf } from '../auth/scoped.ts';
import { announcedDigest, DigestMismatchProblem } from '../http/digest.ts';
import { onlyMediaTypes } from '../http/media-type.ts';
import type { ArtifactStore } from '../storage/artifacts.ts';
import { FileTooLargeError, receiveFile } from './receive.ts';
import { findMovedOutput, listMovedOutputs, upsertMovedOutput } from './store.ts';

const tags = ['Moved outputs'];
/** Not closed: the wildcard (`*`, the path) is a parameter too, checked by pathOf(). */
const Params = Type.Object({ workspaceId: Uuid, runId: Uuid });

/** What the moved outputs' routes use. */
export interface MovedOutputRoutesOptions {
  db: Queryable;
  artifacts: ArtifactStore;
  /** The largest file taken: the most output bytes a job may ask of this data plane. */
  maxFileBytes: number;
}

const notFound = () => new NotFoundProblem(ErrorCode.outputNotFound, 'The workspace has no such moved output.');

const outputType = 'application/octet-stream';
const unsupported = () =>
  new HttpProblem(415, ErrorCode.unsupportedMediaType, `Send the output as ${outputType}.`, { accepted: [outputType] });

/** The output's path from the URL's wildcard: relative, without `.`, `..` or empty parts; else not found. */
function pathOf(request: FastifyRequest): string {
  const path = (request.params as { '*'?: string })['*'] ?? '';
  const parts = path.split('/');
  if (path.length === 0 || path.length > 1024 || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw notFound();
  }
  return path;
}

/**
 * Outputs of another workspace's runs, copied here by a client when that workspace moved
 * to this region (issue 22): written with `outputs:write` and their Digest (checked),
 * read with `runs:outputs`, like any run's outputs. The old region's data plane never
 * sends them: the client that moves the workspace reads them there and writes them here.
 */
export async function movedOutputRoutes(app: App, options: MovedOutputRoutesOptions) {
  const { db, artifacts, maxFileBytes } = options;

  app.put(
    '/workspaces/:workspaceId/moved-outputs/:runId/*',
    {
      config: { scope: 'outputs:write' },
      bodyLimit: maxFileBytes,
      onRequest: onlyMediaTypes([outputType], unsupported),
      schema: {
        tags,
        summary:
          'Store an output of a run of the workspace this one was moved from (the bytes, application/octet-stream)',
        description:
          'With a `Digest: sha-256=<base64>` header, as the old data plane’s download of the output sends it: other bytes are refused (400 digest_mismatch) and nothing is stored. A second copy of the same output replaces the first.',
        // The wildcard is checked by the handler: TypeBox's converter cannot take a property named '*'.
        params: Params,
        response: { 200: MovedOutput },
      },
    },
    async (request) => {
      const workspaceId = scopedOf(request).workspaceId;
      const path = pathOf(request);
      const expected = announcedDigest(request);
      if (expected === undefined) {
        throw new BadRequestProblem(ErrorCode.validationFailed, 'Send the output’s Digest: sha-256=<base64>.', {
          errors: [{ path: 'headers.digest', message: 'is required' }],
        });
      }
      // The octet-stream parser (the deployments' plugin, in the same scope) leaves it a stream.
      if (!(request.body instanceof Readable)) throw unsupported();
      let received: Awaited<ReturnType<typeof receiveFile>>;
      try {
        received = await receiveFile(request.body, artifacts.stagingDir, maxFileBytes);
      } catch (error) {
        if (!(error instanceof FileTooLargeError)) throw error;
        throw new HttpProblem(413, ErrorCode.bodyTooLarge, `The output is larger than ${maxFileBytes} bytes.`);
      }
      try {
        if (received.digest !== expected) throw new DigestMismatchProblem('output', expected, received.digest);
        // One key per (workspace, run, path): a second copy replaces the bytes atomically.
        const key = `moved-outputs/${workspaceId}/${request.params.runId}/${createHash('sha256').update(path).digest('hex')}`;
        await artifacts.putFile(key, received.tempPath);
        const stored = await upsertMovedOutput(db, {
          workspaceId,
          runId: request.params.runId,
          path,
          sizeBytes: received.sizeBytes,
          digest: received.digest,
          artifactKey: key,
        });
        request.log.info({ workspaceId, runId: stored.runId, sizeBytes: stored.sizeBytes }, 'moved output stored');
        return stored;
      } finally {
        await rm(received.tempPath, { force: true });
      }
    },
  );

  app.get(
    '/workspaces/:workspaceId/moved-outputs',
    {
      config: { scope: 'runs:outputs' },
      schema: {
        tags,
        summary: 'The outputs of runs of the workspace this one was moved from, copied here (of one run with runId)',
        params: Closed({ workspaceId: Uuid }),
        querystring: MovedOutputQuery,
        response: { 200: MovedOutputList },
      },
    },
    async (request) => ({
      data: await listMovedOutputs(db, scopedOf(request).workspaceId, request.query.runId ?? null),
    }),
  );

  app.get(
    '/workspaces/:workspaceId/moved-outputs/:runId/*',
    {
      config: { scope: 'runs:outputs' },
      schema: { tags, summary: 'Download a moved output', params: Params },
    },
    async (request, reply) => {
      const path = pathOf(request);
      const found = await findMovedOutput(db, scopedOf(request).workspaceId, request.params.runId, path);
      if (found === undefined) throw notFound();
      const name = path.split('/').at(-1) ?? 'output';
      reply
        .type('application/octet-stream')
        .header('content-length', String(found.sizeBytes))
        .header('digest', digestHeaderValue(found.digest))
        .header('content-disposition', `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"`);
      return reply.send(await artifacts.openRead(found.artifactKey));
    },
  );
}
