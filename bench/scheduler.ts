import { realtimeMs, sleep } from './lib/clock.ts';
import type { BenchContext } from './lib/context.ts';
import { call, type Deployed, deployProject, expectStatus } from './lib/platform.ts';
import { summarize } from './lib/stats.ts';

const jobsPerWorkspace = 1000; // the manifest's limit

interface SeenRun {
  runId: string;
  queuedAt: string;
  scheduledFor: string;
}

/** Every run of a workspace, newest first, page by page. */
async function allRuns(cp: string, deployed: Deployed): Promise<SeenRun[]> {
  const out: SeenRun[] = [];
  let cursor = '';
  for (;;) {
    const page = await expectStatus(
      200,
      'GET',
      `${cp}/runs?workspaceId=${deployed.workspaceId}&limit=200${cursor === '' ? '' : `&cursor=${cursor}`}`,
      { token: deployed.tenant.token },
    );
    out.push(...page.data);
    if (page.nextCursor === null) return out;
    cursor = page.nextCursor;
  }
}

/**
 * Scheduler: 10,000 cron jobs (ten workspaces of 1,000, the manifest's limit) due at the
 * same second. Their data plane is disabled first, so the runs stay queued and only the
 * scheduler is measured. Lag from the due time to queued, two ways: the run's recorded
 * `queuedAt`, and the moment this client first sees it listed (the scheduler's
 * transaction has committed: a data plane could claim it).
 */
export async function schedulerBench(ctx: BenchContext): Promise<void> {
  const workspaces = ctx.smoke ? 1 : 10;
  const perWorkspace = ctx.smoke ? 20 : jobsPerWorkspace;
  const total = workspaces * perWorkspace;
  // Time to deploy them all before they are due; the bench waits for the rest. A machine
  // too busy to deploy them in time gets fresh workspaces and a margin three times what
  // the deploy took (the jobs deployed in vain fire into workspaces nobody watches).
  let margin = ctx.smoke ? 5_000 : 150_000;
  let due = new Date(0);
  let deployedAll: Deployed[] = [];
  let deploySeconds = 0;
  for (let attempt = 1; ; attempt++) {
    due = new Date(Math.ceil((Date.now() + margin) / 1000) * 1000);
    const cron = `${due.getUTCSeconds()} ${due.getUTCMinutes()} ${due.getUTCHours()} * * *`;
    const manifest = [
      'jobs:',
      ...Array.from({ length: perWorkspace }, (_, i) =>
        [`  - name: cron_${i}`, '    run: "true"', `    schedule: "${cron}"`, '    timezone: UTC'].join('\n'),
      ),
    ].join('\n');
    deployedAll = [];
    const deployBegan = realtimeMs();
    for (let w = 0; w < workspaces; w++) {
      const label = attempt === 1 ? `cron-${w}` : `cron-${w}-${attempt}`;
      deployedAll.push(await deployProject(ctx.platform, 'eu', label, { 'sovereign.yaml': `${manifest}\n` }));
    }
    deploySeconds = (realtimeMs() - deployBegan) / 1000;
    if (Date.now() <= due.getTime() - 2000) break;
    if (attempt === 3) {
      throw new Error(`deploying ${total} jobs took ${deploySeconds.toFixed(0)} s: past their due time, three times`);
    }
    margin = Math.max(margin * 2, deploySeconds * 3000);
    ctx.log(
      `scheduler: deploying took ${deploySeconds.toFixed(1)} s, past the due time; again with a margin of ${(margin / 1000).toFixed(1)} s`,
    );
  }
  // The runs stay queued: the data plane takes none of them.
  const plane = ctx.platform.dp('eu-1');
  await expectStatus(200, 'PATCH', `${ctx.platform.cp}/dataplanes/${plane.dataplaneId}`, {
    token: ctx.platform.adminToken,
    body: { enabled: false },
  });
  ctx.log(`scheduler: ${total} jobs deployed in ${deploySeconds.toFixed(1)} s; due at ${due.toISOString()}`);
  await sleep(due.getTime() - Date.now() - 200);

  const firstSeen = new Map<string, number>();
  const runs = new Map<string, SeenRun>();
  const complete = new Set<string>();
  const deadline = due.getTime() + 120_000;
  while (complete.size < deployedAll.length) {
    if (Date.now() > deadline) throw new Error(`only ${runs.size} of ${total} scheduled runs were queued in time`);
    for (const deployed of deployedAll) {
      if (complete.has(deployed.workspaceId)) continue;
      const head = await call('GET', `${ctx.platform.cp}/runs?workspaceId=${deployed.workspaceId}&limit=1`, {
        token: deployed.tenant.token,
      });
      if (head.body.data.length === 0) continue;
      const listed = await allRuns(ctx.platform.cp, deployed);
      const now = realtimeMs();
      for (const run of listed) {
        if (!firstSeen.has(run.runId)) firstSeen.set(run.runId, now);
        runs.set(run.runId, run);
      }
      if (listed.length >= perWorkspace) complete.add(deployed.workspaceId);
    }
    await sleep(20);
  }
  const recorded = summarize([...runs.values()].map((r) => Date.parse(r.queuedAt) - Date.parse(r.scheduledFor)));
  const visible = summarize([...runs.values()].map((r) => (firstSeen.get(r.runId) as number) - due.getTime()));
  ctx.details[`scheduler.${ctx.target}`] = { jobs: total, deploySeconds, due: due.toISOString(), recorded, visible };
  const push = (name: string, value: number) =>
    ctx.figures.push({
      bench: 'scheduler',
      name,
      target: ctx.target,
      value,
      unit: 'ms',
      better: 'lower',
      note: `${total} cron jobs due at the same second`,
    });
  push('due -> queued p50 (recorded queuedAt)', recorded.p50);
  push('due -> queued p99 (recorded queuedAt)', recorded.p99);
  push('due -> listed p50 (committed, claimable)', visible.p50);
  push('due -> listed p99 (committed, claimable)', visible.p99);
}
