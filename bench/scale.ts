import { type Database, openDatabase } from '@sovereign/server-kit/sql';
import { claimRuns } from '../packages/control-plane/src/leases/store.ts';
import { listRunsSql } from '../packages/control-plane/src/runs/store.ts';
import { realtimeMs } from './lib/clock.ts';
import type { BenchContext } from './lib/context.ts';
import { deployProject, expectStatus } from './lib/platform.ts';
import { type Summary, summarize } from './lib/stats.ts';

const jobs = 20;

/** Queue lengths a claim is timed at: it reads a workspace's first runs, not the whole queue. */
const claimQueues = (smoke: boolean) => (smoke ? [10, 1_000] : [10, 10_000, 100_000]);

/** One million runs of one workspace's jobs, 1% failed, one every 30 s back in time, inserted by SQL. */
async function seed(db: Database, workspaceId: string, total: number, log: (m: string) => void): Promise<void> {
  const chunk = 100_000;
  for (let from = 0; from < total; from += chunk) {
    await db.query(
      `WITH js AS (SELECT row_number() OVER (ORDER BY name) - 1 AS k, job_id, deployment_id
                     FROM jobs WHERE workspace_id = $1 AND archived_at IS NULL),
            w AS (SELECT dataplane_id FROM workspaces WHERE workspace_id = $1)
       INSERT INTO runs (run_id, job_id, workspace_id, dataplane_id, deployment_id, attempt, root_run_id, trigger,
                         status, reason_code, exit_code, timeout_seconds, queued_at, claimed_at, started_at,
                         finished_at, last_seq)
       SELECT g.id, js.job_id, $1, (SELECT dataplane_id FROM w), js.deployment_id, 1, g.id, 'api',
              CASE WHEN g.i % 100 = 0 THEN 'failed' ELSE 'succeeded' END,
              CASE WHEN g.i % 100 = 0 THEN 'exit_nonzero' ELSE 'exit_zero' END,
              CASE WHEN g.i % 100 = 0 THEN 1 ELSE 0 END,
              7200, g.t, g.t + interval '1 second', g.t + interval '2 seconds', g.t + interval '30 seconds', 3
         FROM (SELECT gen_random_uuid() AS id, i, now() - interval '1 hour' - i * interval '30 seconds' AS t
                 FROM generate_series($2::int, $3::int) i) g
         JOIN js ON js.k = g.i % (SELECT count(*) FROM js)`,
      [workspaceId, from + 1, Math.min(total, from + chunk)],
    );
    log(`scale: seeded ${Math.min(total, from + chunk).toLocaleString('en-US')} runs`);
  }
  await db.query('ANALYZE runs');
}

