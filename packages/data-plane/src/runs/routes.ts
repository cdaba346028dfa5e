import {
  Closed,
  ErrorCode,
  type LogEnd,
  LogPage,
  LogQuery,
  OutputFileList,
  runDurationMs,
  Uuid,
} from '@sovereign/contract';
import { type App, NotFoundProblem } from '@sovereign/server-kit/http';
import type { Queryable } from '@sovereign/server-kit/sql';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { scopedOf } from '../auth/scoped.ts';
import type { TokenVerifier } from '../auth/verify-token.ts';
import { corsHeaders } from '../http/cors.ts';
import type { LogStore } from '../logs/store.ts';
import type { ArtifactStore } from '../storage/artifacts.ts';
import type { Row } from '../storage/tables.ts';
import { type LocalRun, localRun, terminalLocal } from './store.ts';

const RunParams = Closed({ runId: Uuid });
/** How long a follower waits for a new line before reading again (another instance may be writing). */
const followPollMs = 500;
/** Lines read and sent at a time to a follower. */
const followPageLines = 2000;

/** What the run routes use: the runs' rows, their logs, the store their outputs are in, and the tokens' verifier. */
export interface RunRoutesOptions {
  db: Queryable;
  logs: LogStore;
  artifacts: ArtifactStore;
  verifier: Pick<TokenVerifier, 'stillValid'>;
}

/** Logs and outputs of runs, read by scoped token straight from this data plane (R2). */
export async function runRoutes(app: App, options: RunRoutesOptions) {
  const { db, logs, artifacts, verifier } = options;
  const notFound = () => new NotFoundProblem(ErrorCode.runNotFound, 'No such run on this data plane.');

  /** The run, if it belongs to the token's workspace: another workspace's run does not exist here. */
  async function runFor(request: FastifyRequest, runId: string): Promise<LocalRun> {
    const run = await localRun(db, runId);
    if (run === undefined || run.workspace_id !== scopedOf(request).workspaceId) throw notFound();
    return run;
  }

  app.get(
    '/runs/:runId/logs',
    {
      config: { scope: 'runs:logs' },
      schema: {
        tags: ['Runs'],
        summary: 'A run’s log lines; with follow=true, server-sent events until the run ends',
        params: RunParams,
        querystring: LogQuery,
        response: { 200: LogPage },
      },
    },
    async (request, reply) => {
      const run = await runFor(request, request.params.runId);
      let after = request.query.after ?? 0;
      if (request.query.follow !== true) {
        const lines = await logs.read(run.run_id, after, request.query.limit ?? 1000);
        const ended = terminalLocal.has(run.status) && lines.length < (request.query.limit ?? 1000);
        return { data: lines, nextAfter: lines.at(-1)?.seq ?? after, ended, status: run.status };
      }
      // The response's close, not the request's (that one fires once the request is read).
      const closed = new AbortController();
      reply.raw.on('close', () => closed.abort());
      reply.hijack();
      const out = reply.raw;
      out.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        ...corsHeaders(reply.getHeaders()),
      });
      out.write(': following\n\n');
      /**
       * Sends every line after `after` there is, a page at a time as one write each (an
       * archived range is read once, as it is sent); resolves to how many.
       */
      const send = async (): Promise<number> => {
        let sent = 0;
        for await (const lines of logs.pages(run.run_id, after, followPageLines)) {
          if (closed.signal.aborted) break;
          let events = '';
          for (const line of lines) events += `id: ${line.seq}\nevent: line\ndata: ${JSON.stringify(line)}\n\n`;
          after = (lines.at(-1) as (typeof lines)[number]).seq;
          sent += lines.length;
          // A slow follower holds us here rather than its lines piling up in our memory.
          if (!out.write(events)) {
            await new Promise<void>((resolve) => {
              const done = () => {
                out.off('drain', done).off('close', done);
                resolve();
              };
              out.on('drain', done).on('close', done);
            });
          }
        }
        return sent;
      };
      const principal = scopedOf(request);
      while (!closed.signal.aborted) {
        // A token that expired or was revoked since the stream opened is served no further
        // line: the stream ends without its end event, and a client asks again with a
        // token it may have (the CLI renews an expired one and resumes after its last line).
        if (!verifier.stillValid(principal)) break;
        // Listen before reading, so a line stored in between still wakes us.
        const woken = logs.wait(run.run_id, followPollMs, closed.signal);
        await send();
        const now = await localRun(db, run.run_id);
        if (now !== undefined && terminalLocal.has(now.status)) {
          // Every line is stored before a run ends here: send what is left, then the end.
          while (!closed.signal.aborted && (await send()) > 0) {}
          const end: LogEnd = {
            status: now.status,
            exitCode: now.exit_code,
            durationMs: runDurationMs(now.started_at, now.finished_at),
          };
          out.write(`event: end\ndata: ${JSON.stringify(end)}\n\n`);
          break;
        }
        await woken;
      }
      out.end();
    },
  );

  app.get(
    '/runs/:runId/outputs',
    {
      config: { scope: 'runs:outputs' },
      schema: {
        tags: ['Runs'],
        summary: 'The files a run left in its output directory',
        params: RunParams,
        response: { 200: OutputFileList },
      },
    },
    async (request) => {
      const run = await runFor(request, request.params.runId);
      const rows = await db.query<Row<'run_outputs', 'path' | 'size_bytes' | 'digest' | 'created_at'>>(
        'SELECT path, size_bytes, digest, created_at FROM run_outputs WHERE run_id = $1 ORDER BY path',
        [run.run_id],
      );
      return {
        data: rows.map((r) => ({
          path: r.path,
          sizeBytes: Number(r.size_bytes),
          digest: r.digest,
          createdAt: r.created_at.toISOString(),
        })),
      };
    },
  );

  app.get(
    '/runs/:runId/outputs/*',
    {
      config: { scope: 'runs:outputs' },
      schema: {
        tags: ['Runs'],
        summary: 'Download one output file',
        // The wildcard is checked below: TypeBox's converter cannot take a property named '*'.
        params: Type.Object({ runId: Uuid }),
      },
    },
    async (request, reply) => {
      const path = (request.params as { '*'?: string })['*'] ?? '';
      if (path.length === 0 || path.length > 1024)
        throw new NotFoundProblem(ErrorCode.outputNotFound, 'The run has no such output.');
      const run = await runFor(request, request.params.runId);
      const [row] = await db.query<Row<'run_outputs', 'artifact_key' | 'size_bytes' | 'digest'>>(
        'SELECT artifact_key, size_bytes, digest FROM run_outputs WHERE run_id = $1 AND path = $2',
        [run.run_id, path],
      );
      if (row === undefined) throw new NotFoundProblem(ErrorCode.outputNotFound, 'The run has no such output.');
      const name = path.split('/').at(-1) ?? 'output';
      reply
        .type('application/octet-stream')
        .header('content-length', String(row.size_bytes))
        .header('digest', `sha-256=${Buffer.from(row.digest.slice(7), 'hex').toString('base64')}`)
        .header('content-disposition', `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"`);
      return reply.send(await artifacts.openRead(row.artifact_key));
    },
  );
}
