import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { realtimeMs } from './lib/clock.ts';
import { type BenchContext, detailsKey } from './lib/context.ts';
import { watchMemory } from './lib/memory.ts';
import { call, deployProject } from './lib/platform.ts';

/** A gzipped tar of a manifest and `bytes` of random data (incompressible, so it stays that big). */
async function bigBundle(dir: string, bytes: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'sovereign.yaml'), 'jobs:\n  - name: big\n    run: ls -l big.bin\n');
  await pipeline(
    Readable.from(
      (function* () {
        for (let left = bytes; left > 0; left -= 1024 * 1024) yield randomBytes(Math.min(left, 1024 * 1024));
      })(),
    ),
    createWriteStream(join(dir, 'big.bin')),
  );
  const path = join(dir, 'bundle.tar.gz');
  const packed = tar.c({ gzip: { level: 1 }, cwd: dir, portable: true }, ['sovereign.yaml', 'big.bin']);
  await pipeline(Readable.from(packed as unknown as AsyncIterable<Buffer>), createWriteStream(path));
  return path;
}

/**
 * Deploy: a 200 MB bundle streamed to a data plane (validated whole, stored, reported):
 * MB/s from the first byte sent to the answer, and the data plane's resident memory
 * (sampled every 20 ms, and the kernel's high-water mark reset just before).
 */
export async function deployBench(ctx: BenchContext): Promise<void> {
  const bytes = ctx.smoke ? 2 * 1024 * 1024 : 200 * 1024 * 1024;
  const deployed = await deployProject(ctx.platform, 'us', 'deploy', {
    'sovereign.yaml': 'jobs:\n  - name: small\n    run: "true"\n',
  });
  const bundle = await bigBundle(join(ctx.scratch, 'big-bundle'), bytes);
  const size = (await stat(bundle)).size;
  const memory = await watchMemory(ctx.platform.dp('us-1').service.process.pid as number);
  const began = realtimeMs();
  let answer: Awaited<ReturnType<typeof call>>;
  let rss = { beforeMiB: 0, peakMiB: 0 };
  try {
    answer = await call('POST', `${deployed.dp}/workspaces/${deployed.workspaceId}/deployments`, {
      token: deployed.token,
      raw: Readable.toWeb(createReadStream(bundle)) as ReadableStream,
      headers: { 'content-type': 'application/gzip', 'content-length': String(size) },
    });
  } finally {
    rss = await memory.stop();
  }
  const seconds = (realtimeMs() - began) / 1000;
  if (answer.status !== 200) throw new Error(`deploy answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const mb = size / 1e6;
  ctx.details[detailsKey(ctx, 'deploy')] = {
    bundleBytes: size,
    seconds,
    rssBeforeMiB: rss.beforeMiB,
    peakMiB: rss.peakMiB,
  };
  ctx.figures.push({
    bench: 'deploy',
    name: `${mb.toFixed(0)} MB bundle upload`,
    target: ctx.target,
    value: mb / seconds,
    unit: 'MB/s',
    better: 'higher',
    note: `${seconds.toFixed(2)} s`,
  });
  ctx.figures.push({
    bench: 'deploy',
    name: 'data plane peak resident memory',
    target: ctx.target,
    value: rss.peakMiB,
    unit: 'MiB',
    better: 'lower',
    note: `${rss.beforeMiB.toFixed(0)} MiB before the upload`,
  });
}
