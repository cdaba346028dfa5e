import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Janitor } from '../src/executor/janitor.ts';

describe('the janitor: working copies removed off the main thread', () => {
  let root: string;
  const janitor = new Janitor();
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sov-janitor-'));
  });
  after(async () => {
    await janitor.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A run's directory: files, a nested read-only one, and a link out of it that must survive. */
  const tree = async (name: string) => {
    const dir = join(root, name);
    await mkdir(join(dir, 'app', 'lib'), { recursive: true });
    await writeFile(join(dir, 'app', 'run.sh'), 'echo hi');
    await writeFile(join(dir, 'app', 'lib', 'data.txt'), 'x'.repeat(10_000));
    await writeFile(join(root, 'outside.txt'), 'keep me');
    await symlink(join(root, 'outside.txt'), join(dir, 'app', 'link'));
    return dir;
  };

  it('removes a whole tree, and not what its links point to', async () => {
    const dir = await tree('one');
    await janitor.remove(dir);
    assert.equal(existsSync(dir), false);
    assert.equal(existsSync(join(root, 'outside.txt')), true);
  });

  it('takes a missing path as done, and many at once', async () => {
    await janitor.remove(join(root, 'never-made'));
    const dirs = await Promise.all(Array.from({ length: 20 }, (_, i) => tree(`many-${i}`)));
    await Promise.all(dirs.map((dir) => janitor.remove(dir)));
    for (const dir of dirs) assert.equal(existsSync(dir), false);
  });

  it('starts its thread again after it was stopped', async () => {
    await janitor.close();
    const dir = await tree('after-close');
    await janitor.remove(dir);
    assert.equal(existsSync(dir), false);
  });
});
