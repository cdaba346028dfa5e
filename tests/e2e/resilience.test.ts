import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { databaseTargets } from '@sovereign/server-kit/testing';
import { dumpDatabase } from '../support/dump.ts';
import { alive, runPids } from '../support/inside.ts';
import { expectStatus, Platform } from '../support/platform.ts';

const logMarker = 'LOG-CANARY-7c1e';
const stateMarker = 'STATE-CANARY-91ab';

const project = {
  'sovereign.yaml': `jobs:
  - name: slow
    run: sh slow.sh
    retries: 1
  - name: quick
    run: sh quick.sh
  - name: pause_then_exit
    run: sleep 2; echo "after the pause"; exit 7
  - name: leaves_daemon
    run: (setsid sleep 300 >/dev/null 2>&1 &); echo left
    timeout: 60s
  - name: interrupted
    run: sh interrupted.sh
    retries: 1
  - name: app
    kind: interactive
    run: node app.mjs
`,
  // The first attempt is still running when the data plane is stopped; the next one finishes.
  'interrupted.sh': `if [ "$SOV_ATTEMPT" = 1 ]; then sleep 60; fi
echo "done $SOV_ATTEMPT"
`,
  'app.mjs': `import { createServer } from 'node:http';
createServer((_req, res) => res.end('up')).listen(Number(process.env.PORT), '127.0.0.1');
`,
  // Each attempt says in its log that it started; only a finished one says "done".
  // The first attempt leaves its process group too (setsid): its jail's end must reach it.
  'slow.sh': `if [ "$SOV_ATTEMPT" = 1 ]; then (setsid sleep 600 >/dev/null 2>&1 &); fi
echo "${logMarker} slow attempt $SOV_ATTEMPT"
sleep 4
echo "done $SOV_ATTEMPT"
`,
  'quick.sh': `echo "${logMarker} quick $SOV_RUN_ID"
echo '{"cursor":"${stateMarker}"}' > "$SOV_STATE_FILE"
`,
};

