import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { type Database, openDatabase } from '@sovereign/server-kit/sql';
import { databaseTargets, type TestDatabase } from '@sovereign/server-kit/testing';
import * as tar from 'tar';
import { Deployments } from '../src/deployments/index.ts';
import { WorkingCopies } from '../src/executor/working-copies.ts';
import { Janitor } from '../src/files/janitor.ts';
import { LocalArtifactStore } from '../src/storage/artifacts.ts';
import { migrateDataPlane } from '../src/storage/migrations.ts';
import { rawTarGz } from './support/tar-writer.ts';

const manifest = 'jobs:\n  - name: hello\n    run: ./run.sh\n';

/** A bundle with a script, a nested file, and a relative symbolic link. */
function bundle(marker: string, padding = 0): Buffer {
  return rawTarGz([
    { path: 'sovereign.yaml', type: '0', content: manifest },
    { path: 'run.sh', type: '0', mode: 0o755, content: `#!/bin/sh\necho ${marker}\n` },
    { path: 'lib/', type: '5', mode: 0o750 },
    { path: 'lib/data.txt', type: '0', content: `${marker}\n${'x'.repeat(padding)}` },
    { path: 'lib/link.txt', type: '2', linkpath: 'data.txt' },
  ]);
}

/** Each entry of a tree: its kind, mode, and content or link target. */
async function describeTree(dir: string): Promise<string[]> {
  const entries = (await readdir(dir, { recursive: true })).sort();
  return Promise.all(
    ['.', ...entries].map(async (path) => {
      const full = join(dir, path);
      const info = await lstat(full);
      const mode = (info.mode & 0o7777).toString(8);
      if (info.isDirectory()) return `${path} dir ${mode}`;
      if (info.isSymbolicLink()) return `${path} link -> ${await readlink(full)}`;
      return `${path} file ${mode} ${await readFile(full, 'utf8')}`;
    }),
  );
}

