import { realtimeMs, sleep } from './lib/clock.ts';
import { type BenchContext, peerOnce } from './lib/context.ts';
import { call, deployProject, trigger } from './lib/platform.ts';
import { inParallel } from './lib/stats.ts';
import { GraphilePeer, jailedPlatform } from './peers/graphile.ts';

/** Runs in flight at once per data plane, and graphile-worker's concurrency per worker: two cores' worth. */
const capacity = 2;
const triggersInFlight = 4;

/**
 * Throughput: short runs (a process that runs `date`) completed per second with two data
 * planes of capacity 2, from the first trigger to the moment the control plane has every
 * run's end. The peer: graphile-worker with two worker processes of concurrency 2, jobs
 * added as ours are triggered (4 at a time), with a no-op task, with a task that
 * starts the same process, and (platform jailed) with one that starts it in the same jail.
 */
export async function throughputBench(ctx: BenchContext): Promise<void> {
  const total = ctx.smoke ? 6 : 1000;
  const project = { 'sovereign.yaml': 'jobs:\n  - name: short\n    run: date +%s%N > /dev/null\n' };
  const planes = [
    await deployProject(ctx.platform, 'us', 'throughput-us', project),
    await deployProject(ctx.platform, 'eu', 'throughput-eu', project),
  ];
  const begin = realtimeMs();
  await inParallel(
    Array.from({ length: total }, (_, i) => i),
    triggersInFlight,
    async (i) => {
      const plane = planes[i % planes.length] as (typeof planes)[number];
      await trigger(ctx.platform, plane.tenant.token, plane.jobs.short as string);
    },
  );
  const triggered = realtimeMs();
  // Done when no run of either workspace is queued, claimed or running on the control plane.
  for (;;) {
    let pending = false;
    for (const plane of planes) {
      for (const status of ['queued', 'claimed', 'running']) {
        const page = await call(
          'GET',
          `${ctx.platform.cp}/runs?workspaceId=${plane.workspaceId}&status=${status}&limit=1`,
          {
            token: plane.tenant.token,
          },
        );
        if (page.body.data.length > 0) pending = true;
      }
    }
    if (!pending) break;
    // Every look is six requests to the control plane and six queries: looked at every
    // 50 ms, the bench's own polling took a tenth of the machine it measures. Half a
    // second is under 1% of a 1,000-run measurement.
    await sleep(500);
  }
  const seconds = (realtimeMs() - begin) / 1000;
  for (const plane of planes) {
    for (const status of ['failed', 'lost', 'timed_out']) {
      const page = await call(
        'GET',
        `${ctx.platform.cp}/runs?workspaceId=${plane.workspaceId}&status=${status}&limit=1`,
        {
          token: plane.tenant.token,
        },
      );
      if (page.body.data.length > 0) throw new Error(`a throughput run ended ${status}`);
    }
  }
  const ours = total / seconds;
  const peer = await peerOnce(ctx, 'throughput', async (url) => {
    const graphile = await GraphilePeer.start(url, 2, capacity);
    try {
      await graphile.throughput('noop', ctx.smoke ? 4 : 50, triggersInFlight);
      const noop = await graphile.throughput('noop', total, triggersInFlight);
      const spawn = await graphile.throughput('spawn', total, triggersInFlight);
      if (!jailedPlatform) return { noop, spawn };
      const jail = await graphile.throughput('jail', total, triggersInFlight);
      return { noop, spawn, jail };
    } finally {
      await graphile.stop();
    }
  });
  ctx.details[`throughput.${ctx.target}`] = {
    runs: total,
    seconds,
    triggerSeconds: (triggered - begin) / 1000,
    peer: peer ?? 'not measured: no PostgreSQL',
  };
  const figure = (name: string, peerValue: number | undefined, peerName: string) =>
    ctx.figures.push({
      bench: 'throughput',
      name,
      target: ctx.target,
      value: ours,
      unit: 'runs/s',
      better: 'higher',
      peer: peerValue === undefined ? undefined : { name: peerName, value: peerValue },
      note: `${total} runs, 2 data planes x capacity ${capacity}, triggered ${triggersInFlight} at a time`,
    });
  figure('short runs completed per second', peer?.spawn.perSecond, 'graphile-worker, task spawns sh (2x2)');
  if (peer?.jail !== undefined) {
    figure('vs the same jail', peer.jail.perSecond, 'graphile-worker, task starts the same jail (2x2)');
  }
  figure('vs a no-op task', peer?.noop.perSecond, 'graphile-worker, no-op task (2x2)');
}
