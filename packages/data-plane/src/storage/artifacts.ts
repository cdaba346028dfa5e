import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';

/**
 * Where a data plane keeps bundles and outputs. Small on purpose, so an S3-compatible
 * object store can implement it: objects are put whole (never seen half-written),
 * read as streams, and deleted.
 */
export interface ArtifactStore {
  /** Stores a finished file under `key`; the file is moved (or copied) in, atomically. */
  putFile(key: string, sourcePath: string): Promise<void>;
  openRead(key: string): Promise<Readable>;
  stat(key: string): Promise<{ sizeBytes: number } | undefined>;
  delete(key: string): Promise<void>;
  /** A directory for files being received, on the store's own filesystem (a cheap move in). */
  readonly stagingDir: string;
}

export class InvalidArtifactKeyError extends Error {
  constructor(key: string) {
    super(`invalid artifact key: ${JSON.stringify(key)}`);
    this.name = 'InvalidArtifactKeyError';
  }
}

const keyPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/** The local filesystem: objects are files under a root, landed by rename after fsync. */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;
  readonly stagingDir: string;

  constructor(root: string) {
    this.root = root;
    this.stagingDir = join(root, '.staging');
  }

  #path(key: string): string {
    if (!keyPattern.test(key) || key.split('/').includes('..')) throw new InvalidArtifactKeyError(key);
    return join(this.root, key);
  }

  async putFile(key: string, sourcePath: string): Promise<void> {
    const target = this.#path(key);
    await mkdir(dirname(target), { recursive: true });
    await mkdir(this.stagingDir, { recursive: true });
    const staged = join(this.stagingDir, randomUUID());
    try {
      await rename(sourcePath, staged);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyFile(sourcePath, staged);
    }
    const handle = await open(staged, 'r');
    await handle.sync();
    await handle.close();
    await rename(staged, target);
  }

  async openRead(key: string): Promise<Readable> {
    const path = this.#path(key);
    await stat(path);
    return createReadStream(path);
  }

  async stat(key: string): Promise<{ sizeBytes: number } | undefined> {
    const info = await stat(this.#path(key)).catch(() => undefined);
    return info === undefined ? undefined : { sizeBytes: info.size };
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }
}
