import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { startObjectStorage, type TestObjectStorage } from '@sovereign/server-kit/testing/s3';
import { type ArtifactStore, InvalidArtifactKeyError, LocalArtifactStore } from '../src/storage/artifacts.ts';
import { S3ArtifactStore } from '../src/storage/s3.ts';

interface Backend {
  name: string;
  open(): Promise<{ store: ArtifactStore; close(): Promise<void> }>;
}

let server: TestObjectStorage | undefined;

const backends: Backend[] = [
  {
    name: 'local filesystem',
    async open() {
      const root = await mkdtemp(join(tmpdir(), 'sov-store-'));
      return { store: new LocalArtifactStore(root), close: () => rm(root, { recursive: true, force: true }) };
    },
  },
  {
    name: 'S3 (s3rver on loopback)',
    async open() {
      server ??= await startObjectStorage();
      const staging = await mkdtemp(join(tmpdir(), 'sov-store-staging-'));
      const store = new S3ArtifactStore(
        {
          bucket: server.bucket,
          // A prefix of its own per suite: the same bucket, nothing seen of the others.
          prefix: `dp-${randomBytes(4).toString('hex')}/`,
          endpoint: server.endpoint,
          region: 'eu-central-1',
          forcePathStyle: true,
          serverSideEncryption: { algorithm: 'AES256' },
          partBytes: 5 * 1024 * 1024,
        },
        staging,
      );
      process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';
      await store.probe();
      return {
        store,
        async close() {
          store.close();
          await rm(staging, { recursive: true, force: true });
        },
      };
    },
  },
];

after(async () => {
  await server?.close();
});

async function file(store: ArtifactStore, content: Buffer | string): Promise<string> {
  await mkdir(store.stagingDir, { recursive: true });
  const path = join(store.stagingDir, `in-${randomBytes(6).toString('hex')}`);
  await writeFile(path, content);
  return path;
}

for (const backend of backends) {
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
