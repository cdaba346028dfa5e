import { randomUUID } from 'node:crypto';
import { chmodSync, cpSync, lchownSync, lstatSync } from 'node:fs';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import type { Deployments, ManifestJob } from '../deployments/index.ts';
import { removeDeadInstanceDirs } from '../files/instance-dirs.ts';
import { treeEntries } from '../files/tree-walk.ts';

/** Under the work directory: one cache directory per instance, named by its id. */
export const cacheDirName = '.deployments';

export interface WorkingCopiesOptions {
  deployments: Deployments;
  /** This instance's own directory of unpacked deployments (named by its instance id); nothing else writes there. */
  root: string;
  /** Unpacked bytes kept at most; the least recently used trees go first. */
  budgetBytes: number;
  log: { warn(fields: Record<string, unknown>, message: string): void };
  /** Gives a tree (every entry, links themselves) to a user, off the main thread: the janitor's chown. */
  chownTree(path: string, uid: number, gid: number): Promise<void>;
}

/** Who a working copy must belong to: the user a jailed run runs as. */
export type Owner = { uid: number; gid: number } | undefined;

/** What a working copy holds, as its archive said: the bytes of its files, and its entries. */
export interface CopySize {
  bytes: number;
  entries: number;
}

interface Tree {
  /** Its path once unpacked; undefined when it could not be, or is too large to keep. */
  ready: Promise<string | undefined>;
  bytes: number;
  entries: number;
  /**
   * Set when it has few and small enough files to copy synchronously: its directories
   * and their modes, which the synchronous copy does not carry over, and every entry, to
   * hand a copy over to a jailed run's user.
   */
  small?: { dirs: Array<[path: string, mode: number]>; entries: string[] };
  /** Copies being made from it: it is not evicted while any is. */
  users: number;
}

/** Deployments whose jobs are remembered: they never change once stored. */
const maxRemembered = 1000;

/**
 * A tree this small is copied synchronously: a few tenths of a millisecond of blocking,
 * where the asynchronous copy pays a thread pool round trip per file and directory
 * (about 2.5 ms for a typical project of a few files, on the start path of every run).
 */
const syncCopy = { maxEntries: 64, maxBytes: 256 * 1024 };

/**
 * Links are copied as written (the upload checked that none leads out of the tree), and
 * files keep their modes and times. Directories keep their modes: the synchronous copy
 * creates them with the default one, so theirs are set after it. A copy for a jailed run
 * is then given to its user: the job may change its working copy, as any job may.
 */
async function copyTree(
  from: string,
  to: string,
  small: Tree['small'],
  owner: Owner,
  chownTree: WorkingCopiesOptions['chownTree'],
): Promise<void> {
  const options = { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, errorOnExist: true };
  if (small === undefined) {
    await cp(from, to, options);
    if (owner !== undefined) await chownTree(to, owner.uid, owner.gid);
    return;
  }
  cpSync(from, to, options);
  for (const [path, mode] of small.dirs) chmodSync(join(to, path), mode);
  if (owner !== undefined) for (const path of small.entries) lchownSync(join(to, path), owner.uid, owner.gid);
}

/** The directories of a tree (itself first) with their modes, and all its entries (itself first). */
function inventory(root: string): NonNullable<Tree['small']> {
  const dirs: Array<[string, number]> = [];
  const entries: string[] = [];
  // A bundle may hold links to its own directories (`a -> .`): they are never followed.
  for (const entry of treeEntries(Buffer.from(root))) {
    const path = relative(root, entry.toString());
    entries.push(path);
    const info = lstatSync(entry);
    if (info.isDirectory()) dirs.push([path, info.mode & 0o7777]);
  }
  return { dirs, entries };
}

/**
 * Fresh working copies of deployments for runs. A deployment is unpacked once, into
 * this instance's cache, and each run gets a copy of that tree: a copy of a few files
 * costs a fraction of a gunzip and untar, and a run still never sees another run's
 * changes. Deployments are immutable, so neither the tree nor the jobs go stale; the
 * cache only forgets what it has no room for. Whatever goes wrong with a cached tree, the
 * run falls back to unpacking its bundle, as without a cache.
 */
export class WorkingCopies {
  readonly #o: WorkingCopiesOptions;
  /** In least recently used order. */
  readonly #trees = new Map<string, Tree>();
  readonly #jobs = new Map<string, ManifestJob[]>();
  #bytes = 0;

  constructor(options: WorkingCopiesOptions) {
    this.#o = options;
  }

