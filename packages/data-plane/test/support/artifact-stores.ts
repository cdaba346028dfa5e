import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startObjectStorage, type TestObjectStorage } from '@sovereign/server-kit/testing/s3';
import { type ArtifactStore, LocalArtifactStore } from '../../src/storage/artifacts.ts';
import { S3ArtifactStore } from '../../src/storage/s3.ts';

/** A kind of artifact store a storage suite runs its assertions on. */
export interface StoreBackend {
  name: string;
  open(): Promise<{ store: ArtifactStore; close(): Promise<void> }>;
}

let server: TestObjectStorage | undefined;

/**
 * The stores every storage suite runs on, with the same assertions: the local filesystem,
 * and an S3 bucket on a real S3 protocol server (s3rver) on loopback, started at first use
 * and shared by the file's suites, each under a prefix of its own.
 */
export const storeBackends: StoreBackend[] = [
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

/** Stops the S3 server, if a suite started it: in the file's last `after`. */
export async function closeStoreBackends(): Promise<void> {
  await server?.close();
  server = undefined;
}
