import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { type ArtifactStore, InvalidArtifactKeyError } from '../src/storage/artifacts.ts';
import { closeStoreBackends, storeBackends } from './support/artifact-stores.ts';

after(async () => {
  await closeStoreBackends();
});

async function file(store: ArtifactStore, content: Buffer | string): Promise<string> {
  await mkdir(store.stagingDir, { recursive: true });
  const path = join(store.stagingDir, `in-${randomBytes(6).toString('hex')}`);
  await writeFile(path, content);
  return path;
}

for (const backend of storeBackends) {
  describe(`artifact store: ${backend.name}`, () => {
    let store: ArtifactStore;
    let close: () => Promise<void>;
    before(async () => {
      ({ store, close } = await backend.open());
    });
    after(async () => close());

    it('stores a file whole under its key and moves it out of where it was', async () => {
      const source = await file(store, 'hello, region');
      await store.putFile('bundles/ws1/dep1.tar.gz', source);
      assert.equal(await text(await store.openRead('bundles/ws1/dep1.tar.gz')), 'hello, region');
      assert.deepEqual(await store.stat('bundles/ws1/dep1.tar.gz'), { sizeBytes: 13 });
      assert.equal(await store.exists('bundles/ws1/dep1.tar.gz'), true);
      assert.ok(!(await readdir(store.stagingDir)).includes(source.split('/').at(-1) as string), 'the source is gone');
    });

    it('streams back a file larger than a part, byte for byte', async () => {
      const bytes = randomBytes(12 * 1024 * 1024 + 123);
      await store.putFile('outputs/run1/big', await file(store, bytes));
      const read = await store.openRead('outputs/run1/big');
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of read) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      assert.equal(size, bytes.length);
      assert.equal(hash.digest('hex'), createHash('sha256').update(bytes).digest('hex'));
    });

    it('replaces an object put again under the same key', async () => {
      await store.putFile('state/a', await file(store, 'first'));
      await store.putFile('state/a', await file(store, 'second'));
      assert.equal(await text(await store.openRead('state/a')), 'second');
    });

    it('lists by prefix, sorted, and deletes (twice is not an error)', async () => {
      for (const key of ['logs/r2/0002', 'logs/r2/0001', 'logs/r3/0001', 'logsx/r1']) {
        await store.putFile(key, await file(store, key));
      }
      assert.deepEqual(await store.list('logs/r2/'), ['logs/r2/0001', 'logs/r2/0002']);
      assert.deepEqual(await store.list('logs/'), ['logs/r2/0001', 'logs/r2/0002', 'logs/r3/0001']);
      await store.delete('logs/r2/0001');
      await store.delete('logs/r2/0001');
      assert.deepEqual(await store.list('logs/r2/'), ['logs/r2/0002']);
      assert.equal(await store.stat('logs/r2/0001'), undefined);
      assert.equal(await store.exists('logs/r2/0001'), false);
    });

    it('says ENOENT for an object that is not there', async () => {
      await assert.rejects(store.openRead('bundles/none/none.tar.gz'), (error: NodeJS.ErrnoException) => {
        assert.equal(error.code, 'ENOENT');
        return true;
      });
    });

    it('refuses keys that could leave its root or name its staging files', async () => {
      for (const key of ['../x', 'a/../../x', '/abs', '.staging/x', 'a//b', '', 'a/.hidden']) {
        await assert.rejects(store.putFile(key, '/nonexistent'), InvalidArtifactKeyError, key);
        await assert.rejects(store.openRead(key), InvalidArtifactKeyError, key);
      }
      await assert.rejects(store.list('../'), InvalidArtifactKeyError);
    });
  });
}