/** The pids of a process's children whose command line holds `match`. */
async function childrenOf(pid: number, match: string): Promise<number[]> {
  const { stdout } = await promisify(execFile)('ps', ['-o', 'pid=,args=', '--ppid', String(pid)]);
  return stdout
    .split('\n')
    .filter((line) => line.includes(match))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

for (const target of databaseTargets()) {
  describe(`failures of either plane lose nothing and run nothing twice, real processes [${target.name}]`, () => {
    let platform: Platform;
    let t: Awaited<ReturnType<Platform['tenant']>>;
    let jobs: Record<string, string>;

    before(async () => {
      platform = await Platform.start(target, {
        controlPlaneEnv: { SOV_RUN_LEASE_SECONDS: '6', SOV_SCHEDULER_TICK_MS: '250' },
        dataplaneEnv: { SOV_INSTANCE_STALE_SECONDS: '15' },
      });
      t = await platform.tenant('eu', 'resilience');
      ({ jobs } = await platform.deploy(t.token, t.workspace.workspaceId, project));
    });
    after(async () => {
      await platform?.stop();
    });

    const runStatus = async (runId: string) =>
      (await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token })).status as string;

    it('kill -9 of the data plane mid-run: the attempt ends lost, its processes die, the retry runs once', async () => {
      const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.slow}/runs`, { token: t.token });
      await platform.waitFor(async () => (await runStatus(run.runId)) === 'running', 'the run to start');
      const { token, dataplane } = await platform.scopedToken(t.token, t.workspace.workspaceId, ['runs:logs']);
      const lines = async (runId: string) =>
        (await expectStatus(200, 'GET', `${dataplane.url}/api/v1/runs/${runId}/logs`, { token })).data.map(
          (l: { line: string }) => l.line,
        );
      await platform.waitFor(
        async () => (await lines(run.runId)).includes(`${logMarker} slow attempt 1`),
        'the job to say it started',
      );
      const pids = await runPids(run.runId, 1);
      assert.ok(pids.length > 1, 'the job’s processes are found, the one that left its group too');

      const eu = platform.dp('eu-1');
      const work = join(eu.dataDir, 'work');
      const caches = async () => readdir(join(work, '.deployments')).catch(() => [] as string[]);
      const runDirs = async () => readdir(platform.sandboxDir(eu)).catch(() => [] as string[]);
      const deadCaches = await caches();
      const deadRunDirs = await runDirs();
      assert.ok(deadCaches.length > 0, 'the instance keeps its unpacked deployments');
      assert.equal(deadRunDirs.length, 1, 'the instance keeps its runs’ directories in one of its own');
      assert.equal(await eu.service.stop('SIGKILL'), 'SIGKILL');
      await platform.waitFor(
        async () => !pids.some(alive),
        'the orphaned job to be stopped by its supervisor (its jail gone)',
        5_000,
      );
      await platform.waitFor(async () => (await runStatus(run.runId)) === 'lost', 'the lease to lapse');
      const lost = await expectStatus(200, 'GET', `${platform.cp}/runs/${run.runId}`, { token: t.token });
      assert.equal(lost.reasonCode, 'lease_expired');

      await platform.startDataPlane(eu);
      const retries = async () =>
        (await expectStatus(200, 'GET', `${platform.cp}/runs?jobId=${jobs.slow}`, { token: t.token })).data;
      let retry: { runId: string } | undefined;
      await platform.waitFor(
        async () => {
          retry = (await retries()).find(
            (r: { attempt: number; status: string }) => r.attempt === 2 && r.status === 'succeeded',
          );
          return retry !== undefined;
        },
        'the second attempt to succeed',
        30_000,
      );
      assert.deepEqual(await lines(run.runId), [`${logMarker} slow attempt 1`], 'the killed attempt never finished');
      assert.deepEqual(
        await lines(retry?.runId ?? ''),
        [`${logMarker} slow attempt 2`, 'done 2'],
        'the retry started once and finished',
      );
      // What the dead instance left on disk goes once it counts as gone (15 s unseen here).
      await platform.waitFor(
        async () =>
          !(await runDirs()).some((id) => deadRunDirs.includes(id)) &&
          !(await caches()).some((id) => deadCaches.includes(id)),
        'the dead instance’s run directories and cache to be removed',
        60_000,
      );
    });

    it('ends a run when its command ends, with what it left running', async () => {
      const run = await platform.runToEnd(t.token, jobs.leaves_daemon as string, 30_000);
      assert.equal(run.status, 'succeeded', 'ended with its command, not held by its daemon until the timeout');
      assert.deepEqual(await runPids(run.runId), [], 'nothing of it is left running');
    });

    it('the job spawner killed outright: a running job ends with its own status and logs, and the next run starts', async () => {
      const eu = platform.dp('eu-1');
      const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.pause_then_exit}/runs`, {
        token: t.token,
      });
      await platform.waitFor(async () => (await runStatus(run.runId)) === 'running', 'the run to start');
      const [spawner] = await childrenOf(eu.service.process.pid as number, 'spawner-main.ts');
      assert.ok(spawner !== undefined, 'the data plane starts jobs through its spawner');
      process.kill(spawner, 'SIGKILL');
      await platform.waitFor(async () => (await runStatus(run.runId)) === 'failed', 'the run to end', 30_000);
      const ended = await expectStatus(200, 'GET', `${platform.cp}/runs/${run.runId}`, { token: t.token });
      assert.deepEqual(
        [ended.exitCode, ended.reasonCode],
        [7, 'exit_nonzero'],
        'its exit status, not the spawner’s end',
      );
      const { token, dataplane } = await platform.scopedToken(t.token, t.workspace.workspaceId, ['runs:logs']);
      const logs = await expectStatus(200, 'GET', `${dataplane.url}/api/v1/runs/${run.runId}/logs`, { token });
      assert.deepEqual(
        logs.data.map((l: { line: string }) => l.line),
        ['after the pause'],
      );
      const next = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.quick}/runs`, { token: t.token });
      await platform.waitFor(async () => (await runStatus(next.runId)) === 'succeeded', 'the next run to succeed');
      const [again] = await childrenOf(eu.service.process.pid as number, 'spawner-main.ts');
      assert.ok(again !== undefined && again !== spawner, 'a new spawner took over');
    });

    it('a planned stop of the data plane (SIGTERM) blames no job: an app ends cancelled, a batch run is retried', async () => {
      const eu = platform.dp('eu-1');
      const app = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.app}/runs`, { token: t.token });
      const batch = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.interrupted}/runs`, {
        token: t.token,
      });
      for (const run of [app, batch]) {
        await platform.waitFor(async () => (await runStatus(run.runId)) === 'running', 'the runs to start');
      }
      await eu.service.stop('SIGTERM');
      await platform.startDataPlane(eu);
      const ended = async (runId: string) => {
        await platform.waitFor(
          async () => !['queued', 'claimed', 'running'].includes(await runStatus(runId)),
          'the run to end',
          30_000,
        );
        const run = await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token });
        return [run.status, run.reasonCode];
      };
      assert.deepEqual(await ended(app.runId), ['cancelled', 'dataplane_shutdown'], 'the app ended, not failed');
      assert.deepEqual(await ended(batch.runId), ['cancelled', 'dataplane_shutdown'], 'nor is the batch run blamed');
      const attempts = async () =>
        (await expectStatus(200, 'GET', `${platform.cp}/runs?jobId=${jobs.interrupted}`, { token: t.token })).data;
      await platform.waitFor(
        async () =>
          (await attempts()).some(
            (r: { attempt: number; status: string }) => r.attempt === 2 && r.status === 'succeeded',
          ),
        'the batch run’s next attempt to succeed on the restarted data plane',
        60_000,
      );
      assert.equal((await attempts()).length, 2, 'one more attempt, not more');
      const apps = (await expectStatus(200, 'GET', `${platform.cp}/runs?jobId=${jobs.app}`, { token: t.token })).data;
      assert.equal(apps.length, 1, 'an app stopped by a restart is not started again');
    });

    it('a control plane restart during 50 runs loses no status event', async () => {
      const runIds: string[] = [];
      for (let i = 0; i < 50; i++) {
        runIds.push(
          (await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.quick}/runs`, { token: t.token })).runId,
        );
        if (i === 20) {
          await platform.controlPlane.stop('SIGTERM');
          await new Promise((r) => setTimeout(r, 1_000));
          await platform.startControlPlane();
        }
      }
      let statuses: string[] = [];
      await platform
        .waitFor(
          async () => {
            statuses = await Promise.all(runIds.map(runStatus));
            return statuses.every((s) => s === 'succeeded');
          },
          'all 50 runs to be reported succeeded',
          // A safety net, not a speed: on PGlite beside other suites they take a minute.
          180_000,
        )
        .catch(async (error: Error) => {
          const counts: Record<string, number> = {};
          for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
          // How the others ended, and what the data plane logged: the reason is in one of them.
          const others: Array<{ runId: string; status: string; exitCode: number | null; reasonCode: string | null }> =
            [];
          for (const [i, runId] of runIds.entries()) {
            if (statuses[i] === 'succeeded') continue;
            const run = await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token });
            others.push({ runId, status: run.status, exitCode: run.exitCode, reasonCode: run.reasonCode });
          }
          const logged = platform
            .dp('eu-1')
            .service.output()
            .split('\n')
            .filter((line) => others.some((o) => line.includes(o.runId)));
          throw new Error(`${error.message}: ${JSON.stringify({ counts, others, logged })}`);
        });
      for (const runId of runIds) {
        const run = await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token });
        assert.equal(run.exitCode, 0);
        assert.ok(run.startedAt !== null, 'the running event arrived too');
      }
    });

    it('leaves no log text and no state in the control plane’s database', async () => {
      await platform.controlPlane.stop('SIGTERM');
      const dump = await dumpDatabase(platform.controlPlaneDatabase);
      assert.ok(dump.length > 1000, 'the dump holds the control plane’s data');
      assert.ok(dump.includes(t.workspace.workspaceId), 'the dump is of the right database');
      assert.ok(!dump.includes(logMarker), 'no log text');
      assert.ok(!dump.includes(stateMarker), 'no job state');
      await platform.startControlPlane();
    });
  });
}
