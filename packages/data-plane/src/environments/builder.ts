import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, lstat, mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ErrorCode } from '@sovereign/contract';
import { HttpProblem } from '@sovereign/server-kit/http';
import type { FastifyBaseLogger } from 'fastify';
import type { Launcher, Mount } from '../launch/launcher.ts';
import type { RunLimits } from '../launch/limits.ts';
import { completeMarker, type EnvironmentArchive, type EnvironmentFacts, factsOf } from './archive.ts';
import { type EnvironmentKind, type EnvironmentSpec, environmentsOf, type PackageSources } from './definition.ts';

/** Where a jailed run finds its environments: in the jail's own tmpfs, the same path for a build and its runs. */
const jailMounts: Record<EnvironmentKind, string> = {
  python: '/run/sovereign/environments/python',
  node: '/run/sovereign/environments/node',
};
/** Debian's bundle of the system's certificate authorities, seen the same in a jail (it binds /etc). */
const systemCaBundle = '/etc/ssl/certs/ca-certificates.crt';
/** The lines of a failed build's log a refusal carries (its end, where the error is). */
const refusalLines = 200;

export interface EnvironmentsOptions {
  /** Built environments, one directory per digest. */
  root: string;
  launcher: Launcher;
  sources: PackageSources;
  /** What a build may use: a build is tenant code (install scripts) and runs in a jail as a run does. */
  limits: RunLimits;
  timeoutMs: number;
  killGraceMs: number;
  /** The most the built environments may take on disk; past it, the least recently used that no run uses go. */
  budgetBytes: number;
  /**
   * The store's copies of built environments (object storage): each build is put there,
   * and one this cache lacks is restored from there before it is built again. Unset (the
   * local filesystem store, whose instances share this cache's directory), none.
   */
  archive?: EnvironmentArchive | undefined;
  log: FastifyBaseLogger;
}

/** A job's environments as its deployment recorded them (`dir`: defined in that directory of its bundle). */
export type EnvironmentRef = { kind: EnvironmentKind; digest: string; dir?: string };

/** What a run holds while it runs: its environments are not swept from under it. */
export interface HeldEnvironments {
  use: EnvironmentUse;
  release(): void;
}

/** A build that failed: the deployment is refused with the end of its log, and nothing is kept. */
export class EnvironmentBuildFailedProblem extends HttpProblem {
  constructor(kind: EnvironmentKind, why: string, log: string[]) {
    super(422, ErrorCode.environmentBuildFailed, `The ${kind} environment could not be built: ${why}.`, {
      environment: kind,
      buildLog: log.slice(-refusalLines),
    });
  }
}

/** How a run is given an environment: what its jail mounts, and what goes first on its PATH. */
export interface EnvironmentUse {
  mounts: Mount[];
  pathPrefix: string[];
  env: Record<string, string>;
  /** A Node environment: where the working copy's node_modules link points. */
  nodeModules?: string;
}

/**
 * Environments built from a deployment's lock files, in the region, in a jail (their
 * install scripts are tenant code), kept by digest and shared by every deployment and
 * workspace that declares the same one, read-only in each run's jail. With object
 * storage, this directory is a cache of the store: a build is put there, and an
 * environment the cache lacks is restored from there before it is built again.
 */
export class Environments {
  readonly #o: EnvironmentsOptions;
  readonly #building = new Map<string, Promise<void>>();
  readonly #restoring = new Map<string, Promise<boolean>>();
  /** Digests in use by runs of this instance, with how many. */
  readonly #inUse = new Map<string, number>();

  constructor(options: EnvironmentsOptions) {
    this.#o = options;
  }

  #dir(digest: string): string {
    return join(this.#o.root, digest.replace(/^sha256:/, ''));
  }

