import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import { sovOk } from '../support/cli.ts';
import { rawTarGz } from '../support/hostile-tar.ts';
import { dropIntoRun, runPids } from '../support/inside.ts';
import { expectStatus, Platform } from '../support/platform.ts';

/**
 * A run's limits (R9), each hit on purpose by a job made to: it ends with its own reason
 * code, says so in its own log, and a job of another workspace running at the same time on
 * the same data plane is unharmed.
 */
const manifest = `jobs:
  - name: memory_hog
    run: node -e "const held = []; for (;;) held.push(Buffer.alloc(8 << 20, 1))"
    limits: { memory: 96m }
  - name: fork_bomb
    run: "bomb() { bomb | bomb & }; bomb; wait"
    limits: { pids: 48 }
  - name: tmp_filler
    run: dd if=/dev/zero of=/tmp/fill bs=1M count=64
    limits: { tmp: 8m }
  - name: chatterbox
    run: yes "a line that never ends"
    limits: { logs: 256k }
  - name: output_flood
    run: head -c 3000000 /dev/zero > "$SOV_OUTPUT_DIR/big.bin"; sleep 60
    limits: { outputs: 1m }
  - name: output_burst
    run: head -c 3000000 /dev/zero > "$SOV_OUTPUT_DIR/big.bin"
    limits: { outputs: 1m }
  - name: home_filler
    run: head -c 100000000 /dev/zero > "$HOME/big.bin"; sleep 60
    limits: { outputs: 1m }
  - name: file_spray
    run: mkdir "$HOME/many" && cd "$HOME/many" && seq 1 25000 | xargs touch && sleep 60
    limits: { outputs: 1m }
  - name: who
    run: id -u; stat -c '%a' tool.sh; ./tool.sh
  - name: capped
    run: echo started; sleep 60
    limits: { memory: 200m, cpus: 0.25, pids: 77 }
  - name: offline
    run: echo "made it"
    network: none
`;

/**
 * The neighbour runs until the test lets it end, once every limit above was hit: it lived
 * through them all. Meanwhile it starts a process every tenth of a second, and then forty at
 * once: a fork refused by a bomb that got out of its run would end it.
 */
const neighbourProject = {
  'sovereign.yaml': `jobs:
  - name: steady
    run: sh steady.sh
`,
  'steady.sh': `i=0
while [ ! -f "$HOME/finish" ]; do
  sleep 0.1 || exit 4
  i=$((i+1)); [ $i -lt 3000 ] || exit 3
done
for i in $(seq 1 40); do sleep 0 & done
wait
echo "steady and well"
`,
};

/** The bwrap this machine's PATH finds. */
async function realBwrap(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const path = join(dir, 'bwrap');
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  throw new Error('no bwrap on PATH');
}

const target = flowTarget();

