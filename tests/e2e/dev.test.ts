import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '@sovereign/server-kit/testing';
import { assertAllDown, DevPlatform, repoRoot, sov, sovOk } from '../support/cli.ts';
import { alive } from '../support/inside.ts';

/** `npm start` runs `sov dev`: the whole platform on PGlite, kept across restarts. */
describe('npm start (sov dev), real processes [pglite]', () => {
  let home: string;
  let config: string;
  let port: number;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'sov-dev-'));
    config = await mkdtemp(join(tmpdir(), 'sov-dev-config-'));
    port = await freePorts(3);
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
    await rm(config, { recursive: true, force: true });
  });

  const ports = () => [port, port + 1, port + 2];

  it('starts a control plane and data planes us-1 and eu-1, and keeps users, workspaces, deployments and runs across a restart', async () => {
    let firstPlanes = '';
    let runId = '';
    const first = await DevPlatform.start(home, port);
    try {
      for (const p of ports()) assert.equal((await fetch(`http://127.0.0.1:${p}/readyz`)).status, 200);
      // A second npm start on the same ports says what holds them, and leaves this one running.
      const other = await mkdtemp(join(tmpdir(), 'sov-dev-second-'));
      const second = await sov(config, ['dev'], { env: { SOV_HOME: other, SOV_PORT: String(port) } });
      await rm(other, { recursive: true, force: true });
      assert.equal(second.code, 1, second.stderr);
      assert.match(
        second.stderr,
        new RegExp(
          `port ${port} is taken by what looks like another Sovereign service \\(sov dev or npm start already running\\?\\)`,
        ),
      );
      assert.match(second.stderr, /start on other ports: SOV_PORT=\d+ npm start/);
      assert.doesNotMatch(second.stdout + second.stderr, /Sovereign is running/);
      for (const p of ports())
        assert.equal((await fetch(`http://127.0.0.1:${p}/readyz`)).status, 200, 'the first goes on');
      firstPlanes = await readFile(join(home, 'dev.json'), 'utf8');
      const printed = first.printed();
      assert.match(printed, /data plane us-1 .*region us/);
      assert.match(printed, /data plane eu-1 .*region eu/);
      assert.match(printed, /generated; saved in/);
      assert.match(printed, /npx sov login --api http:\/\/127\.0\.0\.1:\d+/, 'it prints the next commands');
      assert.match(printed, /npx sov deploy examples\/hello/);
      assert.match(printed, /npx sov job trigger hello --follow/);
      const password = (await readFile(join(home, 'admin-password'), 'utf8')).trim();
      assert.equal((await stat(join(home, 'admin-password'))).mode & 0o777, 0o600);
      // Zero set-up: the control plane's master key is made once, private, and every later start opens its keys with it.
      assert.equal((await stat(join(home, 'control-plane', 'master.key'))).mode & 0o777, 0o600);
      assert.ok(printed.includes(password), 'the generated password is printed once');

      // Something to keep: a session, a workspace, a deployment, a run with logs and state.
      await sovOk(config, ['login', '--api', first.url, '--email', 'admin@localhost', '--password-stdin'], {
        input: password,
      });
      await sovOk(config, ['workspace', 'create', 'kept', '--region', 'us']);
      await sovOk(config, ['deploy', join(repoRoot, 'examples/hello')]);
      await sovOk(config, ['job', 'trigger', 'hello', '--follow']);
      runId = JSON.parse((await sovOk(config, ['--json', 'run', 'list'])).stdout).data[0].runId;
    } finally {
      assert.equal(await first.stop(), 0, 'Ctrl-C stops everything cleanly');
    }
    await assertAllDown(ports());

    const second = await DevPlatform.start(home, port);
    try {
      assert.doesNotMatch(second.printed(), /generated; saved in/, 'the password is generated only once');
      assert.equal(await readFile(join(home, 'dev.json'), 'utf8'), firstPlanes, 'the same data planes are reused');
      const me = JSON.parse((await sovOk(config, ['--json', 'whoami'])).stdout);
      assert.equal(me.email, 'admin@localhost', 'the administrator and its session survive a restart');
      const planes = JSON.parse((await sovOk(config, ['--json', 'dataplane', 'list'])).stdout);
      assert.deepEqual(planes.data.map((p: { name: string }) => p.name).sort(), ['eu-1', 'us-1']);
      const workspaces = JSON.parse((await sovOk(config, ['--json', 'workspace', 'list'])).stdout);
      assert.deepEqual(
        workspaces.data.map((w: { name: string; dataResidency: string }) => [w.name, w.dataResidency]),
        [['kept', 'us']],
      );
      const jobs = JSON.parse((await sovOk(config, ['--json', 'job', 'list'])).stdout);
      assert.deepEqual(
        jobs.data.map((j: { name: string }) => j.name),
        ['hello'],
        'the deployment survives',
      );
      const runs = JSON.parse((await sovOk(config, ['--json', 'run', 'list'])).stdout);
      assert.deepEqual(
        runs.data.map((r: { runId: string; status: string }) => [r.runId, r.status]),
        [[runId, 'succeeded']],
      );
      const logs = JSON.parse((await sovOk(config, ['--json', 'logs', runId])).stdout);
      assert.ok(
        logs.lines.some((l: { line: string }) => l.line === 'Hello from hello, run number 1.'),
        'the run’s logs survive in the data plane',
      );
      const state = JSON.parse((await sovOk(config, ['--json', 'state', 'get', 'hello'])).stdout);
      assert.equal(state.state.runs, 1);

      // A child that dies is reported, and the rest are stopped.
      const children = await second.children();
      assert.equal(children.length, 3, children.map((c) => c.args).join('\n'));
      const controlPlane = children.find((c) => c.args.endsWith('sov.ts control-plane'));
      assert.ok(controlPlane, 'the control plane is a child of sov dev');
      process.kill(controlPlane.pid, 'SIGKILL');
      assert.equal(await second.exited(), 1, 'sov dev fails when a child dies');
      assert.match(second.printed(), /control-plane stopped unexpectedly \(SIGKILL\); stopping the rest/);
      for (const child of children) {
        assert.throws(() => process.kill(child.pid, 0), { code: 'ESRCH' }, `${child.args} is left running`);
      }
    } finally {
      await second.stop();
    }
    await assertAllDown(ports());
  });

  it('leaves nothing running when sov dev itself is killed outright', async () => {
    const dev = await DevPlatform.start(home, port);
    const children = await dev.children();
    assert.equal(children.length, 3, children.map((c) => c.args).join('\n'));
    await dev.stop('SIGKILL');
    // Each service notices within half a second and bounds its own stop (the control
    // plane 15 s, a data plane its runs' 10 s grace and 15 s more): a load that slows
    // a close down never leaves it running.
    const deadline = Date.now() + 45_000;
    const running = () => children.filter((c) => alive(c.pid));
    while (running().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    // What a process left running is doing: its state (D: in the kernel, S: waiting), and
    // where each of its threads waits (a worker thread blocked, the main one in its exit).
    const read = (path: string) => {
      try {
        return readFileSync(path, 'utf8').trim();
      } catch {
        return '-';
      }
    };
    const doing = (pid: number) => [
      (read(`/proc/${pid}/status`).match(/^(State|PPid|SigPnd|ShdPnd):.*$/gm) ?? []).join('; '),
      (() => {
        try {
          return readdirSync(`/proc/${pid}/task`)
            .map((tid) => `${read(`/proc/${pid}/task/${tid}/comm`)} ${read(`/proc/${pid}/task/${tid}/wchan`)}`)
            .join(', ');
        } catch {
          return 'threads: -';
        }
      })(),
      read(`/proc/${pid}/stack`),
    ];
    assert.deepEqual(
      running().map((c) => c.args),
      [],
      `every service stops once its supervisor is gone: ${running()
        .map((c) => `${c.pid} ${doing(c.pid).join(' | ')}`)
        .join('; ')}`,
    );
    await assertAllDown(ports());
  });
});