/** The plan PostgreSQL picks for the list query with these parameters, and the indexes it names. */
async function explain(db: Database, params: unknown[]): Promise<{ plan: string; indexes: string[] }> {
  // The last parameter: the workspace an API key is bound to, none for a signed-in user.
  const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF) ${listRunsSql}`, [
    ...params,
    null,
  ]);
  const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
  const indexes = [
    ...new Set(
      [...plan.matchAll(/(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)/g)].map(
        (m) => m[1] as string,
      ),
    ),
  ];
  return { plan, indexes };
}

/**
 * A claim's time with `queued` batch runs waiting on the workspace's data plane: the
 * runs are queued and claimed inside one transaction that is rolled back, so the live
 * data plane never sees them (each claim is undone to a savepoint, the queue stays whole).
 */
async function claimWithQueue(db: Database, workspaceId: string, queued: number, claims: number): Promise<Summary> {
  const times: number[] = [];
  await db
    .transaction(async (tx) => {
      const [w] = await tx.query<{ dataplane_id: string }>(
        'SELECT dataplane_id FROM workspaces WHERE workspace_id = $1',
        [workspaceId],
      );
      const dataplaneId = w?.dataplane_id as string;
      await tx.query(
        `WITH j AS (SELECT job_id, deployment_id FROM jobs WHERE workspace_id = $1 AND archived_at IS NULL LIMIT 1)
         INSERT INTO runs (run_id, job_id, workspace_id, dataplane_id, deployment_id, attempt, root_run_id, trigger,
                           status, timeout_seconds, queued_at)
         SELECT g.id, j.job_id, $1, $2, j.deployment_id, 1, g.id, 'api', 'queued', 60, now() + g.i * interval '1 ms'
           FROM (SELECT gen_random_uuid() AS id, i FROM generate_series(1, $3::int) i) g, j`,
        [workspaceId, dataplaneId, queued],
      );
      const instanceId = crypto.randomUUID();
      for (let i = 0; i < claims + 3; i++) {
        await tx.query('SAVEPOINT claim');
        const began = realtimeMs();
        const { runs } = await claimRuns(tx, dataplaneId, instanceId, 2, 60, new Date(), {
          interactiveCapacity: 1,
          workspaceRunLimit: 100,
        });
        if (i >= 3) times.push(realtimeMs() - began);
        if (runs.length !== 2) throw new Error(`a claim with ${queued} runs queued took ${runs.length}, not 2`);
        await tx.query('ROLLBACK TO SAVEPOINT claim');
      }
      throw new RolledBack();
    })
    .catch((error: unknown) => {
      if (!(error instanceof RolledBack)) throw error;
    });
  return summarize(times);
}

class RolledBack extends Error {}

/**
 * Scale: the runs list API (`GET /api/public/v1/runs`) with one million runs in the
 * control plane's database, seeded by SQL: p99 of the first page, a job filter, a rare
 * status, cursor paging 20 pages deep, and every run the user can see; with the plans
 * PostgreSQL chose for them.
 */
export async function scaleBench(ctx: BenchContext): Promise<void> {
  const total = ctx.smoke ? 2_000 : 1_000_000;
  const requests = ctx.smoke ? 5 : 200;
  const project = {
    'sovereign.yaml': `jobs:\n${Array.from({ length: jobs }, (_, i) => `  - name: job_${i}\n    run: "true"\n`).join('')}`,
  };
  const deployed = await deployProject(ctx.platform, 'us', 'scale', project);
  const { platform } = ctx;
  const userId = deployed.tenant.userId;
  const jobId = deployed.jobs.job_7 as string;
  // PGlite is one process's database: the control plane stops while this one seeds it.
  const pglite = platform.target.name === 'pglite';
  if (pglite) await platform.controlPlane.stop();
  const db = await openDatabase(platform.controlPlaneDatabase.options);
  const began = realtimeMs();
  let plans: Record<string, { plan: string; indexes: string[] }>;
  const claims: Record<number, Summary> = {};
  try {
    await seed(db, deployed.workspaceId, total, ctx.log);
    // A cursor 20 pages deep, as the API encodes it: queued_at in microseconds, and the run's id.
    const [deep] = await db.query<{ queued_us: string; run_id: string }>(
      `SELECT (extract(epoch FROM queued_at) * 1000000)::bigint::text AS queued_us, run_id FROM runs
        WHERE workspace_id = $1 ORDER BY queued_at DESC, run_id DESC OFFSET 1000 LIMIT 1`,
      [deployed.workspaceId],
    );
    const base = [false, userId, deployed.workspaceId, null, null, null, null, 51];
    plans = {
      firstPage: await explain(db, base),
      job: await explain(db, [false, userId, deployed.workspaceId, jobId, null, null, null, 51]),
      failed: await explain(db, [false, userId, deployed.workspaceId, null, 'failed', null, null, 51]),
      cursor: await explain(db, [false, userId, deployed.workspaceId, null, null, deep?.queued_us, deep?.run_id, 51]),
      everything: await explain(db, [false, userId, null, null, null, null, null, 51]),
    };
    for (const queued of claimQueues(ctx.smoke)) {
      claims[queued] = await claimWithQueue(db, deployed.workspaceId, queued, ctx.smoke ? 5 : 50);
    }
  } finally {
    await db.close();
  }
  const seedSeconds = (realtimeMs() - began) / 1000;
  if (pglite) await platform.startControlPlane();

  const token = deployed.tenant.token;
  const list = `${platform.cp}/runs?`;
  const time = async (query: string): Promise<{ ms: number; body: any }> => {
    const start = realtimeMs();
    const body = await expectStatus(200, 'GET', `${list}${query}`, { token });
    return { ms: realtimeMs() - start, body };
  };
  const measure = async (query: string): Promise<Summary> => {
    await time(query);
    const out: number[] = [];
    for (let i = 0; i < requests; i++) out.push((await time(query)).ms);
    return summarize(out);
  };
  const ws = `workspaceId=${deployed.workspaceId}`;
  const results: Record<string, Summary> = {
    firstPage: await measure(ws),
    job: await measure(`${ws}&jobId=${jobId}`),
    failed: await measure(`${ws}&status=failed`),
    everything: await measure(''),
  };
  // Cursor paging: twenty pages deep, again and again.
  const paging: number[] = [];
  while (paging.length < requests) {
    let cursor = '';
    for (let page = 0; page < 20 && paging.length < requests; page++) {
      const { ms, body } = await time(`${ws}${cursor === '' ? '' : `&cursor=${cursor}`}`);
      paging.push(ms);
      cursor = body.nextCursor;
    }
  }
  results.cursor = summarize(paging);
  ctx.details[`scale.${ctx.target}`] = { runs: total, seedSeconds, requestsPerCase: requests, results, plans, claims };
  for (const [queued, summary] of Object.entries(claims)) {
    ctx.figures.push({
      bench: 'scale',
      name: `claim of 2 runs p50, ${Number(queued).toLocaleString('en-US')} runs queued`,
      target: ctx.target,
      value: summary.p50,
      unit: 'ms',
      better: 'lower',
      note: `p99 ${summary.p99.toFixed(1)} ms; beside ${total.toLocaleString('en-US')} finished runs`,
    });
  }
  const labels: Record<string, string> = {
    firstPage: 'first page (workspace)',
    job: 'job filter',
    failed: 'status=failed (1% of runs)',
    cursor: 'cursor paging, 20 pages deep',
    everything: 'all the user’s workspaces',
  };
  for (const [key, label] of Object.entries(labels)) {
    const summary = results[key] as Summary;
    ctx.figures.push({
      bench: 'scale',
      name: `runs list p99: ${label}`,
      target: ctx.target,
      value: summary.p99,
      unit: 'ms',
      better: 'lower',
      note: `p50 ${summary.p50.toFixed(1)} ms; plan uses ${plans[key]?.indexes.join(', ') || 'no index'}`,
    });
  }
}