describe(`a run's limits: each ends it with its own reason, and its neighbours are unharmed [${target.name}]`, () => {
  let platform: Platform;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  let n: Awaited<ReturnType<Platform['tenant']>>;
  let jobs: Record<string, string>;
  let neighbour: Record<string, string>;
  /** The runs the first test ended by their limits, by job. */
  let limitRuns: Record<string, string> = {};

  /**
   * Where the data planes find a bwrap that fails once for each file in its faults
   * directory (a file is taken by the failure that removes it), then runs the real one:
   * a fault of the moment, as bwrap's under load, made at will. It runs as a run's user.
   */
  let tools: string;
  let faults: string;

  before(async () => {
    tools = await mkdtemp(join(tmpdir(), 'sov-flaky-bwrap-'));
    faults = join(tools, 'faults');
    await mkdir(faults);
    await chmod(tools, 0o755);
    await chmod(faults, 0o777);
    await writeFile(
      join(tools, 'bwrap'),
      `#!/bin/sh\nfor fault in ${faults}/*; do\n  if rm "$fault" 2>/dev/null; then echo "bwrap: loopback: Failed RTM_NEWADDR: made on purpose" >&2; exit 1; fi\ndone\nexec ${await realBwrap()} "$@"\n`,
      { mode: 0o755 },
    );
    platform = await Platform.start(target, {
      dataplaneEnv: { SOV_KILL_GRACE_SECONDS: '2', SOV_CAPACITY: '8', PATH: `${tools}:${process.env.PATH ?? ''}` },
    });
    t = await platform.tenant('eu', 'limits');
    n = await platform.tenant('eu', 'neighbour');
    // By hand: a file setuid root, in an archive that says it belongs to root.
    const bundle = rawTarGz([
      { path: 'sovereign.yaml', type: '0', content: manifest },
      { path: 'tool.sh', type: '0', mode: 0o4755, uid: 0, content: '#!/bin/sh\necho "tool ran as $(id -u)"\n' },
    ]);
    const { token, dataplane } = await platform.scopedToken(t.token, t.workspace.workspaceId, ['deployments:write']);
    await platform.waitUntilHosted(t.token, t.workspace.workspaceId);
    await expectStatus(200, 'POST', `${dataplane.url}/api/v1/workspaces/${t.workspace.workspaceId}/deployments`, {
      token,
      raw: new Uint8Array(bundle),
      headers: { 'content-type': 'application/gzip' },
    });
    await platform.waitFor(async () => {
      const listed = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${t.workspace.workspaceId}/jobs`, {
        token: t.token,
      });
      jobs = Object.fromEntries(listed.data.map((j: { name: string; jobId: string }) => [j.name, j.jobId]));
      return Object.keys(jobs).length === 11;
    }, 'the jobs to reach the control plane');
    ({ jobs: neighbour } = await platform.deploy(n.token, n.workspace.workspaceId, neighbourProject));
  });
  after(async () => {
    await platform?.stop();
    if (tools !== undefined) await rm(tools, { recursive: true, force: true });
  });

  const trigger = async (tenant: typeof t, jobId: string) =>
    (await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobId}/runs`, { token: tenant.token })).runId as string;
  const ended = async (tenant: typeof t, runId: string) => {
    let run: { status: string; reasonCode: string | null; exitCode: number | null } = {
      status: '',
      reasonCode: null,
      exitCode: null,
    };
    await platform.waitFor(
      async () => {
        run = await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: tenant.token });
        return ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'].includes(run.status);
      },
      `run ${runId} to end`,
      120_000,
    );
    return run;
  };
  /** Every line of a run's log, page after page. */
  const logs = async (tenant: typeof t, runId: string) => {
    const { token, dataplane } = await platform.scopedToken(tenant.token, tenant.workspace.workspaceId, ['runs:logs']);
    const lines: string[] = [];
    for (let after = 0; ; ) {
      const url = `${dataplane.url}/api/v1/runs/${runId}/logs?after=${after}&limit=10000`;
      const page = await expectStatus(200, 'GET', url, { token });
      lines.push(...page.data.map((l: { line: string }) => l.line));
      if (page.data.length < 10_000) return lines;
      after = page.nextAfter;
    }
  };

  it('a memory hog, a fork bomb, a /tmp filler, a job printing without end and one filling its outputs each end with their reason, while a neighbour runs unharmed', async () => {
    const steady = await trigger(n, neighbour.steady as string);
    await platform.waitFor(async () => (await runPids(steady)).length > 0, 'the neighbour to run');
    const runs = Object.fromEntries(
      await Promise.all(
        ['memory_hog', 'fork_bomb', 'tmp_filler', 'chatterbox', 'output_flood', 'output_burst'].map(
          async (name) => [name, await trigger(t, jobs[name] as string)] as const,
        ),
      ),
    );
    limitRuns = runs;
    const reasons: Record<string, string> = {};
    for (const [name, runId] of Object.entries(runs)) {
      const run = await ended(t, runId);
      reasons[name] = `${run.status}/${run.reasonCode}`;
    }
    assert.deepEqual(
      reasons,
      {
        memory_hog: 'failed/out_of_memory',
        fork_bomb: 'failed/pids_limit',
        tmp_filler: 'failed/tmp_limit',
        chatterbox: 'failed/log_limit',
        output_flood: 'failed/output_limit',
        output_burst: 'failed/output_limit',
      },
      sandboxTrouble(),
    );
    // Still running after all of them: let it end.
    await dropIntoRun(steady, 'finish');
    const neighbourRun = await ended(n, steady);
    assert.deepEqual([neighbourRun.status, neighbourRun.reasonCode], ['succeeded', 'exit_zero']);
    assert.deepEqual(await logs(n, steady), ['steady and well']);

    // The run's own log says which limit stopped it.
    const chatter = await logs(t, runs.chatterbox as string);
    assert.equal(
      chatter.at(-1),
      'sovereign: the run printed more than its log limit (256 KiB) and was stopped',
      'the log ends with why',
    );
    const stored = chatter.slice(0, -1).reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
    assert.ok(stored <= 256 * 1024, `no more than the limit is kept (${stored} bytes)`);
    // Stopped once the data plane saw a refused fork, or ended by the bomb's own command
    // first (it returns at once): the same reason either way.
    assert.match(
      (await logs(t, runs.fork_bomb as string)).at(-1) ?? '',
      /^sovereign: the run reached its process limit \(48\)( and was stopped)?$/,
    );
    assert.equal(
      (await logs(t, runs.memory_hog as string)).at(-1),
      'sovereign: the run went past its memory limit (96 MiB): the kernel killed a process of it',
    );
    assert.match(
      (await logs(t, runs.tmp_filler as string)).at(-1) ?? '',
      /^sovereign: the run filled its \/tmp \(8 MiB\)/,
    );
    assert.equal(
      (await logs(t, runs.output_burst as string)).at(-1),
      "sovereign: the run's outputs went past its output limit (1 MiB): it failed, and what was past the limit was not kept",
    );
  });

  it('stops a run whose home outgrows its working copy, outputs and a state file: one big file, or many empty ones', async () => {
    // /job is a directory of the machine's disk, shared by every tenant's runs: not a
    // place to fill. 100 MB in one file, or 25,000 empty files (their inodes), with an
    // outputs limit of 1 MiB.
    const runs = await Promise.all(
      ['home_filler', 'file_spray'].map(async (name) => [name, await trigger(t, jobs[name] as string)] as const),
    );
    for (const [name, runId] of runs) {
      const run = await ended(t, runId);
      assert.deepEqual([run.status, run.reasonCode], ['failed', 'output_limit'], name);
      assert.match(
        (await logs(t, runId)).at(-1) ?? '',
        /^sovereign: the run's files in its home \(\$HOME\) went past its working copy, its output limit \(1 MiB\)/,
        name,
      );
    }
  });

  it('the CLI says which limit ended each run: `sov run info` gives its reason', async () => {
    const config = await mkdtemp(join(tmpdir(), 'sov-limits-cli-'));
    try {
      const env = { SOV_TOKEN: t.token, SOV_API_URL: platform.controlPlaneUrl, NO_COLOR: '1' };
      const shown: Record<string, string | undefined> = {};
      for (const [name, runId] of Object.entries(limitRuns)) {
        const info = await sovOk(config, ['run', 'info', runId], { env });
        shown[name] = /^reason\s+(\S+)$/m.exec(info.stdout)?.[1];
      }
      assert.deepEqual(shown, {
        memory_hog: 'out_of_memory',
        fork_bomb: 'pids_limit',
        tmp_filler: 'tmp_limit',
        chatterbox: 'log_limit',
        output_flood: 'output_limit',
        output_burst: 'output_limit',
      });
    } finally {
      await rm(config, { recursive: true, force: true });
    }
  });

  /** What the data plane said of jails it could not make, for a failure's message. */
  const sandboxTrouble = () =>
    platform
      .dp('eu-1')
      .service.output()
      .split('\n')
      .filter((line) => /jail|sandbox/.test(line) && /"level":(40|50)/.test(line))
      .join('\n');
  const fault = async (count: number) => {
    for (let i = 0; i < count; i += 1) await writeFile(join(faults, `fault-${i}`), '', { mode: 0o666 });
  };

  it('makes a run’s jail again when bwrap fails for a moment, and fails the run as sandbox_failed when it keeps failing', async () => {
    // A job without a network takes a jail made for it (the pool holds the usual shape).
    await fault(5);
    const lucky = await trigger(t, jobs.offline as string);
    const luckyRun = await ended(t, lucky);
    assert.deepEqual([luckyRun.status, luckyRun.reasonCode], ['succeeded', 'exit_zero'], sandboxTrouble());
    assert.deepEqual(await logs(t, lucky), ['made it']);
    assert.deepEqual(await readdir(faults), [], 'all five failures were met');

    await fault(6);
    const unlucky = await ended(t, await trigger(t, jobs.offline as string));
    assert.deepEqual([unlucky.status, unlucky.reasonCode], ['failed', 'sandbox_failed']);
    assert.deepEqual(await readdir(faults), [], 'six tries, then the run failed');
    assert.match(sandboxTrouble(), /could not make the run’s jail: trying again/);
    // What bwrap said as it died is in the log, even when its exit was seen first.
    assert.match(sandboxTrouble(), /bwrap: loopback: Failed RTM_NEWADDR: made on purpose/);
  });

  it('starts a data plane whose trial jail fails for a moment', async () => {
    const eu = platform.dp('eu-1');
    await eu.service.stop();
    await fault(2);
    const service = await platform.startDataPlane(eu);
    assert.deepEqual(await readdir(faults), [], 'both failures were met');
    assert.match(service.output(), /could not make the run’s jail: trying again/);
    const run = await ended(t, await trigger(t, jobs.offline as string));
    assert.deepEqual([run.status, run.reasonCode], ['succeeded', 'exit_zero']);
  });

  it('a job runs as a user that is not root, and a setuid file of its bundle is unpacked without the bit', async () => {
    const runId = await trigger(t, jobs.who as string);
    const run = await ended(t, runId);
    assert.equal(run.status, 'succeeded');
    const [uid, mode, ran] = await logs(t, runId);
    assert.notEqual(uid, '0', 'not root');
    assert.equal(mode, '755', 'no setuid bit');
    assert.equal(ran, `tool ran as ${uid}`, 'it ran as the job’s own user');
  });

  it('puts a job’s limits on its cgroup: memory without swap, a CPU quota, a process limit', async () => {
    const runId = await trigger(t, jobs.capped as string);
    let pid: number | undefined;
    await platform.waitFor(async () => {
      pid = (await runPids(runId))[0];
      return pid !== undefined;
    }, 'the job’s process');
    // Read from this machine's side, the job's cgroups are full paths of each hierarchy.
    const cgroups = new Map(
      (await readFile(`/proc/${pid}/cgroup`, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => line.split(':'))
        .flatMap(([, controllers, path]) => (controllers ?? '').split(',').map((c) => [c, path ?? ''] as const)),
    );
    const read = async (controller: string, name: string) =>
      (await readFile(join('/sys/fs/cgroup', controller, cgroups.get(controller) ?? '', name), 'utf8')).trim();
    if (cgroups.has('memory')) {
      assert.equal(await read('memory', 'memory.limit_in_bytes'), String(200 * 1024 ** 2));
      assert.equal(await read('pids', 'pids.max'), '77');
      assert.equal(await read('cpu', 'cpu.cfs_quota_us'), '25000');
      assert.equal(await read('cpu', 'cpu.cfs_period_us'), '100000');
    } else {
      assert.equal(await read('', 'memory.max'), String(200 * 1024 ** 2));
      assert.equal(await read('', 'pids.max'), '77');
      assert.equal(await read('', 'cpu.max'), '25000 100000');
    }
    // Its network's helper (slirp4netns: root, outside the jail) is in the same cgroups:
    // what the job's traffic costs it counts against the job's limits, not the machine's.
    const own = await readFile(`/proc/${pid}/cgroup`, 'utf8');
    const helpers: string[] = [];
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const command = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (!command.split('\0')[0]?.endsWith('slirp4netns')) continue;
      helpers.push(await readFile(`/proc/${entry}/cgroup`, 'utf8').catch(() => ''));
    }
    assert.ok(helpers.includes(own), `no slirp4netns in the job's cgroups ${own}: ${helpers.join(' | ')}`);
    await expectStatus(200, 'POST', `${platform.cp}/runs/${runId}/cancel`, { token: t.token });
    assert.equal((await ended(t, runId)).status, 'cancelled');
  });

  it('refuses at deploy a job that asks more than this data plane allows, or a limit it does not know', async () => {
    const { token, dataplane } = await platform.scopedToken(t.token, t.workspace.workspaceId, ['deployments:write']);
    const refused = await expectStatus(
      400,
      'POST',
      `${dataplane.url}/api/v1/workspaces/${t.workspace.workspaceId}/deployments?dryRun=true`,
      {
        token,
        raw: new Uint8Array(
          rawTarGz([
            {
              path: 'sovereign.yaml',
              type: '0',
              content:
                'jobs:\n  - name: greedy\n    run: "true"\n    limits: { memory: 64t, cpus: 0.5, disk: 1g }\n    network: everywhere\n',
            },
          ]),
        ),
        headers: { 'content-type': 'application/gzip' },
      },
    );
    assert.equal(refused.code, 'manifest_invalid');
    const paths = refused.errors.map((e: { path: string }) => e.path).sort();
    assert.deepEqual(paths, ['jobs[0].limits.disk', 'jobs[0].limits.memory', 'jobs[0].network']);
    const memory = refused.errors.find((e: { path: string }) => e.path === 'jobs[0].limits.memory');
    assert.match(memory.message, /over this data plane's maximum/);
  });
});
