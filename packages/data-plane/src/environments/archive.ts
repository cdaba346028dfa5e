import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, realpath, rename, rm, stat, symlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import type { ArtifactStore } from '../storage/artifacts.ts';
import { compressedSuffix, compressor, decompressor } from '../storage/compression.ts';
import type { EnvironmentKind } from './definition.ts';

/** Written last into a built environment: one without it is a build that did not finish. */
export const completeMarker = '.sovereign-environment.json';

/** What the marker says of a built environment. */
export interface EnvironmentFacts {
  kind: EnvironmentKind;
  digest: string;
  builtAt: string;
  bytes: number;
  /**
   * The path its runs see it at, which it was built at: a venv's scripts name it. In a
   * jail it is the same for every environment of a kind on every machine; unjailed, it
   * is the directory itself.
   */
  at?: string;
}

/** The marker's facts, or undefined when the directory holds no finished environment. */
export async function factsOf(dir: string): Promise<EnvironmentFacts | undefined> {
  const text = await readFile(join(dir, completeMarker), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as EnvironmentFacts;
  } catch {
    return undefined;
  }
}

/** A stored environment that does not unpack to the environment its name says. */
export class EnvironmentArchiveDamagedError extends Error {
  constructor(key: string, why: string) {
    super(`the stored environment ${key} is not usable: ${why}`);
    this.name = 'EnvironmentArchiveDamagedError';
  }
}

/**
 * Makes the links to absolute paths an environment holds, inside `root` only: a link's
 * own path is relative, has no `..`, and its directory (unpacked already) is no link out.
 */
async function linkAbsolute(key: string, root: string, links: Array<{ path: string; target: string }>): Promise<void> {
  const inside = await realpath(root);
  for (const link of links) {
    const path = normalize(link.path);
    if (isAbsolute(path) || path === '..' || path.startsWith(`..${sep}`)) {
      throw new EnvironmentArchiveDamagedError(key, `a link is named ${JSON.stringify(link.path)}`);
    }
    const where = join(root, path);
    const parent = await realpath(dirname(where));
    if (parent !== inside && !parent.startsWith(`${inside}${sep}`)) {
      throw new EnvironmentArchiveDamagedError(key, `the link ${JSON.stringify(link.path)} is not inside it`);
    }
    await symlink(link.target, join(parent, basename(where)));
  }
}

/** `restored`: it is in place; `absent`: the store has none; `elsewhere`: built to be seen at another path. */
export type RestoreOutcome = 'restored' | 'absent' | 'elsewhere';

/**
 * Built environments kept in the artifact store, so that an instance that built one is
 * needed by no other: packed whole (tar, Zstandard) after a build, and unpacked into an
 * instance's cache when it needs one it does not have. Objects are named by kind and
 * digest only (`environments/python/<hex>.tar.zst`).
 */
export class EnvironmentArchive {
  readonly #store: ArtifactStore;

  constructor(store: ArtifactStore) {
    this.#store = store;
  }

  static keyOf(kind: EnvironmentKind, digest: string): string {
    return `environments/${kind}/${digest.replace(/^sha256:/, '')}.tar${compressedSuffix}`;
  }

  has(kind: EnvironmentKind, digest: string): Promise<boolean> {
    return this.#store.exists(EnvironmentArchive.keyOf(kind, digest));
  }

  /** Packs a finished environment (its marker with it) and puts it in the store; answers the object's size. */
  async put(kind: EnvironmentKind, digest: string, dir: string): Promise<number> {
    await mkdir(this.#store.stagingDir, { recursive: true });
    const packed = join(this.#store.stagingDir, `environment-${randomBytes(8).toString('hex')}`);
    try {
      // Portable: no owner, group or inode of this machine; links kept as links (a venv's python).
      await pipeline(
        tar.c({ cwd: dir, portable: true }, ['.']),
        compressor(),
        createWriteStream(packed, { mode: 0o600 }),
      );
      const { size } = await stat(packed);
      await this.#store.putFile(EnvironmentArchive.keyOf(kind, digest), packed);
      return size;
    } finally {
      await rm(packed, { force: true });
    }
  }

  /**
   * Fills `target` with the stored environment when there is one built to be seen at
   * `at` (where this instance's runs will see `target`). It is unpacked beside `target`
   * under a name of its own and renamed into place whole, so two instances (or two runs)
   * restoring it at once never see each other's half: the first rename wins, the other
   * is thrown away.
   */
  async restore(kind: EnvironmentKind, digest: string, target: string, at: string): Promise<RestoreOutcome> {
    const key = EnvironmentArchive.keyOf(kind, digest);
    let body: Readable;
    try {
      body = await this.#store.openRead(key);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
      throw error;
    }
    const temp = join(dirname(target), `.restoring-${randomBytes(6).toString('hex')}`);
    /** Links to an absolute path (a venv's python to the system's), made once every file is in place. */
    const absoluteLinks: Array<{ path: string; target: string }> = [];
    try {
      await mkdir(temp, { recursive: true, mode: 0o755 });
      await pipeline(
        body,
        decompressor(),
        tar.x({
          cwd: temp,
          strict: true,
          // Files belong to the data plane, keep their permission bits and nothing more: a
          // build (tenant code) could have left a setuid file, which must not become root's.
          preserveOwner: false,
          filter: (path, entry) => {
            // tar would make them relative (it keeps an archive from pointing out of its
            // directory); a venv needs them as they are. Made last, nothing is written through them.
            if ('type' in entry && entry.type === 'SymbolicLink' && isAbsolute(entry.linkpath ?? '')) {
              absoluteLinks.push({ path, target: entry.linkpath as string });
              return false;
            }
            if ('mode' in entry && typeof entry.mode === 'number') entry.mode &= 0o777;
            return true;
          },
        }),
      );
      await linkAbsolute(key, temp, absoluteLinks);
      const facts = await factsOf(temp);
      if (facts === undefined) throw new EnvironmentArchiveDamagedError(key, 'it holds no finished environment');
      if (facts.kind !== kind || facts.digest !== digest) {
        throw new EnvironmentArchiveDamagedError(key, `it holds the ${facts.kind} environment ${facts.digest}`);
      }
      // A venv names the path it was built at: unjailed under another directory it would not run.
      if (facts.at !== at) return 'elsewhere';
      await rename(temp, target).catch((error: NodeJS.ErrnoException) => {
        // Another instance restored (or built) it meanwhile: theirs is as good.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
      return 'restored';
    } finally {
      // After a failure tar may still be closing files it wrote: their directories empty late.
      await rm(temp, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
  }

  delete(kind: EnvironmentKind, digest: string): Promise<void> {
    return this.#store.delete(EnvironmentArchive.keyOf(kind, digest));
  }
}
