import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { configFromEnv } from '../src/config.ts';
import { Janitor } from '../src/files/janitor.ts';
import { makeLauncher } from '../src/launch/index.ts';
import { hiddenName } from '../src/launch/jail/launcher.ts';
import { type RunSlot, SandboxFailedError } from '../src/launch/launcher.ts';
import { Spawner } from '../src/launch/spawner.ts';

/** A real jail launcher (a spawner and a janitor of its own) in a scratch directory, with a pool of one. */
async function startLauncher(clientId: string, instanceId: string, env: Record<string, string> = {}) {
  const scratch = await mkdtemp(join(tmpdir(), 'sov-jail-pool-'));
  await chmod(scratch, 0o711); // runs' users reach their homes through it
  const config = configFromEnv({
    SOV_CONTROL_PLANE_URL: 'http://127.0.0.1:1',
    SOV_CLIENT_ID: clientId,
    SOV_CLIENT_SECRET: 'secret',
    SOV_DATA_DIR: join(scratch, 'data'),
    SOV_WORK_DIR: join(scratch, 'work'),
    SOV_SANDBOX: 'on',
    SOV_SANDBOX_DIR: join(scratch, 'jails'),
    SOV_SANDBOX_POOL: '1',
    ...env,
  });
  const log = pino({ level: 'silent' });
  const janitor = new Janitor();
  const spawner = new Spawner(log);
  const launcher = await makeLauncher({ config, instanceId, spawner, janitor, log });
  /** Released at the end whatever happened: a jail held open keeps this process alive. */
  const held: RunSlot[] = [];
  return {
    scratch,
    launcher,
    held,
    limits: config.runLimits.defaults,
    async close() {
      await Promise.all(held.map((slot) => slot.release()));
      await launcher.close();
      spawner.close();
      await janitor.close();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}
type Started = Awaited<ReturnType<typeof startLauncher>>;

/**
 * Jails made in advance: a run that takes one starts on it at once, and the jail that
 * takes its place is made after the run's command started, not while the run is being
 * started (making one costs the data plane's thread about 3 ms: its directories, its
 * cgroup, the request to the spawner), which put a tenth on the median dispatch.
 */
describe('the pool of jails', { skip: process.getuid?.() !== 0 && 'needs root: runs are other users' }, () => {
  let l: Started;
  const instanceId = randomUUID();
  const clientId = `pool-test-${randomUUID()}`;

  before(async () => {
    l = await startLauncher(clientId, instanceId);
  });
  after(() => l?.close());

  /** The jails of this instance that exist: one directory each, made first when a jail is made. */
  const jails = async () => {
    const root = join(l.scratch, 'jails', hiddenName(clientId), hiddenName(instanceId));
    return (await readdir(root)).length;
  };

  it('hands a run the jail it holds without making the next one until the run’s command started', async () => {
    assert.equal(await jails(), 1, 'the pool of one is full once the launcher is ready');
    const slot = await l.launcher.acquire({
      runId: randomUUID(),
      kind: 'batch',
      network: 'outside',
      limits: l.limits,
    });
    l.held.push(slot);
    // The run's directory is the pool's jail: no other one is begun while the run starts.
    assert.equal(await jails(), 1, 'a jail was begun while the run was being started');
    // What the executor does first: the run's working copy, its user's.
    await mkdir(slot.host.app);
    assert.ok(slot.owner, 'a jailed run has a user of its own');
    await chown(slot.host.app, slot.owner.uid, slot.owner.gid);
    const run = await slot.start('exit 0', {});
    await sleep(100);
    assert.equal(await jails(), 1, 'a jail was begun before the run’s command was let go');
    run.go();
    // Once the command runs, the pool is filled again.
    const deadline = Date.now() + 10_000;
    while ((await jails()) < 2 && Date.now() < deadline) await sleep(20);
    assert.equal(await jails(), 2, 'the pool was not filled again after the run’s command started');
    run.stdout.resume();
    run.stderr.resume();
    const ending = await run.exited;
    assert.equal(ending.exitCode, 0);
  });
});

describe('a range of user ids smaller than the jails at once', {
  skip: process.getuid?.() !== 0 && 'needs root: runs are other users',
}, () => {
  let l: Started;

  before(async () => {
    l = await startLauncher(`uids-test-${randomUUID()}`, randomUUID(), { SOV_SANDBOX_UIDS: '1600000000-1600000001' });
  });
  after(() => l?.close());

  it('fails the run that finds every user id taken as sandbox_failed, and keeps serving', async () => {
    const request = () =>
      l.launcher.acquire({ runId: randomUUID(), kind: 'batch', network: 'outside', limits: l.limits });
    l.held.push(await request()); // the pool's jail: one id
    // The pool is filled again beside the next run, with the other id: none is left for it.
    await assert.rejects(request(), (error: Error) => {
      assert.ok(error instanceof SandboxFailedError, String(error));
      assert.match(error.message, /SOV_SANDBOX_UIDS/);
      return true;
    });
  });
});
