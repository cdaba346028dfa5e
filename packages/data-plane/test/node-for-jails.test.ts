import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nodeForJails } from '../src/launch/index.ts';

/**
 * The Node a data plane binds into its jails must stay reachable by runs' users for as
 * long as it runs, whatever happens to the directories above the Node it runs with: a
 * test that opened a checkout's directories for a moment and closed them again broke
 * every later jail of the data planes started in that window.
 */
describe('the Node bound into jails', { skip: process.getuid?.() !== 0 && 'needs root: a run is another user' }, () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'sov-node-for-jails-'));
    await chmod(scratch, 0o711); // the jails' directory below is reached through it
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('is a link under the jails’ directory, which a run’s user still reaches once Node’s own directory is closed', async () => {
    // A program that exits 0, standing for Node, in a directory every user may enter now.
    const opened = join(scratch, 'checkout');
    await mkdir(join(opened, 'bin'), { recursive: true, mode: 0o755 });
    await chmod(opened, 0o755);
    const node = join(opened, 'bin', 'node');
    await copyFile('/bin/true', node);
    await chmod(node, 0o755);
    const jails = join(scratch, 'jails');
    await mkdir(jails, { mode: 0o711 });

    const bound = nodeForJails(jails, node);
    assert.equal(bound, join(jails, 'node'), 'a link under the jails’ directory, not Node where it is');

    await chmod(opened, 0o700); // closed again
    const ran = spawnSync(bound, [], { uid: 65534, gid: 65534 });
    assert.equal(ran.error, undefined, `a run's user cannot start it: ${ran.error?.message}`);
    assert.equal(ran.status, 0);
  });
});