for (const target of databaseTargets()) {
  describe(`working copies of deployments [${target.name}]`, () => {
    let test: TestDatabase;
    let db: Database;
    let root: string;
    let store: LocalArtifactStore;
    let deployments: Deployments;
    const warnings: string[] = [];
    const log = { warn: (_fields: object, message: string) => void warnings.push(message) };
    const workspaceId = randomUUID();
    const janitor = new Janitor();

    before(async () => {
      test = await target.create();
      db = await openDatabase(test.options);
      await migrateDataPlane(db);
      root = await mkdtemp(join(tmpdir(), 'sov-copies-'));
      store = new LocalArtifactStore(join(root, 'artifacts'));
      deployments = new Deployments({
        db,
        store,
        limits: { maxBundleBytes: 1024 * 1024, maxEntries: 100, maxUnpackedBytes: 8 * 1024 * 1024 },
      });
    });
    after(async () => {
      await janitor.close();
      await db?.close();
      await test?.drop();
      await rm(root, { recursive: true, force: true });
    });

    const deploy = async (marker: string, padding = 0) => {
      const result = await deployments.upload(workspaceId, Readable.from([bundle(marker, padding)]), {
        dryRun: false,
        createdBy: randomUUID(),
      });
      return result.deploymentId as string;
    };
    const copies = (budgetBytes = 1024 * 1024) => {
      const cacheRoot = join(root, 'work', '.deployments', randomUUID());
      const chownTree = (path: string, uid: number, gid: number) => janitor.chown(path, uid, gid);
      return { cacheRoot, copies: new WorkingCopies({ deployments, root: cacheRoot, budgetBytes, log, chownTree }) };
    };
    /** Where a run's working copy goes: its run directory exists, the copy does not yet. */
    const dest = async () => {
      const to = join(root, 'work', randomUUID(), 'app');
      await mkdir(join(to, '..'), { recursive: true });
      return to;
    };
    const cached = async (cacheRoot: string) => (await readdir(cacheRoot).catch(() => [])).sort();

    it('gives each run a full, fresh copy: what one run changes, the next never sees', async () => {
      const deploymentId = await deploy('first');
      const { cacheRoot, copies: c } = copies();
      const one = await dest();
      await c.checkout(workspaceId, deploymentId, one);
      assert.equal(await readFile(join(one, 'run.sh'), 'utf8'), '#!/bin/sh\necho first\n');
      assert.equal(await readlink(join(one, 'lib/link.txt')), 'data.txt', 'the link is kept as it was written');
      assert.equal(await readFile(join(one, 'lib/link.txt'), 'utf8'), 'first\n');
      assert.equal((await lstat(one)).mode & 0o777, 0o700, 'owner-only, like an unpacked bundle');
      // Every entry as an unpack of the bundle makes it: kind, mode and content.
      const direct = join(root, randomUUID());
      await mkdir(direct, { mode: 0o700 });
      await pipeline(Readable.from([bundle('first')]), tar.x({ cwd: direct, strict: true }));
      assert.deepEqual(await describeTree(one), await describeTree(direct));

      await writeFile(join(one, 'run.sh'), 'changed by the run');
      await rm(join(one, 'lib'), { recursive: true });
      await writeFile(join(one, 'left-behind.txt'), 'from the first run');

      const two = await dest();
      await c.checkout(workspaceId, deploymentId, two);
      assert.deepEqual((await readdir(two, { recursive: true })).sort(), [
        'lib',
        'lib/data.txt',
        'lib/link.txt',
        'run.sh',
        'sovereign.yaml',
      ]);
      assert.equal(await readFile(join(two, 'run.sh'), 'utf8'), '#!/bin/sh\necho first\n');
      assert.equal((await cached(cacheRoot)).length, 1, 'one unpacked tree, kept');
      await c.clear();
      assert.deepEqual(await cached(cacheRoot), []);
    });

    it('unpacks a deployment once: later copies come from the cache, not the bundle', async () => {
      const deploymentId = await deploy('once');
      const { copies: c } = copies();
      const first = await dest();
      await c.checkout(workspaceId, deploymentId, first);
      assert.equal((await c.jobs(workspaceId, deploymentId))[0]?.name, 'hello');

      // The bundle gone from the store: the cache still serves the deployment, its jobs too.
      await store.delete(Deployments.artifactKey(workspaceId, deploymentId));
      const second = await dest();
      await c.checkout(workspaceId, deploymentId, second);
      assert.equal(await readFile(join(second, 'lib/data.txt'), 'utf8'), 'once\n');

      // A cache that never saw it has only the store to go to.
      const { copies: fresh } = copies();
      const third = await dest();
      await assert.rejects(fresh.checkout(workspaceId, deploymentId, third));
      await c.clear();
    });

    it('falls back to the bundle when the cached tree was removed under it', async () => {
      const deploymentId = await deploy('fallback');
      const { cacheRoot, copies: c } = copies();
      const first = await dest();
      await c.checkout(workspaceId, deploymentId, first);
      await rm(cacheRoot, { recursive: true });
      const second = await dest();
      warnings.length = 0;
      await c.checkout(workspaceId, deploymentId, second);
      assert.equal(await readFile(join(second, 'lib/data.txt'), 'utf8'), 'fallback\n');
      assert.deepEqual(warnings, ['cached deployment unusable: unpacking its bundle']);
      // The next copy caches it again.
      const third = await dest();
      await c.checkout(workspaceId, deploymentId, third);
      assert.equal((await cached(cacheRoot)).length, 1);
      await c.clear();
    });

    it('keeps within its budget: least recently used trees go, and one larger than it all is never kept', async () => {
      const small = await deploy('small');
      const other = await deploy('other');
      const large = await deploy('large', 5000);
      // Room for one small tree (about 70 bytes of files), not two, and never the large one.
      const { cacheRoot, copies: c } = copies(100);
      const copy = async (deploymentId: string) => {
        const to = await dest();
        await c.checkout(workspaceId, deploymentId, to);
        return readFile(join(to, 'run.sh'), 'utf8');
      };
      assert.match(await copy(small), /small/);
      const [smallTree] = await cached(cacheRoot);
      assert.match(await copy(other), /other/);
      const trees = await cached(cacheRoot);
      assert.equal(trees.length, 1, 'the older tree was evicted');
      assert.notEqual(trees[0], smallTree);
      assert.match(await copy(large), /large/);
      assert.match(await copy(large), /large/);
      assert.deepEqual(await cached(cacheRoot), trees, 'the large tree was moved to its runs, never kept');
      await c.clear();
    });

    it('unpacks once for runs of a deployment starting together', async () => {
      const deploymentId = await deploy('together');
      const { cacheRoot, copies: c } = copies();
      const targets = await Promise.all(Array.from({ length: 6 }, () => dest()));
      await Promise.all(targets.map((to) => c.checkout(workspaceId, deploymentId, to)));
      for (const to of targets) assert.equal(await readFile(join(to, 'lib/data.txt'), 'utf8'), 'together\n');
      assert.equal((await cached(cacheRoot)).length, 1);
      await c.clear();
    });

    it('refuses a deployment that does not exist, or is another workspace’s, and leaves nothing behind', async () => {
      const deploymentId = await deploy('mine');
      const { cacheRoot, copies: c } = copies();
      for (const [ws, dep] of [
        [workspaceId, randomUUID()],
        [randomUUID(), deploymentId],
      ] as const) {
        const to = await dest();
        await assert.rejects(c.checkout(ws, dep, to));
        await assert.rejects(c.jobs(ws, dep));
      }
      assert.deepEqual(await cached(cacheRoot), []);
    });

    it('keeps no owner and no setuid, setgid or sticky bit of the archive, and gives a jailed run’s copy to its user', async () => {
      // Root can give files to anyone; anyone else can still give them to themselves.
      const root0 = process.getuid?.() === 0;
      const owner = { uid: root0 ? 4242 : (process.getuid?.() ?? 0), gid: root0 ? 4343 : (process.getgid?.() ?? 0) };
      const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
      for (const padding of [0, 300 * 1024]) {
        const result = await deployments.upload(
          workspaceId,
          Readable.from([
            rawTarGz([
              { path: 'sovereign.yaml', type: '0', content: manifest },
              { path: 'run.sh', type: '0', mode: 0o4755, uid: 0, content: '#!/bin/sh\nid\n' },
              { path: 'shared/', type: '5', mode: 0o3777, uid: 1234, gid: 1234 },
              { path: 'shared/big.bin', type: '0', mode: 0o2644, uid: 1234, content: 'x'.repeat(padding) },
            ]),
          ]),
          { dryRun: false, createdBy: randomUUID() },
        );
        const deploymentId = result.deploymentId as string;
        const { copies: c } = copies();
        const plain = await dest();
        await c.checkout(workspaceId, deploymentId, plain);
        const jailed = await dest();
        await c.checkout(workspaceId, deploymentId, jailed, owner);
        for (const [dir, who] of [
          [plain, me],
          [jailed, owner],
        ] as const) {
          const modes: Record<string, string> = {};
          for (const path of ['run.sh', 'shared', 'shared/big.bin', '.']) {
            const info = await lstat(join(dir, path));
            modes[path] = (info.mode & 0o7777).toString(8);
            assert.deepEqual([info.uid, info.gid], [who.uid, who.gid], `${path} (${padding} bytes of padding)`);
          }
          assert.equal(modes['run.sh'], '755', 'no setuid bit');
          assert.equal(Number.parseInt(modes.shared ?? '0', 8) & 0o7000, 0, 'no setgid or sticky bit on the directory');
          assert.equal(Number.parseInt(modes['shared/big.bin'] ?? '0', 8) & 0o7000, 0, 'no setgid bit on the file');
        }
      }
    });

    it('removes the caches of instances that are gone, and only theirs', async () => {
      const { cacheRoot, copies: c } = copies();
      const parent = join(cacheRoot, '..');
      const gone = randomUUID();
      const alive = randomUUID();
      for (const id of [gone, alive]) await mkdir(join(parent, id, 'tree'), { recursive: true });
      const deploymentId = await deploy('own');
      const to = await dest();
      await c.checkout(workspaceId, deploymentId, to);
      await c.removeStale((id) => id === alive);
      const left = await readdir(parent);
      assert.ok(left.includes(alive) && !left.includes(gone), `left: ${left.join(', ')}`);
      assert.equal((await cached(cacheRoot)).length, 1, 'its own cache is kept');
      await c.clear();
    });
  });
}