  /** The jobs of a deployment of this workspace; throws when there is no such deployment. */
  async jobs(workspaceId: string, deploymentId: string): Promise<ManifestJob[]> {
    const key = `${workspaceId}/${deploymentId}`;
    const known = this.#jobs.get(key);
    if (known !== undefined) return known;
    const { jobs } = await this.#o.deployments.manifest(workspaceId, deploymentId);
    if (this.#jobs.size >= maxRemembered) this.#jobs.delete(this.#jobs.keys().next().value as string);
    this.#jobs.set(key, jobs);
    return jobs;
  }

  /**
   * Makes `dest` (which must not exist) a fresh copy of the deployment's files, `owner`'s
   * when given; answers what it holds (what a run's home starts with, #watchDisk).
   */
  async checkout(workspaceId: string, deploymentId: string, dest: string, owner?: Owner): Promise<CopySize> {
    const key = `${workspaceId}/${deploymentId}`;
    const known = this.#trees.get(key);
    if (known === undefined) return this.#first(key, workspaceId, deploymentId, dest, owner);
    this.#trees.delete(key);
    this.#trees.set(key, known);
    known.users += 1;
    try {
      const path = await known.ready;
      if (path !== undefined) {
        try {
          await copyTree(path, dest, known.small, owner, this.#o.chownTree);
          return { bytes: known.bytes, entries: known.entries };
        } catch (error) {
          this.#o.log.warn({ deploymentId, err: error }, 'cached deployment unusable: unpacking its bundle');
          await this.#forget(key, known);
          await rm(dest, { recursive: true, force: true });
        }
      }
      const size = await this.#unpackTo(workspaceId, deploymentId, dest);
      if (owner !== undefined) await this.#o.chownTree(dest, owner.uid, owner.gid);
      return size;
    } finally {
      known.users -= 1;
    }
  }

  /**
   * The first run of a deployment here unpacks it into the cache and copies it from
   * there. A tree over the whole budget is not kept: it is moved to this run instead,
   * and later runs unpack their own.
   */
  async #first(key: string, workspaceId: string, deploymentId: string, dest: string, owner: Owner): Promise<CopySize> {
    let settle: (path: string | undefined) => void = () => {};
    const tree: Tree = { ready: new Promise((resolve) => (settle = resolve)), bytes: 0, entries: 0, users: 1 };
    this.#trees.set(key, tree);
    await mkdir(this.#o.root, { recursive: true, mode: 0o700 });
    // A name of its own: a forgotten tree of the same deployment may still be being removed.
    const path = join(this.#o.root, `${deploymentId}.${randomUUID()}`);
    try {
      const { bytes, entries } = await this.#unpackTo(workspaceId, deploymentId, path);
      if (bytes > this.#o.budgetBytes) {
        await rename(path, dest);
        settle(undefined);
        if (owner !== undefined) await this.#o.chownTree(dest, owner.uid, owner.gid);
        return { bytes, entries };
      }
      tree.bytes = bytes;
      tree.entries = entries;
      if (entries <= syncCopy.maxEntries && bytes <= syncCopy.maxBytes) tree.small = inventory(path);
      this.#bytes += bytes;
      settle(path);
      await copyTree(path, dest, tree.small, owner, this.#o.chownTree);
      return { bytes, entries };
    } catch (error) {
      // Unpacked by the next run again: a missing bundle may be a moment's fault of the store.
      settle(undefined);
      await this.#forget(key, tree);
      await rm(path, { recursive: true, force: true });
      throw error;
    } finally {
      tree.users -= 1;
      // Only a new tree adds bytes: this is where the cache may have outgrown its budget.
      await this.#evict();
    }
  }

  /**
   * Unpacks the bundle into `dir` (created with owner-only access); returns its entries
   * and the bytes of its files. Files belong to the data plane and keep their permission
   * bits only: no owner from the archive, and no setuid, setgid or sticky bit, ever.
   */
  async #unpackTo(workspaceId: string, deploymentId: string, dir: string): Promise<CopySize> {
    await mkdir(dir, { mode: 0o700 });
    let bytes = 0;
    let entries = 0;
    await pipeline(
      await this.#o.deployments.openBundle(workspaceId, deploymentId),
      tar.x({
        cwd: dir,
        strict: true,
        preserveOwner: false,
        filter: (_path, entry) => {
          if ('mode' in entry && typeof entry.mode === 'number') entry.mode &= 0o777;
          return true;
        },
        onReadEntry: (entry) => {
          bytes += entry.size;
          entries += 1;
        },
      }),
    );
    return { bytes, entries };
  }

  async #forget(key: string, tree: Tree): Promise<void> {
    if (this.#trees.get(key) !== tree) return;
    this.#trees.delete(key);
    this.#bytes -= tree.bytes;
    tree.bytes = 0;
    const path = await tree.ready;
    if (path !== undefined) await rm(path, { recursive: true, force: true }).catch(() => {});
  }

  async #evict(): Promise<void> {
    for (const [key, tree] of this.#trees) {
      if (this.#bytes <= this.#o.budgetBytes) return;
      if (tree.users === 0) await this.#forget(key, tree);
    }
  }

  /** Removes the cache, at shutdown. */
  async clear(): Promise<void> {
    this.#trees.clear();
    this.#bytes = 0;
    await rm(this.#o.root, { recursive: true, force: true });
  }

  /** Removes the caches of instances no longer alive (ended by a crash, or on another host sharing the directory). */
  async removeStale(alive: (instanceId: string) => boolean): Promise<void> {
    await removeDeadInstanceDirs(dirname(this.#o.root), basename(this.#o.root), alive);
  }
}
