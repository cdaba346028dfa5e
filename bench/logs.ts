import { realtimeMs, sleep } from './lib/clock.ts';
import { type BenchContext, detailsKey } from './lib/context.ts';
import { watchMemory } from './lib/memory.ts';
import { deployProject, trigger } from './lib/platform.ts';
import { summarize } from './lib/stats.ts';

/**
 * The job: writes `bytes` of lines to stdout as fast as the pipe takes them, each line
 * `<seq> <ms since the epoch when written> <filler>`, 100 bytes with its newline.
 */
const writer = `
const total = Number(process.argv[2]);
const lineBytes = 100;
const lines = Math.floor(total / lineBytes);
const filler = 'x'.repeat(lineBytes);
let seq = 0;
function more() {
  while (seq < lines) {
    const stamp = (performance.timeOrigin + performance.now()).toFixed(3);
    let chunk = '';
    for (let i = 0; i < 640 && seq < lines; i++, seq++) {
      const head = seq + ' ' + stamp + ' ';
      chunk += head + filler.slice(0, lineBytes - head.length - 1) + '\\n';
    }
    if (!process.stdout.write(chunk)) return process.stdout.once('drain', more);
  }
}
more();
`;

/**
 * Logs: a job writes 100 MB to stdout (one million 100-byte lines) while a client follows
 * its logs as server-sent events from the data plane. Measured: the time from the job's
 * first line to the follower holding the last (every line stored, then delivered), and
 * each line's latency from its write to its arrival at the follower.
 */
export async function logsBench(ctx: BenchContext): Promise<void> {
  const bytes = ctx.smoke ? 1024 * 1024 : Number(process.env.SOV_BENCH_LOG_MB ?? 100) * 1024 * 1024;
  const expected = Math.floor(bytes / 100);
  const deployed = await deployProject(ctx.platform, 'us', 'logs', {
    'sovereign.yaml': `jobs:\n  - name: loud\n    run: node write.js ${bytes}\n    timeout: 30m\n`,
    'write.js': writer,
  });
  const memory = await watchMemory(ctx.platform.dp('us-1').service.process.pid as number);
  const runId = await trigger(ctx.platform, deployed.tenant.token, deployed.jobs.loud as string);
  const triggeredAt = realtimeMs();
  /** Opens the follow stream after line `after`; the run may not have reached the data plane yet. */
  const follow = async (after: number): Promise<Response> => {
    for (;;) {
      const response = await fetch(`${deployed.dp}/runs/${runId}/logs?follow=true&after=${after}`, {
        headers: { authorization: `Bearer ${deployed.token}` },
      });
      if (response.status === 200) return response;
      await response.body?.cancel();
      if (response.status !== 404) throw new Error(`following logs: ${response.status}`);
      await sleep(5);
    }
  };
  let response = await follow(0);
  const followingAt = realtimeMs();
  const latencies: number[] = [];
  let received = 0;
  let firstStamp = Number.NaN;
  let lastLineAt = Number.NaN;
  let end: { status: string } | undefined;
  const breaks: string[] = [];
  while (end === undefined) {
    let buffer = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        const now = realtimeMs();
        buffer += decoder.decode(chunk, { stream: true });
        const cut = buffer.lastIndexOf('\n\n');
        if (cut < 0) continue;
        const events = buffer.slice(0, cut).split('\n\n');
        buffer = buffer.slice(cut + 2);
        for (const event of events) {
          const data = event.slice(event.indexOf('data: ') + 6);
          if (event.includes('event: line')) {
            const line = (JSON.parse(data) as { line: string }).line;
            const space = line.indexOf(' ');
            const stamp = Number(line.slice(space + 1, line.indexOf(' ', space + 1)));
            if (received === 0) firstStamp = stamp;
            latencies.push(now - stamp);
            received += 1;
            lastLineAt = now;
          } else if (event.includes('event: end')) {
            end = JSON.parse(data);
          }
        }
      }
      if (end === undefined) throw new Error('the stream ended without an end event');
    } catch (error) {
      // A follower resumes after the last line it holds, as a client of the API would.
      const cause = error instanceof Error ? `${error.message} (${String(error.cause)})` : String(error);
      breaks.push(`after ${received} lines, ${((realtimeMs() - followingAt) / 1000).toFixed(1)} s: ${cause}`);
      ctx.log(`logs: the follow stream broke ${breaks.at(-1)}; resuming`);
      if (breaks.length > 20) throw new Error(`the follow stream broke ${breaks.length} times`);
      response = await follow(received);
    }
  }
  const rss = await memory.stop();
  if (end?.status !== 'succeeded') throw new Error(`the loud run ended ${end?.status}`);
  if (received !== expected) throw new Error(`the follower got ${received} lines of ${expected}`);
  const seconds = (lastLineAt - firstStamp) / 1000;
  const perLine = summarize(latencies);
  const mb = bytes / 1e6;
  ctx.details[detailsKey(ctx, 'logs')] = {
    bytes,
    lines: expected,
    secondsFirstLineToFollowerHasAll: seconds,
    secondsTriggerToFollowing: (followingAt - triggeredAt) / 1000,
    perLineLatencyMs: perLine,
    followStreamBreaks: breaks,
    dataPlaneMemoryMiB: rss,
  };
  const push = (name: string, value: number, unit: string, note?: string) =>
    ctx.figures.push({ bench: 'logs', name, target: ctx.target, value, unit, better: 'lower', note });
  const resumed = breaks.length === 0 ? '' : `; the follow stream broke ${breaks.length}x and was resumed`;
  push(
    `${mb.toFixed(0)} MB stored and delivered to a follower`,
    seconds,
    's',
    `${(mb / seconds).toFixed(1)} MB/s${resumed}`,
  );
  push('follower latency per line p50', perLine.p50, 'ms');
  push('follower latency per line p99', perLine.p99, 'ms');
  push('data plane peak resident memory', rss.peakMiB, 'MiB', `${rss.beforeMiB.toFixed(0)} MiB before the run`);
}
