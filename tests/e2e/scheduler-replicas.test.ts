import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InternalPaths, protocolVersion } from '@sovereign/contract';
import {
  databaseTargets,
  freePort,
  type Service,
  startService,
  type TestDatabase,
} from '@sovereign/server-kit/testing';
import { adminPassword, controlPlaneMain, expectStatus } from '../support/platform.ts';

/**
 * Two control plane replicas on one PostgreSQL, both running their scheduler: a cron
 * job due every second fires once per due time. (PGlite is one process's database, so
 * this runs where PostgreSQL is configured; CI always configures it.)
 */
const postgres = databaseTargets().find((t) => t.name === 'postgres');
const masterKey = randomBytes(32).toString('base64');

describe('scheduler with two control plane replicas on one PostgreSQL [postgres]', {
  skip: postgres === undefined && 'SOV_TEST_DATABASE_URL is not set',
}, () => {
  let database: TestDatabase;
  let home: string;
  const replicas: Service[] = [];
  // Set by the first test, used by the next.
  let admin: string;
  let dpToken: string;
  let workspaceId: string;
  let userId: string;
  let organizationId: string;
  let regionId: string;

  before(async () => {
    if (postgres === undefined) return;
    database = await postgres.create();
    home = await mkdtemp(join(tmpdir(), 'sov-replicas-'));
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      replicas.push(
        await startService({
          args: [controlPlaneMain],
          url: `http://127.0.0.1:${port}`,
          env: {
            SOV_PORT: String(port),
            SOV_HOME: join(home, `cp-${i}`),
            SOV_PUBLIC_URL: 'http://127.0.0.1:1',
            // One master key for both replicas: they sign with the same keys.
            SOV_MASTER_KEY: masterKey,
            SOV_ADMIN_PASSWORD: adminPassword,
            SOV_PASSWORD_COST_LOG2: '12',
            SOV_SCHEDULER_TICK_MS: '200',
            SOV_LOG_LEVEL: 'warn',
            ...database.env,
          },
        }),
      );
    }
  });
  after(async () => {
    for (const replica of replicas) await replica.stop();
    await database?.drop();
    if (home !== undefined) await rm(home, { recursive: true, force: true });
  });

  it('fires each due time once', async () => {
    const [a, b] = replicas.map((r) => `${r.url}/api/public/v1`) as [string, string];
    ({ accessToken: admin } = await expectStatus(200, 'POST', `${a}/auth/login`, {
      body: { email: 'admin@localhost', password: adminPassword },
    }));
    const me = await expectStatus(200, 'GET', `${b}/me`, { token: admin });
    organizationId = me.organizations[0].organizationId;
    ({ regionId } = await expectStatus(200, 'POST', `${a}/regions`, {
      token: admin,
      body: { name: 'eu', organizationId },
    }));
    const plane = await expectStatus(200, 'POST', `${b}/dataplanes`, {
      token: admin,
      body: { name: 'eu-1', regionId },
    });
    const ws = await expectStatus(200, 'POST', `${a}/workspaces`, {
      token: admin,
      body: { name: 'cron', organizationId, regionId },
    });
    // This test speaks for the data plane: it reports a deployment with a job due every second.
    ({ access_token: dpToken } = await expectStatus(200, 'POST', `${replicas[0]?.url}${InternalPaths.token}`, {
      body: { client_id: plane.clientId, client_secret: plane.clientSecret },
    }));
    workspaceId = ws.workspaceId;
    userId = me.userId;
    await expectStatus(200, 'POST', `${replicas[1]?.url}${InternalPaths.deploymentReport}`, {
      token: dpToken,
      body: {
        protocolVersion,
        deploymentId: randomUUID(),
        workspaceId: ws.workspaceId,
        digest: `sha256:${'1'.repeat(64)}`,
        sizeBytes: 1,
        createdBy: me.userId,
        createdAt: new Date().toISOString(),
        jobs: [
          {
            name: 'tick',
            kind: 'batch',
            trigger: { type: 'cron', cron: '* * * * * *' },
            timezone: 'UTC',
            timeoutSeconds: 60,
            retries: 0,
          },
        ],
      },
    });
    // It takes each run as it is queued, as a data plane does, from either replica: a due
    // time that finds the job's earlier run still in the queue is skipped.
    const taker = randomUUID();
    const taken: string[] = [];
    for (let i = 0, until = Date.now() + 6_500; Date.now() < until; i++) {
      const { runs } = await expectStatus(200, 'POST', `${replicas[i % 2]?.url}${InternalPaths.claim}`, {
        token: dpToken,
        body: { protocolVersion, instanceId: taker, capacity: 1000, waitMs: 0, heldRuns: taken },
      });
      taken.push(...runs.map((r: { runId: string }) => r.runId));
      await new Promise((r) => setTimeout(r, 200));
    }
    const runs = await expectStatus(200, 'GET', `${b}/runs?workspaceId=${ws.workspaceId}&limit=200`, { token: admin });
    const due = runs.data.map((r: { scheduledFor: string }) => r.scheduledFor).sort();
    assert.ok(due.length >= 4, `fired ${due.length} times in 6.5 s`);
    assert.equal(new Set(due).size, due.length, 'no due time fired twice');
    for (let i = 1; i < due.length; i++) {
      assert.equal(Date.parse(due[i]) - Date.parse(due[i - 1]), 1000, 'no due time was skipped while both ran');
    }
    assert.ok(runs.data.every((r: { trigger: string }) => r.trigger === 'schedule'));
  });

  it('answers a claim held open on one replica the moment a run is triggered on the other', async () => {
    const [a, b] = replicas.map((r) => r.url) as [string, string];
    const instanceId = randomUUID();
    // A new deployment: the cron job is archived, and only a manual one is left.
    await expectStatus(200, 'POST', `${a}${InternalPaths.deploymentReport}`, {
      token: dpToken,
      body: {
        protocolVersion,
        deploymentId: randomUUID(),
        workspaceId,
        digest: `sha256:${'2'.repeat(64)}`,
        sizeBytes: 1,
        createdBy: userId,
        createdAt: new Date().toISOString(),
        jobs: [
          {
            name: 'manual',
            kind: 'batch',
            trigger: { type: 'manual' },
            timezone: 'UTC',
            timeoutSeconds: 60,
            retries: 0,
          },
        ],
      },
    });
    const jobs = await expectStatus(200, 'GET', `${a}/api/public/v1/workspaces/${workspaceId}/jobs`, { token: admin });
    const jobId = jobs.data.find((j: { name: string }) => j.name === 'manual').jobId;
    // The cron job's queued runs are taken out of the way first (by an instance that keeps them).
    const drainer = randomUUID();
    const drained: string[] = [];
    for (;;) {
      const { runs } = await expectStatus(200, 'POST', `${a}${InternalPaths.claim}`, {
        token: dpToken,
        body: { protocolVersion, instanceId: drainer, capacity: 1000, waitMs: 0, heldRuns: drained },
      });
      if (runs.length === 0) break;
      drained.push(...runs.map((r: { runId: string }) => r.runId));
    }
    // Held open on replica b for up to 20 s; the run is triggered on replica a.
    const held = expectStatus(200, 'POST', `${b}${InternalPaths.claim}`, {
      token: dpToken,
      body: { protocolVersion, instanceId, capacity: 1, waitMs: 20_000, heldRuns: [] },
    });
    const sent = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    const run = await expectStatus(200, 'POST', `${a}/api/public/v1/jobs/${jobId}/runs`, { token: admin });
    const answer = await held;
    assert.ok(Date.now() - sent < 15_000, 'answered by the wake, not by the end of its wait');
    assert.ok(
      answer.runs.some((r: { runId: string }) => r.runId === run.runId),
      JSON.stringify(answer),
    );
  });

  it('runs a backfill through run ends on both replicas at once: each interval once, never more than two at a time', async () => {
    const [a, b] = replicas.map((r) => r.url) as [string, string];
    // A workspace of its own: the runs held above count against the first one's limit.
    const ws = await expectStatus(200, 'POST', `${a}/api/public/v1/workspaces`, {
      token: admin,
      body: { name: 'backfill', organizationId, regionId },
    });
    await expectStatus(200, 'POST', `${b}${InternalPaths.deploymentReport}`, {
      token: dpToken,
      body: {
        protocolVersion,
        deploymentId: randomUUID(),
        workspaceId: ws.workspaceId,
        digest: `sha256:${'3'.repeat(64)}`,
        sizeBytes: 1,
        createdBy: userId,
        createdAt: new Date().toISOString(),
        jobs: [
          {
            name: 'daily',
            kind: 'batch',
            trigger: { type: 'cron', cron: '0 0 * * *' },
            timezone: 'UTC',
            timeoutSeconds: 60,
            retries: 0,
          },
        ],
      },
    });
    const jobs = await expectStatus(200, 'GET', `${a}/api/public/v1/workspaces/${ws.workspaceId}/jobs`, {
      token: admin,
    });
    const jobId = jobs.data[0].jobId;
    const backfill = await expectStatus(200, 'POST', `${b}/api/public/v1/jobs/${jobId}/backfills`, {
      token: admin,
      body: { from: '2026-11-01T00:00:00Z', to: '2026-11-11T00:00:00Z' },
    });
    assert.equal(backfill.toRun, 10);
    const runsNow = async () =>
      (await expectStatus(200, 'GET', `${a}/api/public/v1/runs?jobId=${jobId}&limit=200`, { token: admin }))
        .data as Array<{ status: string; intervalStart: string }>;
    const instances = [randomUUID(), randomUUID()];
    for (let round = 0; round < 30; round++) {
      // Each replica hands out and ends runs for an instance of its own, both at once.
      const handed = await Promise.all(
        [a, b].map(async (url, i) => {
          const { runs } = await expectStatus(200, 'POST', `${url}${InternalPaths.claim}`, {
            token: dpToken,
            body: { protocolVersion, instanceId: instances[i], capacity: 1, waitMs: 0, heldRuns: [] },
          });
          return { url, instanceId: instances[i], runs: runs as Array<{ runId: string }> };
        }),
      );
      if (handed.every((h) => h.runs.length === 0)) {
        if ((await runsNow()).filter((r) => r.status === 'succeeded').length === 10) break;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const going = (await runsNow()).filter((r) => ['queued', 'claimed', 'running'].includes(r.status));
      assert.ok(going.length <= 2, `${going.length} of its runs at once`);
      await Promise.all(
        handed.flatMap((h) =>
          h.runs.map((run) =>
            expectStatus(200, 'POST', `${h.url}${InternalPaths.runEvents}`, {
              token: dpToken,
              body: {
                protocolVersion,
                instanceId: h.instanceId,
                events: [{ runId: run.runId, seq: 1, status: 'succeeded', exitCode: 0, at: new Date().toISOString() }],
              },
            }),
          ),
        ),
      );
    }
    const runs = await runsNow();
    assert.equal(runs.length, 10, 'one run per interval');
    assert.equal(new Set(runs.map((r) => r.intervalStart)).size, 10, 'no interval twice');
    assert.ok(runs.every((r) => r.status === 'succeeded'));
    const done = await expectStatus(200, 'GET', `${a}/api/public/v1/backfills/${backfill.backfillId}`, {
      token: admin,
    });
    assert.deepEqual([done.status, done.succeeded], ['done', 10]);
  });
});
