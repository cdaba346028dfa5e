import { nsTextToMs, realtimeMs } from './lib/clock.ts';
import { type BenchContext, peerOnce } from './lib/context.ts';
import { type Deployed, deployProject, expectStatus, runEnded } from './lib/platform.ts';
import { type Summary, summarize } from './lib/stats.ts';
import { GraphilePeer, jailedPlatform } from './peers/graphile.ts';

/**
 * Dispatch latency: from the answer to `POST /jobs/{id}/runs` to the job's process having
 * started on the data plane, stamped by the process itself (`date +%s%N`, into an output
 * file: a jailed job reaches no directory of ours), one run at a time, each finished
 * before the next is triggered. The peer: graphile-worker's add-job to
 * task-start, with a no-op task, with a task that starts the same kind of process, and
 * (platform jailed) with a task that starts it in the same jail (peers/jail.ts).
 */
export async function dispatchBench(ctx: BenchContext): Promise<void> {
  // SOV_BENCH_DISPATCH_RUNS: fewer runs, for a quick look while working on the start path.
  const runs = ctx.smoke ? 5 : Number(process.env.SOV_BENCH_DISPATCH_RUNS) || 1000;
  const warmup = ctx.smoke ? 1 : 20;
  const deployed = await deployProject(ctx.platform, 'us', 'dispatch', {
    'sovereign.yaml': 'jobs:\n  - name: stamp\n    run: date +%s%N > $SOV_OUTPUT_DIR/stamp\n',
  });
  const jobId = deployed.jobs.stamp as string;
  const userToken = deployed.tenant.token;
  const latencies: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const run = await expectStatus(200, 'POST', `${ctx.platform.cp}/jobs/${jobId}/runs`, { token: userToken });
    const answeredAt = realtimeMs();
    const status = await runEnded(ctx.platform, userToken, run.runId);
    if (status !== 'succeeded') throw new Error(`dispatch run ${run.runId} ended ${status}`);
    const stamp = await outputText(ctx, deployed, run.runId, 'stamp');
    if (i >= warmup) latencies.push(nsTextToMs(stamp) - answeredAt);
  }
  const ours = summarize(latencies);
  const peer = await peerOnce(ctx, 'dispatch', async (url) => {
    const graphile = await GraphilePeer.start(url, 1, 2);
    try {
      await graphile.latencies('noop', warmup);
      const noop = summarize(await graphile.latencies('noop', runs));
      await graphile.latencies('spawn', warmup);
      const spawn = summarize(await graphile.latencies('spawn', runs));
      if (!jailedPlatform) return { noop, spawn };
      await graphile.latencies('jail', warmup);
      const jail = summarize(await graphile.latencies('jail', runs));
      return { noop, spawn, jail };
    } finally {
      await graphile.stop();
    }
  });
  ctx.details[`dispatch.${ctx.target}`] = { runs, ours, peer: peer ?? 'not measured: no PostgreSQL' };
  const figure = (name: string, pick: (s: Summary) => number, goal: number, peerSummary?: Summary, peerName = '') => {
    ctx.figures.push({
      bench: 'dispatch',
      name,
      target: ctx.target,
      value: pick(ours),
      unit: 'ms',
      better: 'lower',
      goal: { op: '<', value: goal },
      peer: peerSummary === undefined ? undefined : { name: peerName, value: pick(peerSummary) },
    });
  };
  figure('p50 trigger answer -> process start', (s) => s.p50, 10, peer?.spawn, 'graphile-worker, task spawns sh');
  figure('p99 trigger answer -> process start', (s) => s.p99, 50, peer?.spawn, 'graphile-worker, task spawns sh');
  if (peer?.jail !== undefined) {
    const jailed = 'graphile-worker, task starts the same jail';
    figure('p50 vs the same jail', (s) => s.p50, 10, peer.jail, jailed);
    figure('p99 vs the same jail', (s) => s.p99, 50, peer.jail, jailed);
  }
  figure('p50 vs a no-op task', (s) => s.p50, 10, peer?.noop, 'graphile-worker, no-op task');
  figure('p99 vs a no-op task', (s) => s.p99, 50, peer?.noop, 'graphile-worker, no-op task');
}

/** A run's output file as text, read from its data plane (a fresh token each time: a thousand runs outlast one). */
async function outputText(ctx: BenchContext, deployed: Deployed, runId: string, path: string): Promise<string> {
  const issued = await ctx.platform.scopedToken(deployed.tenant.token, deployed.workspaceId, ['runs:outputs']);
  return expectStatus<string>(200, 'GET', `${deployed.dp}/runs/${runId}/outputs/${path}`, { token: issued.token });
}
