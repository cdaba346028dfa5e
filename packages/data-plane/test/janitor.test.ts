import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Janitor } from '../src/files/janitor.ts';

describe('the janitor: run directories removed, handed over and measured off the main thread', () => {
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

describe('the janitor: handing a tree over, and measuring it', () => {
  let root: string;
  const janitor = new Janitor();
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sov-janitor-'));
  });
  after(async () => {
    await janitor.close();
    await rm(root, { recursive: true, force: true });
  });

  it('gives every entry to a user, links themselves and never what they point to', async () => {
    // Root can give files to anyone; anyone else can still give them to themselves.
    const uid = process.getuid?.() === 0 ? 4242 : (process.getuid?.() ?? 0);
    const gid = process.getuid?.() === 0 ? 4343 : (process.getgid?.() ?? 0);
    await mkdir(join(root, 'run', 'app', 'lib'), { recursive: true });
    await writeFile(join(root, 'run', 'app', 'lib', 'a.txt'), 'a');
    await writeFile(join(root, 'outside.txt'), 'not theirs');
    await symlink(join(root, 'outside.txt'), join(root, 'run', 'app', 'link'));
    const before = await lstat(join(root, 'outside.txt'));
    await janitor.chown(join(root, 'run'), uid, gid);
    for (const path of ['run', 'run/app', 'run/app/lib', 'run/app/lib/a.txt', 'run/app/link']) {
      const info = await lstat(join(root, path));
      assert.deepEqual([info.uid, info.gid], [uid, gid], path);
    }
    const outside = await lstat(join(root, 'outside.txt'));
    assert.deepEqual([outside.uid, outside.gid], [before.uid, before.gid]);
  });

  it('adds up the bytes of the files in a tree, not of what links point to', async () => {
    await mkdir(join(root, 'out', 'deep'), { recursive: true });
    await writeFile(join(root, 'out', 'one.bin'), Buffer.alloc(1000));
    await writeFile(join(root, 'out', 'deep', 'two.bin'), Buffer.alloc(2345));
    await writeFile(join(root, 'big.bin'), Buffer.alloc(100_000));
    await symlink(join(root, 'big.bin'), join(root, 'out', 'link'));
    // Named with bytes that are not UTF-8 (a job's output may be): counted all the same.
    await writeFile(
      Buffer.concat([Buffer.from(join(root, 'out', 'bad-')), Buffer.from([0xff, 0xfe])]),
      Buffer.alloc(10),
    );
    const badDir = Buffer.concat([Buffer.from(join(root, 'out', 'dir-')), Buffer.from([0xff])]);
    await mkdir(badDir);
    await writeFile(Buffer.concat([badDir, Buffer.from('/inner.bin')]), Buffer.alloc(20));
    assert.equal(await janitor.size(join(root, 'out')), 3375);
    assert.equal(await janitor.size(join(root, 'missing')), 0);
    assert.ok((await janitor.size(join(root, 'out'), 10)) > 10);
  });
});
