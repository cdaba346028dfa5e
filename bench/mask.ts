/**
 * A micro-benchmark of log masking, apart from `npm run bench` (no platform): the cost of
 * turning a job's output into masked lines, in ms of CPU time per MB, with 0, 1, 10 (and a PEM key)
 * and 50 secrets. `node bench/mask.ts [dir]` measures the logs modules in `dir` (default:
 * this tree's), so an older version (`git show <rev>:packages/data-plane/src/logs/…`
 * into a directory) can be measured the same way: one whose Masker has no stream() is
 * driven as its pump drove it, each line masked after it was cut.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Line {
  text: string;
}
interface Assembler {
  push(chunk: Buffer): Line[];
  end(): Line[];
}
interface MaskerLike {
  mask(text: string): string;
  stream?: unknown;
}

const dir = resolve(process.argv[2] ?? new URL('../packages/data-plane/src/logs/', import.meta.url).pathname);
const { LineAssembler } = (await import(pathToFileURL(`${dir}/lines.ts`).href)) as {
  LineAssembler: new (stream: 'stdout', masker?: MaskerLike) => Assembler;
};
const { Masker } = (await import(pathToFileURL(`${dir}/mask.ts`).href)) as {
  Masker: new (secrets: string[]) => MaskerLike;
};

/** Log-like lines of about 100 bytes; one in a thousand holds a secret. */
function output(megabytes: number, secrets: string[]): Buffer {
  const words = ['INFO', 'GET', '/api/v1/items', 'took', 'ms', 'user', 'status=200', 'retrying', '{"id":', 'done'];
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < megabytes * 1024 * 1024; i++) {
    let line = `2025-01-01T00:00:${String(i % 60).padStart(2, '0')}.123Z`;
    while (line.length < 100)
      line += ` ${words[(i * 7 + line.length) % words.length]} ${(Math.imul(i, 2654435761) >>> 0).toString(16)}`;
    if (i % 1000 === 0 && secrets.length > 0) line += ` token=${secrets[i % secrets.length]}`;
    lines.push(line);
    size += line.length + 1;
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

const megabytes = 16;
const pem = `-----BEGIN PRIVATE KEY-----\n${randomBytes(1200)
  .toString('base64')
  .replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----`;
for (const count of [0, 1, 10, 50]) {
  const secrets = Array.from({ length: count }, () => randomBytes(24).toString('base64url'));
  if (count === 10) secrets.push(pem);
  const data = output(megabytes, secrets);
  // Built 6 times: the first (code not yet optimised, as in a data plane's first run) and the median of the others.
  const builds: number[] = [];
  let masker = new Masker([]);
  for (let round = 0; round < 6; round++) {
    const start = process.cpuUsage();
    masker = new Masker(secrets);
    const used = process.cpuUsage(start);
    builds.push((used.user + used.system) / 1000);
  }
  const firstBuild = builds[0] as number;
  const build = builds.slice(1).sort((a, b) => a - b)[2] as number;
  const streaming = typeof masker.stream === 'function';
  const times: number[] = [];
  for (let round = 0; round < 7; round++) {
    // CPU time, not wall-clock time: the measure holds on a busy machine.
    const start = process.cpuUsage();
    const lines = streaming ? new LineAssembler('stdout', masker) : new LineAssembler('stdout');
    const take = (out: Line[]) => {
      if (!streaming) for (const line of out) masker.mask(line.text);
    };
    for (let at = 0; at < data.length; at += 65536) take(lines.push(data.subarray(at, at + 65536)));
    take(lines.end());
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / 1000);
  }
  // The first two rounds warm the code up.
  const warm = times.slice(2).sort((a, b) => a - b);
  const perMb = (warm[2] as number) / (data.length / 1024 / 1024);
  console.log(
    `${String(count).padStart(2)} secrets${count === 10 ? ' + a PEM key' : ''}: ${perMb.toFixed(2)} ms of CPU per MB (median of 5 over ${megabytes} MB); masker built in ${build.toFixed(1)} ms (the first time ${firstBuild.toFixed(1)} ms)`,
  );
}
