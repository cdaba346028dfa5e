import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';

/**
 * Where a data plane keeps bundles and outputs. Small on purpose, so an S3-compatible
 * object store can implement it: objects are put whole (never seen half-written),
 * read as streams, listed by prefix and deleted. Keys are `/`-separated names
 * (`bundles/<workspaceId>/<deploymentId>.tar.gz`), never filesystem paths.
 */
export interface ArtifactStore {
  /**
   * Stores a finished local file under `key`, atomically: a reader sees the whole
   * object or none. The file is moved in (it is gone from `sourcePath` afterwards).
   */
  putFile(key: string, sourcePath: string): Promise<void>;
  /** The object's bytes; rejects when there is no such object. */
  openRead(key: string): Promise<Readable>;
  stat(key: string): Promise<{ sizeBytes: number } | undefined>;
  exists(key: string): Promise<boolean>;
  /** Deletes the object; deleting one that is not there is not an error. */
  delete(key: string): Promise<void>;
  /** Keys that start with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /**
   * A local directory for files being received, on the same filesystem as the store
   * when it is local (so `putFile` is a rename, not a copy).
   */
  readonly stagingDir: string;
}

export class InvalidArtifactKeyError extends Error {
  constructor(key: string) {
    super(`invalid artifact key: ${JSON.stringify(key)}`);
    this.name = 'InvalidArtifactKeyError';
  }
}

// Each segment starts with a letter or digit: no `.`, `..` or `.staging` can be named,
// so a key can never leave the root or reach the staging directory.
const segment = '[A-Za-z0-9][A-Za-z0-9._-]*';
const keyPattern = new RegExp(`^${segment}(/${segment})*$`);
const prefixPattern = new RegExp(`^(${segment}(/${segment})*/?)?$`);
const maxKeyLength = 1024;

export function checkKey(key: string): void {
  if (key.length > maxKeyLength || !keyPattern.test(key)) throw new InvalidArtifactKeyError(key);
}

export function checkPrefix(prefix: string): void {
  if (prefix.length > maxKeyLength || !prefixPattern.test(prefix)) throw new InvalidArtifactKeyError(prefix);
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The local filesystem: objects are files under a root, landed by rename after fsync. */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;
  readonly stagingDir: string;

  constructor(root: string) {
    this.root = root;
    this.stagingDir = join(root, '.staging');
  }

  #path(key: string): string {
    checkKey(key);
    return join(this.root, key);
  }

  async putFile(key: string, sourcePath: string): Promise<void> {
    const target = this.#path(key);
    await mkdir(dirname(target), { recursive: true });
    await mkdir(this.stagingDir, { recursive: true });
    // Staged under a fresh name first: if the source is on another filesystem the copy
    // may be seen half-written, but only under a name no key can reach.
    const staged = join(this.stagingDir, randomUUID());
    try {
      try {
        await rename(sourcePath, staged);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        await copyFile(sourcePath, staged);
        await rm(sourcePath, { force: true });
      }
      const handle = await open(staged, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(staged, target);
    } catch (error) {
      await rm(staged, { force: true });
      throw error;
    }
    await syncDirectory(dirname(target));
  }

  async openRead(key: string): Promise<Readable> {
    const path = this.#path(key);
    // Fail here (ENOENT) rather than on the stream's first read.
    await stat(path);
    return createReadStream(path);
  }

  async stat(key: string): Promise<{ sizeBytes: number } | undefined> {
    try {
      const info = await stat(this.#path(key));
      return info.isFile() ? { sizeBytes: info.size } : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    // Walk only the directory the prefix names (or its parent, for a partial name).
    const base = prefix.endsWith('/') || prefix === '' ? prefix : dirname(prefix) === '.' ? '' : `${dirname(prefix)}/`;
    const entries = await readdir(join(this.root, base), { recursive: true, withFileTypes: true }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
        throw error;
      },
    );
    const keys: string[] = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const key = relative(this.root, join(entry.parentPath, entry.name)).split(sep).join('/');
      if (key.startsWith(prefix) && keyPattern.test(key)) keys.push(key);
    }
    return keys.sort();
  }
}