  async #built(digest: string): Promise<boolean> {
    return (await stat(join(this.#dir(digest), completeMarker)).catch(() => undefined)) !== undefined;
  }

  /** Marks a built environment used now: the cache's sweep lets the least recently used go first. */
  async #touch(digest: string): Promise<void> {
    const now = new Date();
    await utimes(join(this.#dir(digest), completeMarker), now, now).catch(() => {});
  }

  /** Whether each environment is built already, here or in the store (what --dry-run says). */
  async missing(specs: readonly EnvironmentSpec[]): Promise<EnvironmentSpec[]> {
    const missing: EnvironmentSpec[] = [];
    for (const spec of specs) {
      if (!(await this.#built(spec.digest)) && !(await this.#stored(spec))) missing.push(spec);
    }
    return missing;
  }

  /**
   * Builds what is neither built here nor in the store yet (one build per digest at a
   * time in this instance); a build that fails throws EnvironmentBuildFailedProblem.
   * `onLine` hears the build's output as it comes. Answers the digests built now. One in
   * the store is not fetched: a run restores it on the instance it runs on.
   */
  async ensure(specs: readonly EnvironmentSpec[], onLine?: (line: string) => void): Promise<string[]> {
    const built: string[] = [];
    for (const spec of specs) {
      if (await this.#built(spec.digest)) {
        await this.#touch(spec.digest);
        continue;
      }
      if (await this.#stored(spec)) continue;
      if (await this.#buildOnce(spec, onLine)) built.push(spec.digest);
    }
    return built;
  }

  /** Whether the store holds it (a store that cannot answer holds nothing: it is built). */
  async #stored(spec: EnvironmentSpec): Promise<boolean> {
    return (await this.#o.archive?.has(spec.kind, spec.digest).catch(() => false)) === true;
  }

  /**
   * Builds an environment and puts it in the store (before a deploy is answered: a run
   * on another instance finds it there), or waits for this instance's build of it under
   * way. True when this call built it.
   */
  async #buildOnce(spec: EnvironmentSpec, onLine?: (line: string) => void): Promise<boolean> {
    const underWay = this.#building.get(spec.digest);
    if (underWay !== undefined) {
      await underWay;
      return false;
    }
    const building = this.#build(spec, onLine)
      .then(() => this.#archive(spec))
      .finally(() => this.#building.delete(spec.digest));
    this.#building.set(spec.digest, building);
    await building;
    return true;
  }

  /**
   * A run's environments, held until release(): each is built already, restored from the
   * store, or built again here from its deployment's files (`files`, read from the bundle
   * only then) when neither has it.
   */
  async hold(refs: readonly EnvironmentRef[], files: () => Promise<Map<string, Buffer>>): Promise<HeldEnvironments> {
    const digests: EnvironmentRef[] = [];
    let bundleFiles: Map<string, Buffer> | undefined;
    for (const ref of refs) {
      if (await this.#built(ref.digest)) {
        await this.#touch(ref.digest);
        digests.push(ref);
        continue;
      }
      if (await this.#restore(ref.kind, ref.digest)) {
        digests.push(ref);
        continue;
      }
      bundleFiles ??= await files();
      // Built from the same files with the data plane's package sources of today.
      const spec = environmentsOf(bundleFiles, this.#o.sources, ref.dir).find(
        (candidate) => candidate.kind === ref.kind,
      );
      if (spec === undefined)
        throw new Error(`the deployment no longer holds the files of its ${ref.kind} environment`);
      // Today's sources may name another environment, which the store or this cache may hold.
      if (!(await this.#built(spec.digest)) && !(await this.#restore(spec.kind, spec.digest))) {
        this.#o.log.info({ digest: spec.digest, kind: spec.kind }, 'building an environment again for a run');
        await this.#buildOnce(spec);
      }
      digests.push({ kind: spec.kind, digest: spec.digest });
    }
    for (const { digest } of digests) this.#inUse.set(digest, (this.#inUse.get(digest) ?? 0) + 1);
    let released = false;
    return {
      use: this.use(digests),
      release: () => {
        if (released) return;
        released = true;
        for (const { digest } of digests) {
          const left = (this.#inUse.get(digest) ?? 1) - 1;
          if (left > 0) this.#inUse.set(digest, left);
          else this.#inUse.delete(digest);
        }
      },
    };
  }

  /**
   * Keeps the built environments within their budget: the least recently used go first
   * (a deploy or a run that finds one built marks it used), never one a run of this
   * instance holds or one just built. A run of another instance that needs one removed
   * builds it again.
   */
  async sweep(keep: ReadonlySet<string> = new Set()): Promise<void> {
    const entries: Array<{ digest: string; dir: string; bytes: number; usedAt: number }> = [];
    for (const name of await readdir(this.#o.root).catch(() => [] as string[])) {
      if (name.startsWith('.')) continue;
      const dir = join(this.#o.root, name);
      const info = await stat(join(dir, completeMarker)).catch(() => undefined);
      if (info === undefined) continue;
      const facts = await factsOf(dir);
      entries.push({ digest: `sha256:${name}`, dir, bytes: facts?.bytes ?? 0, usedAt: info.mtimeMs });
    }
    let total = entries.reduce((sum, entry) => sum + entry.bytes, 0);
    entries.sort((a, b) => a.usedAt - b.usedAt);
    for (const entry of entries) {
      if (total <= this.#o.budgetBytes) break;
      if (
        keep.has(entry.digest) ||
        this.#inUse.has(entry.digest) ||
        this.#building.has(entry.digest) ||
        this.#restoring.has(entry.digest)
      )
        continue;
      // Its marker first: from then on it counts as not built, and a run builds it again.
      await rm(join(entry.dir, completeMarker), { force: true });
      await rm(entry.dir, { recursive: true, force: true });
      total -= entry.bytes;
      this.#o.log.info({ digest: entry.digest, bytes: entry.bytes }, 'environment removed from the cache');
    }
  }

  /**
   * Fills the cache with an environment from the store (one restore per digest at a time
   * in this instance). False when the store has none, or none usable here: it is built
   * then, as it would be without a store.
   */
  #restore(kind: EnvironmentKind, digest: string): Promise<boolean> {
    const archive = this.#o.archive;
    if (archive === undefined) return Promise.resolve(false);
    let restoring = this.#restoring.get(digest);
    if (restoring === undefined) {
      const log = this.#o.log;
      restoring = (async () => {
        const started = Date.now();
        const final = this.#dir(digest);
        try {
          const outcome = await archive.restore(
            kind,
            digest,
            final,
            this.#o.launcher.mountPoint(final, jailMounts[kind]),
          );
          if (outcome === 'elsewhere') {
            log.warn({ digest, kind }, 'the stored environment was built to be seen at another path: building it here');
          }
          if (outcome !== 'restored') return false;
          log.info({ digest, kind, ms: Date.now() - started }, 'environment restored from the store');
          await this.#touch(digest);
          return await this.#built(digest);
        } catch (error) {
          log.warn({ err: error, digest, kind }, 'could not restore an environment from the store: building it here');
          return false;
        }
      })().finally(() => this.#restoring.delete(digest));
      this.#restoring.set(digest, restoring);
    }
    return restoring;
  }

  /** Puts a build in the store; one that cannot be put is built again where it is needed: slower, never wrong. */
  async #archive(spec: EnvironmentSpec): Promise<void> {
    const archive = this.#o.archive;
    if (archive === undefined) return;
    const started = Date.now();
    try {
      const bytes = await archive.put(spec.kind, spec.digest, this.#dir(spec.digest));
      this.#o.log.info(
        { digest: spec.digest, kind: spec.kind, bytes, ms: Date.now() - started },
        'environment put in the store',
      );
    } catch (error) {
      this.#o.log.warn(
        { err: error, digest: spec.digest, kind: spec.kind },
        'could not put an environment in the store',
      );
    }
  }

  /** What a run of a job with these environments is given. */
  use(environments: readonly EnvironmentRef[]): EnvironmentUse {
    const use: EnvironmentUse = { mounts: [], pathPrefix: [], env: {} };
    for (const { kind, digest } of environments) {
      const host = this.#dir(digest);
      const at = this.#o.launcher.mountPoint(host, jailMounts[kind]);
      use.mounts.push({ host, at });
      if (kind === 'python') {
        use.pathPrefix.push(`${at}/bin`);
        use.env.VIRTUAL_ENV = at;
      } else {
        use.nodeModules = `${at}/node_modules`;
      }
    }
    return use;
  }

  async #build(spec: EnvironmentSpec, onLine?: (line: string) => void): Promise<void> {
    const o = this.#o;
    const final = this.#dir(spec.digest);
    const jailed = o.launcher.mountPoint(final, jailMounts[spec.kind]) !== final;
    // Jailed, an environment is built aside and moved into place whole: its runs see it at
    // the same path in their jails. Unjailed, it is built where its runs find it.
    const dir = jailed ? join(o.root, `.building-${randomBytes(6).toString('hex')}`) : final;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const at = o.launcher.mountPoint(dir, jailMounts[spec.kind]);
    const findLinks = o.sources.pipFindLinks ?? [];
    const slot = await o.launcher.acquire({
      runId: `build-${spec.digest.slice(7, 19)}`,
      kind: 'batch',
      limits: o.limits,
      network: 'outside',
      mounts: [{ host: dir, at, writable: true }, ...findLinks.map((path) => ({ host: path, at: path }))],
    });
    const log: string[] = [];
    const started = Date.now();
    try {
      if (slot.owner !== undefined) await chown(dir, slot.owner.uid, slot.owner.gid);
      await mkdir(slot.host.app, { recursive: true });
      for (const [name, content] of Object.entries(spec.files)) {
        const path = join(spec.kind === 'node' ? dir : slot.host.app, name);
        await writeFile(path, content);
        if (slot.owner !== undefined) await chown(path, slot.owner.uid, slot.owner.gid);
      }
      if (slot.owner !== undefined) await chown(slot.host.app, slot.owner.uid, slot.owner.gid);
      const child = await slot.start(buildCommand(spec.kind, at, o.sources), {
        HOME: slot.job.home,
        LANG: 'C.UTF-8',
        PIP_DISABLE_PIP_VERSION_CHECK: '1',
        PIP_NO_INPUT: '1',
        npm_config_update_notifier: 'false',
        // The system's certificate authorities (the jail's /etc is this machine's): a
        // region's mirror, or a proxy in its way, is often signed by a CA of its own.
        ...(existsSync(systemCaBundle) ? { npm_config_cafile: systemCaBundle, PIP_CERT: systemCaBundle } : {}),
      });
      const collect = (stream: Readable) =>
        new Promise<void>((resolve) => {
          const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
          lines.on('line', (line) => {
            log.push(line);
            if (log.length > refusalLines * 5) log.splice(0, log.length - refusalLines);
            onLine?.(line);
          });
          lines.on('close', resolve);
        });
      const output = Promise.all([collect(child.stdout), collect(child.stderr)]);
      child.go();
      const timer = setTimeout(() => child.terminate(o.killGraceMs), o.timeoutMs);
      const ending = await child.exited;
      clearTimeout(timer);
      await output;
      if (ending.exitCode !== 0) {
        const why =
          Date.now() - started >= o.timeoutMs
            ? `it took longer than ${Math.round(o.timeoutMs / 1000)} s`
            : `it ended with exit code ${ending.exitCode ?? 'none (killed)'}`;
        o.log.info({ digest: spec.digest, kind: spec.kind, exitCode: ending.exitCode }, 'environment build failed');
        throw new EnvironmentBuildFailedProblem(spec.kind, why, log);
      }
      const bytes = await sizeOf(dir);
      const facts: EnvironmentFacts = {
        kind: spec.kind,
        digest: spec.digest,
        builtAt: new Date().toISOString(),
        bytes,
        // Where its runs see it: a copy from the store is used only where they see it there too.
        at: o.launcher.mountPoint(final, jailMounts[spec.kind]),
      };
      // The tree is the build's user's: its install scripts may have left the marker's name
      // as a link (to a host file this root process would overwrite). Whatever is there
      // goes (rm removes a link, never what it leads to), and the marker is created anew,
      // never through a link (O_EXCL). Nothing of the build is left to race this: its jail has ended.
      const marker = join(dir, completeMarker);
      await rm(marker, { force: true });
      await writeFile(marker, `${JSON.stringify(facts)}\n`, { flag: 'wx' });
      if (jailed) {
        await rename(dir, final).catch(async (error: NodeJS.ErrnoException) => {
          // Another instance built the same one meanwhile: theirs is as good.
          if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
          await rm(dir, { recursive: true, force: true });
        });
      }
      o.log.info({ digest: spec.digest, kind: spec.kind, bytes, ms: Date.now() - started }, 'environment built');
      await this.sweep(new Set([spec.digest])).catch((error: unknown) => {
        o.log.warn({ err: error }, 'could not sweep the environments');
      });
    } catch (error) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      throw error;
    } finally {
      await slot.release().catch(() => {});
    }
  }
}

/** The bytes a directory's files take (links not followed). */
async function sizeOf(dir: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    bytes += (await lstat(join(entry.parentPath, entry.name)).catch(() => undefined))?.size ?? 0;
  }
  return bytes;
}

/**
 * Run in the build's jail before pip: a `.python-version` must name the data plane's
 * Python (major.minor); a `requirements.txt` is installed as it is; a `pyproject.toml` has
 * its `[project] dependencies` installed with its lock's versions as constraints (`uv.lock`:
 * the registry packages; `pylock.toml`: its packages), so pip resolves for this machine
 * (markers and all) and takes exactly the locked versions. The project itself is not
 * installed: it is the bundle, run from its working copy.
 */
const preparePython = String.raw`
import os, sys, tomllib
have = f"{sys.version_info.major}.{sys.version_info.minor}"
if os.path.exists(".python-version"):
    wanted = open(".python-version").read().strip()
    if wanted and ".".join(wanted.split(".")[:2]) != have:
        sys.exit(f"The project asks for Python {wanted} (.python-version); this data plane builds with Python {have}.")
if os.path.exists("requirements.txt"):
    args = "-r requirements.txt"
else:
    project = tomllib.load(open("pyproject.toml", "rb")).get("project", {})
    pins = []
    if os.path.exists("uv.lock"):
        for package in tomllib.load(open("uv.lock", "rb")).get("package", []):
            if "registry" in package.get("source", {}):
                pins.append(f"{package['name']}=={package['version']}")
    elif os.path.exists("pylock.toml"):
        for package in tomllib.load(open("pylock.toml", "rb")).get("packages", []):
            if "version" in package:
                pins.append(f"{package['name']}=={package['version']}")
    else:
        sys.exit("pyproject.toml comes without a lock: add its uv.lock or pylock.toml (or a requirements.txt with pins).")
    dependencies = project.get("dependencies", [])
    open(".sovereign-requirements.txt", "w").write("".join(f"{d}\n" for d in dependencies))
    open(".sovereign-constraints.txt", "w").write("".join(f"{p}\n" for p in pins))
    args = "-r .sovereign-requirements.txt -c .sovereign-constraints.txt" if dependencies else ""
open(".sovereign-pip-args", "w").write(args)
`;

function shellWord(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The build's command: a venv and pip for Python, `npm ci` for Node, from the data plane's package sources only. */
function buildCommand(kind: EnvironmentKind, at: string, sources: PackageSources): string {
  if (kind === 'python') {
    const from: string[] = [];
    if (sources.pipIndexUrl !== undefined) from.push('--index-url', shellWord(sources.pipIndexUrl));
    else if ((sources.pipFindLinks ?? []).length > 0) from.push('--no-index');
    for (const path of sources.pipFindLinks ?? []) from.push('--find-links', shellWord(path));
    return [
      'set -e',
      // Checks the Python asked for, and turns a pyproject.toml and its lock into what pip reads.
      `python3 - <<'SOVEREIGN_PREPARE'\n${preparePython}\nSOVEREIGN_PREPARE`,
      `python3 -m venv ${shellWord(at)}`,
      // Nothing to install (a pyproject.toml without dependencies): the venv alone.
      `if [ -s .sovereign-pip-args ]; then ${shellWord(`${at}/bin/pip`)} install --no-cache-dir ${from.join(' ')} $(cat .sovereign-pip-args); fi`,
    ].join('\n');
  }
  const registry = sources.npmRegistry === undefined ? '' : ` --registry ${shellWord(sources.npmRegistry)}`;
  return ['set -e', `cd ${shellWord(at)}`, `npm ci --no-audit --no-fund${registry}`].join('\n');
}
