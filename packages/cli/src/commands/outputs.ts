import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { OutputFile, Run } from '@sovereign/contract';
import type { Command } from 'commander';
import type { Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { bytes, relativeTime } from '../output/format.ts';
import { findRun } from '../resolve.ts';
import { act, argsOf } from './command.ts';

/** Where `-o` writes: into a directory that exists, or to that file. */
async function destination(target: string, path: string): Promise<string> {
  try {
    if ((await stat(target)).isDirectory()) return join(target, basename(path));
  } catch {
    // a new file
  }
  return target;
}

/**
 * Where a run's outputs are read: copies in the workspace its own was moved to, when the
 * move copied them (`sov workspace move --with-outputs`), else its own data plane.
 */
async function outputsOf(ctx: Context, run: Run) {
  const workspace = await (await ctx.controlPlane()).workspace(run.workspaceId);
  const moved = workspace.movedTo;
  if (moved?.status === 'completed') {
    const copies = await ctx.dataPlane(['runs:outputs'], moved.toWorkspaceId);
    const files = await copies.movedOutputs(run.runId);
    if (files.length > 0) {
      return {
        // As the run's own outputs are listed; a copy is dated when it was copied.
        files: files.map(
          (f): OutputFile => ({ path: f.path, sizeBytes: f.sizeBytes, digest: f.digest, createdAt: f.movedAt }),
        ),
        open: (path: string) => copies.movedOutput(run.runId, path),
        copiedTo: moved,
      };
    }
  }
  const dp = await ctx.dataPlane(['runs:outputs'], run.workspaceId);
  return { files: await dp.outputs(run.runId), open: (path: string) => dp.output(run.runId, path), copiedTo: null };
}

/** `sov outputs list|get <run>`: the files a run left, read from its data plane. */
export function outputCommands(program: Command): void {
  const outputs = program.command('outputs').description('the files runs left in $SOV_OUTPUT_DIR');

  outputs
    .command('list')
    .description("a run's output files")
    .argument('<run>', 'run id (or its first characters)')
    .action(
      act(async (ctx, command) => {
        const [given] = argsOf<[string]>(command);
        const found = await findRun(await ctx.controlPlane(), given, () => ctx.workspace());
        const { files, copiedTo } = await outputsOf(ctx, found);
        const { output } = ctx;
        if (copiedTo !== null) {
          output.note(
            output.err.dim(
              `Copies in ${copiedTo.toWorkspaceName} (region ${copiedTo.toDataResidency}), made when ${copiedTo.fromWorkspaceName} moved there.`,
            ),
          );
        }
        output.result({ runId: found.runId, data: files, copiedTo }, () =>
          output.table(
            files,
            [
              { header: 'path', value: (f) => output.out.bold(f.path) },
              { header: 'size', value: (f) => bytes(f.sizeBytes), align: 'right' },
              { header: 'created', value: (f) => relativeTime(f.createdAt) },
              { header: 'digest', value: (f) => output.out.dim(f.digest) },
            ],
            'The run left no outputs.',
          ),
        );
      }),
    );

  outputs
    .command('get')
    .description('download one output file: to stdout, or to a file with -o')
    .argument('<run>', 'run id (or its first characters)')
    .argument('<path>', 'its path, as outputs list shows it')
    .option('-o, --output <file>', 'write it here (a directory keeps its name)')
    .action(
      act(async (ctx, command) => {
        const [given, path] = argsOf<[string, string]>(command);
        // A URL would fold `..` away and ask for another route: refuse it here, in words.
        if (path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '.' || part === '')) {
          throw new UsageError(
            `"${path}" is not an output's path: paths are relative to the run's outputs, without . or .. parts.`,
            `List them with: sov outputs list ${given}`,
          );
        }
        const target = command.opts<{ output?: string }>().output;
        const found = await findRun(await ctx.controlPlane(), given, () => ctx.workspace());
        const response = await (await outputsOf(ctx, found)).open(path);
        const size = Number(response.headers.get('content-length') ?? 0);
        const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
        const { output } = ctx;
        if (target !== undefined) {
          const file = await destination(target, path);
          await pipeline(body, createWriteStream(file));
          output.result({ runId: found.runId, path, sizeBytes: size, savedTo: file }, () =>
            output.line(`${output.out.green('✓')} Saved ${path} (${bytes(size)}) to ${file}.`),
          );
          return;
        }
        if (output.json) {
          const chunks: Buffer[] = [];
          for await (const chunk of body) chunks.push(chunk as Buffer);
          const content = Buffer.concat(chunks);
          const text = new TextDecoder('utf-8', { fatal: false }).decode(content);
          const isText = Buffer.from(text, 'utf8').equals(content);
          output.data({
            runId: found.runId,
            path,
            sizeBytes: content.length,
            ...(isText ? { content: text } : { contentBase64: content.toString('base64') }),
          });
          return;
        }
        // As is, like cat: pipe it, or read it.
        await pipeline(
          body,
          new Writable({ write: (chunk, _encoding, done) => process.stdout.write(chunk, () => done()) }),
        );
      }),
    );
}
