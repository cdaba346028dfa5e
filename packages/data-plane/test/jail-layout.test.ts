import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bwrapArgs, jailLayout, jailPasswd } from '../src/launch/jail/layout.ts';

/** The pairs of an option that takes two arguments, e.g. every `--ro-bind SRC DEST`. */
function pairs(args: string[], option: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  args.forEach((arg, i) => {
    if (arg === option) out.push([args[i + 1] as string, args[i + 2] as string]);
  });
  return out;
}

describe('a jail’s filesystem, as bwrap is told to make it', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sov-layout-'));
    await mkdir(join(root, 'tools', 'bin'), { recursive: true });
    await mkdir(join(root, 'tools', 'dataplane', 'db'), { recursive: true });
    await writeFile(join(root, 'tools', 'master.key'), 'k');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const layout = () =>
    jailLayout({
      readOnly: [join(root, 'tools')],
      ownPaths: [join(root, 'tools', 'dataplane'), join(root, 'tools', 'master.key'), '/var/lib/somewhere-else'],
      node: process.execPath,
    });
  const args = () =>
    bwrapArgs({
      layout: layout(),
      home: '/srv/runs/instance/slot',
      tmpBytes: 64 * 1024 * 1024,
      fds: { info: 3, block: 4, passwd: 5, group: 6, env: 7, resolv: 8, sync: 9 },
    });

  it('shows the system read-only, as this machine lays it out, and only it', () => {
    const binds = pairs(args(), '--ro-bind').map(([from]) => from);
    assert.ok(binds.includes('/usr') && binds.includes('/etc'));
    for (const from of binds) {
      assert.ok(
        [
          '/usr',
          '/etc',
          '/bin',
          '/sbin',
          '/lib',
          '/lib32',
          '/lib64',
          '/libx32',
          '/dev/null',
          process.execPath,
        ].includes(from),
        `nothing else is bound read-only: ${from}`,
      );
    }
    assert.deepEqual(
      pairs(args(), '--bind'),
      [['/srv/runs/instance/slot', '/job']],
      'the run’s directory alone is writable',
    );
  });

  it('hides the data plane’s own files, and the usual secrets, wherever they fall inside what is shown', () => {
    const hidden = layout().hidden.map((h) => `${h.path} ${h.directory ? 'dir' : 'file'}`);
    assert.ok(hidden.includes(`${join(root, 'tools', 'dataplane')} dir`));
    assert.ok(hidden.includes(`${join(root, 'tools', 'master.key')} file`));
    assert.ok(!hidden.some((h) => h.startsWith('/var/lib/somewhere-else')), 'what is not shown needs no hiding');
    const a = args();
    assert.ok(
      pairs(a, '--ro-bind').some(([from, to]) => from === '/dev/null' && to === join(root, 'tools', 'master.key')),
    );
    assert.ok(
      a.includes(join(root, 'tools', 'dataplane')) && a[a.indexOf(join(root, 'tools', 'dataplane')) - 1] === '--tmpfs',
    );
    if (hidden.some((h) => h.startsWith('/etc/shadow '))) {
      assert.ok(pairs(a, '--ro-bind').some(([from, to]) => from === '/dev/null' && to === '/etc/shadow'));
    }
  });

  it('makes every namespace its own, no user namespace inside, a /tmp of its size and a user that is not root', () => {
    const a = args();
    for (const flag of [
      '--unshare-user',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-net',
      '--disable-userns',
      '--new-session',
    ]) {
      assert.ok(a.includes(flag), flag);
    }
    assert.equal(a[a.indexOf('--uid') + 1], '1000');
    assert.equal(a[a.indexOf('--size') + 1], String(64 * 1024 * 1024));
    assert.equal(a[a.indexOf('--size') + 2], '--tmpfs');
    assert.equal(a[a.indexOf('--size') + 3], '/tmp');
    assert.ok(!a.includes('--share-net') && !a.includes('--dev-bind'), 'no network and no device of this machine');
    assert.match(jailPasswd, /^sov:x:1000:1000:.*:\/job:/m);
  });
});
