import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import S3rver from 's3rver';

/**
 * A real S3 protocol server on loopback for tests (s3rver: the S3 REST API over HTTP, objects
 * kept as files in a directory). What it does not check, so tests cannot show it: request
 * signatures (a wrong secret is accepted), server-side encryption (the headers are taken and
 * ignored), conditional writes, object versioning and storage classes.
 */
export interface TestObjectStorage {
  readonly endpoint: string;
  readonly bucket: string;
  /** Where the server keeps the objects' bytes (to look for text in them). */
  readonly directory: string;
  /** The name of every object the bucket holds, as the server keeps them (sorted). */
  objectNames(): Promise<string[]>;
  /** What a data plane is started with to keep its files here, under `prefix`. */
  env(prefix?: string): Record<string, string>;
  close(): Promise<void>;
}

export async function startObjectStorage(bucket = 'sovereign-test'): Promise<TestObjectStorage> {
  const directory = await mkdtemp(join(tmpdir(), 'sov-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    directory,
    env: (prefix = '') => ({
      SOV_STORAGE_URL: `s3://${bucket}/${prefix}`,
      SOV_S3_ENDPOINT: endpoint,
      SOV_S3_REGION: 'eu-central-1',
      SOV_S3_FORCE_PATH_STYLE: 'true',
      // s3rver's own pair: the SDK's usual variables, as a data plane in production reads them.
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    }),
    async objectNames() {
      // s3rver keeps an object's bytes in `<bucket>/<key>._S3rver_object`, beside its metadata.
      const root = join(directory, bucket);
      const suffix = '._S3rver_object';
      const entries = await readdir(root, { recursive: true, withFileTypes: true });
      return entries
        .filter((entry) => entry.isFile() && entry.name.endsWith(suffix))
        .map((entry) =>
          relative(root, join(entry.parentPath, entry.name)).split(sep).join('/').slice(0, -suffix.length),
        )
        .sort();
    },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
