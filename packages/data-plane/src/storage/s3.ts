import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type ArtifactStore, checkKey, checkPrefix } from './artifacts.ts';

/** Where the objects go and how they are written: SOV_STORAGE_URL and the SOV_S3_* settings. */
export interface S3Settings {
  bucket: string;
  /** Put before every key, ending in `/` when not empty: several data planes can share a bucket. */
  prefix: string;
  /** An S3-compatible service (MinIO, Ceph, a cloud's own); AWS's own endpoint when unset. */
  endpoint?: string;
  region: string;
  /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`: most S3-compatible services want it. */
  forcePathStyle: boolean;
  /** Passed through on every write: `AES256`, `aws:kms` (with a key id or the bucket's default key) or `aws:kms:dsse`. */
  serverSideEncryption?: { algorithm: ServerSideEncryption; kmsKeyId?: string };
  /** Objects larger than this go up in parts of this size, several at once. */
  partBytes: number;
}

/** An object this store has no such key for; `code` is ENOENT as for a local file, so callers need not know which store. */
export class ArtifactMissingError extends Error {
  readonly code = 'ENOENT';
  constructor(key: string) {
    super(`no stored object ${key}`);
    this.name = 'ArtifactMissingError';
  }
}

/**
 * Objects in an S3-compatible bucket of the region. An object is written by one PUT (or one
 * completed multipart upload), so a reader sees all of it or none, as the local store's rename
 * gives. Names are the store's keys (ids and digests, never customer text) under the prefix.
 * Credentials come from the AWS SDK's usual chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
 * a shared credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE), a web identity token
 * (Kubernetes service accounts), or the machine's role.
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly stagingDir: string;
  readonly #client: S3Client;
  readonly #settings: S3Settings;

  constructor(settings: S3Settings, stagingDir: string, client?: S3Client) {
    this.#settings = settings;
    this.stagingDir = stagingDir;
    this.#client =
      client ??
      new S3Client({
        region: settings.region,
        forcePathStyle: settings.forcePathStyle,
        ...(settings.endpoint === undefined
          ? {}
          : {
              endpoint: settings.endpoint,
              // Checksums the SDK adds by default (CRC32 trailers) are refused by several
              // S3-compatible services; ask for them only where the operation needs one.
              requestChecksumCalculation: 'WHEN_REQUIRED' as const,
              responseChecksumValidation: 'WHEN_REQUIRED' as const,
            }),
      });
  }

  /** Where this store writes, for logs and errors: no credentials in it. */
  get location(): string {
    const where = this.#settings.endpoint === undefined ? '' : ` at ${this.#settings.endpoint}`;
    return `s3://${this.#settings.bucket}/${this.#settings.prefix}${where}`;
  }

  /** Fails with the service's own word when the bucket cannot be reached with these credentials. */
  async probe(): Promise<void> {
    await this.#client.send(new HeadBucketCommand({ Bucket: this.#settings.bucket }));
  }

  #name(key: string): string {
    checkKey(key);
    return `${this.#settings.prefix}${key}`;
  }

  async putFile(key: string, sourcePath: string): Promise<void> {
    const sse = this.#settings.serverSideEncryption;
    const upload = new Upload({
      client: this.#client,
      partSize: this.#settings.partBytes,
      queueSize: 4,
      // A failed upload leaves no parts behind to be paid for.
      leavePartsOnError: false,
      params: {
        Bucket: this.#settings.bucket,
        Key: this.#name(key),
        Body: createReadStream(sourcePath),
        ContentType: 'application/octet-stream',
        ...(sse === undefined
          ? {}
          : {
              ServerSideEncryption: sse.algorithm,
              ...(sse.kmsKeyId === undefined ? {} : { SSEKMSKeyId: sse.kmsKeyId }),
            }),
      },
    });
    await upload.done();
    // The local store moves the file in; the same here, so callers need not know which store.
    await rm(sourcePath, { force: true });
  }

  async openRead(key: string): Promise<Readable> {
    try {
      const answer = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#settings.bucket, Key: this.#name(key) }),
      );
      // On Node the body is the response's own stream: read as it arrives, never held whole.
      return answer.Body as Readable;
    } catch (error) {
      if (isMissing(error)) throw new ArtifactMissingError(key);
      throw error;
    }
  }

  async stat(key: string): Promise<{ sizeBytes: number } | undefined> {
    try {
      const head = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#settings.bucket, Key: this.#name(key) }),
      );
      return { sizeBytes: head.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a key that is not there: deleting one twice is not an error, as locally.
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#settings.bucket, Key: this.#name(key) }));
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#settings.bucket,
          Prefix: `${this.#settings.prefix}${prefix}`,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) keys.push(object.Key.slice(this.#settings.prefix.length));
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys.sort();
  }

  close(): void {
    this.#client.destroy();
  }
}

function isMissing(error: unknown): boolean {
  // HEAD answers a bare 404 (NotFound), GET a NoSuchKey; a missing bucket is NoSuchBucket, not this.
  const name = (error as { name?: string }).name;
  return name === 'NoSuchKey' || name === 'NotFound';
}
