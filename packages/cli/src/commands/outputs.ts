import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
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
        const dp = await ctx.dataPlane(['runs:outputs'], found.workspaceId);
        const files = await dp.outputs(found.runId);
        const { output } = ctx;
        output.result({ runId: found.runId, data: files }, () =>
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
        const dp = await ctx.dataPlane(['runs:outputs'], found.workspaceId);
        const response = await dp.output(found.runId, path);
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
