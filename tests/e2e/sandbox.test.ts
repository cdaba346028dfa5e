import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { flowTarget, freePort } from '@sovereign/server-kit/testing';
import { shellQuote } from '../../packages/data-plane/src/launch/supervisor.ts';
import { call, dataPlaneMain, expectStatus, Platform } from '../support/platform.ts';

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/**
 * Fail closed (R9): a data plane that cannot jail its runs refuses to start and names
 * what is missing, unless told SOV_SANDBOX=off on purpose, which it then says at every
 * start, in /readyz, in /metrics and to administrators through the data plane's health.
 */

/**
 * Runs a data plane that must refuse to start; resolves to its exit code and what it
 * printed. `wrap` is a command it is started under (it ends by exec'ing the data plane);
 * `uid` the user it runs as; `node` and `main` where its Node and its entry point are.
 */
async function refusal(
  env: Record<string, string>,
  how: { wrap?: string[]; uid?: number; node?: string; main?: string } = {},
): Promise<{ code: number | null; printed: string }> {
  const port = await freePort();
  const argv = [...(how.wrap ?? []), how.node ?? process.execPath, how.main ?? dataPlaneMain];
  const child = spawn(argv[0] as string, argv.slice(1), {
    ...(how.uid === undefined ? {} : { uid: how.uid, gid: how.uid }),
    env: {
      PATH: process.env.PATH,
      SOV_PORT: String(port),
      SOV_CONTROL_PLANE_URL: 'http://127.0.0.1:9',
      SOV_CLIENT_ID: randomBytes(8).toString('hex'),
      SOV_CLIENT_SECRET: 'not-used',
      SOV_MASTER_KEY: randomBytes(32).toString('base64'),
      SOV_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let printed = '';
  child.stdout.on('data', (chunk: Buffer) => {
    printed += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    printed += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  // It never listened: nobody answers on its port.
  assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status, undefined);
  return { code, printed };
}

describe('a data plane that cannot build jails refuses to start, and says what is missing', () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'sov-refusal-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('without the programs a jail is built with: each package is named', async () => {
    const { code, printed } = await refusal({ SOV_DATA_DIR: join(scratch, 'dp1'), PATH: '/nonexistent' });
    assert.equal(code, 1);
    assert.match(printed, /data plane refuses to start: runs cannot be jailed on this machine/);
    for (const missing of ['the bubblewrap package (bwrap)', 'the slirp4netns package', 'the socat package']) {
      assert.ok(printed.includes(`- ${missing}`), `names ${missing}: ${printed}`);
    }
    assert.match(printed, /set SOV_SANDBOX=off to run jobs unjailed on purpose/);
  });

  it('with runs’ directories its runs’ users could not reach', async () => {
    const hidden = join(scratch, 'hidden');
    await mkdir(hidden, { mode: 0o700 });
    const { code, printed } = await refusal({
      SOV_DATA_DIR: join(scratch, 'dp'),
      SOV_SANDBOX_DIR: join(hidden, 'jails'),
    });
    assert.equal(code, 1);
    assert.match(printed, new RegExp(`- ${hidden} \\(on the way to the runs' directories\\) must be traversable`));
  });

  it('run by a user that is not root: it says that only root gives each run a user and cgroup of its own', async () => {
    // A data directory the user may write: what it refuses is the jail, not its storage.
    await chmod(scratch, 0o755);
    const data = join(scratch, 'nobody');
    await mkdir(data, { mode: 0o777 });
    await chmod(data, 0o777);
    // The user must reach the checkout, and a clean clone in a directory of mktemp's is out
    // of its reach. Nothing of this machine is opened for it: in a mount namespace of its
    // own, each entry of the checkout is bound into a directory it may enter, and the
    // data plane started from there (as the user, once the mounts are made).
    const checkout = join(scratch, 'checkout');
    await mkdir(checkout, { mode: 0o755 });
    const entries = (await readdir(repositoryRoot, { withFileTypes: true })).filter((e) => e.name !== '.git');
    for (const entry of entries) {
      if (entry.isDirectory()) await mkdir(join(checkout, entry.name));
      else await writeFile(join(checkout, entry.name), '');
    }
    const inCheckout = (path: string) =>
      path.startsWith(`${repositoryRoot}/`) ? join(checkout, relative(repositoryRoot, path)) : path;
    const setUp = [
      ...entries.map(
        (e) => `mount --bind ${shellQuote(join(repositoryRoot, e.name))} ${shellQuote(join(checkout, e.name))}`,
      ),
      'exec setpriv --reuid 65534 --regid 65534 --clear-groups "$@"',
    ].join(' && ');
    const { code, printed } = await refusal(
      { SOV_DATA_DIR: data, SOV_SANDBOX_DIR: join(data, 'jails') },
      {
        wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', setUp, 'sh'],
        node: inCheckout(process.execPath),
        main: inCheckout(dataPlaneMain),
      },
    );
    assert.equal(code, 1, printed);
    assert.match(printed, /data plane refuses to start: runs cannot be jailed on this machine/);
    assert.match(
      printed,
      /- root: the data plane runs as user 65534, and a jail gives each run a user id and cgroup of its own/,
    );
  });

  it('with user namespaces off in the kernel, or cgroups it may not write: each is named', async () => {
    // In a mount namespace of its own (nothing of this machine changes): the kernel's
    // setting read as 0, and every cgroup hierarchy read-only, as in a container without them.
    const zero = join(scratch, 'zero');
    await writeFile(zero, '0\n');
    const setUp = [
      `mount --bind ${zero} /proc/sys/user/max_user_namespaces`,
      'for m in $(findmnt -rn -t cgroup,cgroup2 -o TARGET); do mount -o remount,bind,ro "$m" || exit 1; done',
      'exec "$@"',
    ].join(' && ');
    const { code, printed } = await refusal(
      { SOV_DATA_DIR: join(scratch, 'dp3') },
      { wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', setUp, 'sh'] },
    );
    assert.equal(code, 1, printed);
    assert.match(printed, /- user namespaces: the kernel setting user\.max_user_namespaces is 0/);
    assert.match(printed, /- write access to cgroups at \/sys\/fs\/cgroup\/\S+ \(EROFS\)/);
  });

  it('in production, SOV_SANDBOX=auto is refused: a run is jailed, or not on purpose', async () => {
    const { code, printed } = await refusal({ SOV_DATA_DIR: join(scratch, 'dp2'), SOV_SANDBOX: 'auto' });
    assert.equal(code, 1);
    assert.match(printed, /SOV_SANDBOX=auto is for development/);
  });
});

const target = flowTarget();

describe(`what runs are started in, said everywhere [${target.name}]`, () => {
  let platform: Platform;
  before(async () => {
    platform = await Platform.start(target, { perDataplaneEnv: { 'us-1': { SOV_SANDBOX: 'off' } } });
  });
  after(async () => {
    await platform?.stop();
  });

  it('unjailed on purpose: in its log at start, /readyz, /metrics and the data plane’s health', async () => {
    const us = platform.dp('us-1');
    assert.match(us.service.output(), /runs are NOT jailed \(SOV_SANDBOX=off\)/);
    const ready = await expectStatus(200, 'GET', `${us.url}/readyz`);
    assert.equal(ready.sandbox.mode, 'off');
    assert.equal(ready.sandbox.reason, 'SOV_SANDBOX=off');
    const metrics = await call('GET', `${us.url}/metrics`);
    assert.match(metrics.body, /sovereign_runs_jailed\{[^}]*mode="off"[^}]*\} 0/);
    const health = await expectStatus(200, 'GET', `${platform.cp}/dataplanes/${us.dataplaneId}/health`, {
      token: platform.adminToken,
    });
    assert.equal(health.sandbox.mode, 'off');
    assert.equal(health.instances[0].sandbox.reason, 'SOV_SANDBOX=off');
  });

  it('jailed: the sandbox and its limits, in /readyz, /metrics and the data plane’s health', async () => {
    const eu = platform.dp('eu-1');
    assert.match(eu.service.output(), /every run is jailed/);
    const ready = await expectStatus(200, 'GET', `${eu.url}/readyz`);
    assert.equal(ready.sandbox.mode, 'bubblewrap');
    assert.ok(ready.sandbox.limits.defaults.memoryBytes > 0);
    const metrics = await call('GET', `${eu.url}/metrics`);
    assert.match(metrics.body, /sovereign_runs_jailed\{[^}]*mode="bubblewrap"[^}]*\} 1/);
    await platform.waitFor(async () => {
      const health = await expectStatus(200, 'GET', `${platform.cp}/dataplanes/${eu.dataplaneId}/health`, {
        token: platform.adminToken,
      });
      return health.sandbox?.mode === 'bubblewrap' && health.sandbox.cgroups !== undefined;
    }, 'the health to name the jail');
  });
});
