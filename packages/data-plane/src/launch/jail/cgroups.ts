import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LimitHit } from '../launcher.ts';
import type { RunLimits } from '../limits.ts';

/**
 * Where this data plane makes its runs' cgroups: under its own cgroup, in each
 * hierarchy that enforces a limit. cgroup v1 mounts one hierarchy per controller
 * (memory, pids, cpu); v2 has one for all, and its controllers must be delegated to
 * the data plane's cgroup.
 */
export type CgroupLayout =
  | { version: 'v1'; memory: string; pids: string; cpu: string }
  | { version: 'v2'; root: string };

/** The CPU time slice a quota is counted in (100 ms, the kernel's default period). */
const cpuPeriodUs = 100_000;

interface Mount {
  path: string;
  type: string;
  options: string[];
}

function mounts(): Mount[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields.length >= 4)
    .map(([, path, type, options]) => ({
      path: (path ?? '').replace(/\\040/g, ' '),
      type: type ?? '',
      options: (options ?? '').split(','),
    }));
}

/** This process's cgroup in each v1 hierarchy (by controller), and in the v2 one ('' key). */
function ownCgroups(): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match === null) continue;
    for (const controller of (match[1] ?? '').split(',')) own.set(controller, match[2] ?? '/');
  }
  return own;
}

/**
 * Finds where runs' cgroups go, or says what is missing. The data plane nests them under
 * its own cgroup, `<own>/<name>`: a container or service manager that limits the data
 * plane limits its runs too.
 */
export function findCgroups(name: string): { layout: CgroupLayout } | { missing: string } {
  const all = mounts();
  const own = ownCgroups();
  const v1 = (controller: string) => {
    const mount = all.find((m) => m.type === 'cgroup' && m.options.includes(controller));
    return mount === undefined ? undefined : join(mount.path, own.get(controller) ?? '/', name);
  };
  const memory = v1('memory');
  const pids = v1('pids');
  const cpu = v1('cpu');
  if (memory !== undefined && pids !== undefined && cpu !== undefined) {
    return { layout: { version: 'v1', memory, pids, cpu } };
  }
  const unified = all.find((m) => m.type === 'cgroup2');
  if (unified !== undefined) {
    const base = join(unified.path, own.get('') ?? '/');
    const available = existsSync(join(base, 'cgroup.controllers'))
      ? readFileSync(join(base, 'cgroup.controllers'), 'utf8').trim().split(/\s+/)
      : [];
    const lacking = ['memory', 'pids', 'cpu'].filter((c) => !available.includes(c));
    if (lacking.length === 0) return { layout: { version: 'v2', root: join(base, name) } };
    return {
      missing: `cgroup v2 controllers ${lacking.join(', ')} delegated to the data plane's cgroup (${base}): run it under a service manager with Delegate=yes`,
    };
  }
  const lacking = [
    ['memory', memory],
    ['pids', pids],
    ['cpu', cpu],
  ]
    .filter(([, path]) => path === undefined)
    .map(([controller]) => controller);
  return { missing: `cgroup controllers ${lacking.join(', ')} (mounted cgroup v1 hierarchies, or cgroup v2)` };
}

function write(path: string, value: string): void {
  writeFileSync(path, value);
}

function readFlat(path: string): Map<string, number> {
  const out = new Map<string, number>();
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key !== undefined && value !== undefined) out.set(key, Number(value));
  }
  return out;
}

/** Removes a cgroup directory: true when it is gone, false while a process in it is still exiting. */
function removeDir(path: string): boolean {
  try {
    rmdirSync(path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    if (code === 'EBUSY') return false;
    throw error;
  }
}

/**
 * The cgroup(s) of one jail: its limits, the processes put in it, and what it saw
 * (the OOM killer ran, forks were refused). Its files are written synchronously: each is
 * one small write, and they sit on the start path of a run.
 */
export class RunCgroup {
  readonly #layout: CgroupLayout;
  readonly #dirs: string[];
  /**
   * What this cgroup's files hold, as written here: a jail made in advance is handed to a
   * run with the limits it was made with, and a file is written only when its value
   * changes. Each write costs a trip into the kernel, and a CPU bandwidth write takes the
   * scheduler's locks (1 to 2 ms each here under load): on the start path of every run.
   */
  readonly #written: { memoryBytes?: number; pids?: number; quota?: string } = {};
  #swapAccounting: boolean | undefined;

  private constructor(layout: CgroupLayout, dirs: string[]) {
    this.#layout = layout;
    this.#dirs = dirs;
  }

  /** Makes the cgroup `<layout>/<instance dir>/<name>` (its parents too) with `limits`. */
  static create(layout: CgroupLayout, name: string, limits: RunLimits): RunCgroup {
    const dirs =
      layout.version === 'v1'
        ? [layout.memory, layout.pids, layout.cpu].map((d) => join(d, name))
        : [join(layout.root, name)];
    if (layout.version === 'v2') enableControllers(layout.root);
    for (const dir of dirs) mkdirSync(dir, { recursive: true });
    const cgroup = new RunCgroup(layout, dirs);
    if (layout.version === 'v1') {
      // A new cgroup counts its quota in the kernel's default period, 100 ms: written only if this one differs.
      const cpu = dirs[2] ?? '';
      const period = join(cpu, 'cpu.cfs_period_us');
      if (readFileSync(period, 'utf8').trim() !== String(cpuPeriodUs)) write(period, String(cpuPeriodUs));
    }
    cgroup.setLimits(limits);
    return cgroup;
  }

  /** The files a process is put in the cgroup through (one per hierarchy). */
  get procsFiles(): string[] {
    return this.#dirs.map((dir) => join(dir, 'cgroup.procs'));
  }

  setLimits(limits: RunLimits): void {
    const quota = String(Math.max(1000, Math.round(limits.cpus * cpuPeriodUs)));
    const was = this.#written;
    if (this.#layout.version === 'v1') {
      const [memory = '', pids = '', cpu = ''] = this.#dirs;
      if (was.memoryBytes !== limits.memoryBytes) {
        // With swap accounting, memory+swap must stay at or above memory: no swap at all.
        const memsw = join(memory, 'memory.memsw.limit_in_bytes');
        this.#swapAccounting ??= existsSync(memsw);
        const bytes = String(limits.memoryBytes);
        // A new cgroup has no limit: memory+swap is raised first only when a limit set here is raised.
        if (this.#swapAccounting && limits.memoryBytes > (was.memoryBytes ?? Number.POSITIVE_INFINITY)) {
          write(memsw, bytes);
        }
        write(join(memory, 'memory.limit_in_bytes'), bytes);
        if (this.#swapAccounting) write(memsw, bytes);
      }
      if (was.pids !== limits.pids) write(join(pids, 'pids.max'), String(limits.pids));
      if (was.quota !== quota) write(join(cpu, 'cpu.cfs_quota_us'), quota);
    } else {
      const [dir = ''] = this.#dirs;
      if (was.memoryBytes !== limits.memoryBytes) {
        write(join(dir, 'memory.max'), String(limits.memoryBytes));
        this.#swapAccounting ??= existsSync(join(dir, 'memory.swap.max'));
        if (this.#swapAccounting && was.memoryBytes === undefined) write(join(dir, 'memory.swap.max'), '0');
      }
      if (was.pids !== limits.pids) write(join(dir, 'pids.max'), String(limits.pids));
      if (was.quota !== quota) write(join(dir, 'cpu.max'), `${quota} ${cpuPeriodUs}`);
    }
    was.memoryBytes = limits.memoryBytes;
    was.pids = limits.pids;
    was.quota = quota;
  }

  /** The limits the kernel enforced on this cgroup so far: the OOM killer ran, forks were refused. */
  hits(): Array<Exclude<LimitHit, 'tmp'>> {
    const hits: Array<Exclude<LimitHit, 'tmp'>> = [];
    const [first = '', second = ''] = this.#dirs;
    const memory = this.#layout.version === 'v1' ? join(first, 'memory.oom_control') : join(first, 'memory.events');
    const pids = join(this.#layout.version === 'v1' ? second : first, 'pids.events');
    if ((readFlat(memory).get('oom_kill') ?? 0) > 0) hits.push('memory');
    if ((readFlat(pids).get('max') ?? 0) > 0) hits.push('pids');
    return hits;
  }

  /** Removes the cgroup, once its processes have ended (the last ones may take a moment to be gone). */
  async remove(): Promise<void> {
    for (const dir of this.#dirs) {
      for (let attempt = 0; !removeDir(dir); attempt++) {
        if (attempt === 100) throw new Error(`the cgroup ${dir} still has processes`);
        await sleep(20);
      }
    }
  }
}

const runControllers = ['memory', 'pids', 'cpu'];

/**
 * cgroup v2 hands a controller to children only from a cgroup that holds no process
 * itself ("no internal processes"), and the data plane's own cgroup holds the data plane
 * (and whatever started it in its container or service). Those processes move to a leaf
 * beside the runs' cgroups, `<own>/service`, and the own cgroup then delegates memory,
 * pids and cpu to its children: what systemd advises for a delegated subtree. Without it
 * the first run's limits cannot be written, and no jail starts on a cgroup v2 host.
 * Done once at start; a process forked meanwhile lands in the own cgroup again (EBUSY),
 * so it is tried a few times.
 */
export function delegateFromOwnCgroup(layout: CgroupLayout): void {
  if (layout.version !== 'v2') return;
  const own = dirname(layout.root);
  const control = join(own, 'cgroup.subtree_control');
  const enabled = () => readFileSync(control, 'utf8').split(/\s+/);
  if (runControllers.every((c) => enabled().includes(c))) return;
  const leaf = join(own, 'service');
  mkdirSync(leaf, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    for (const pid of readFileSync(join(own, 'cgroup.procs'), 'utf8').split('\n')) {
      if (pid.trim() === '') continue;
      try {
        write(join(leaf, 'cgroup.procs'), pid.trim());
      } catch (error) {
        // Gone since it was listed: nothing to move.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
    try {
      write(control, runControllers.map((c) => `+${c}`).join(' '));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY' || attempt === 10) throw error;
    }
  }
}

/** cgroup v2: a child gets a controller only when its parent lists it in cgroup.subtree_control. */
function enableControllers(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const control = join(dir, 'cgroup.subtree_control');
  const enabled = readFileSync(control, 'utf8');
  for (const controller of ['memory', 'pids', 'cpu']) {
    if (!enabled.split(/\s+/).includes(controller)) write(control, `+${controller}`);
  }
}

/** Removes `<layout>/<name>` directories left by instances no longer alive (their processes are gone). */
export function removeStaleCgroups(layout: CgroupLayout, keep: (name: string) => boolean): void {
  const roots = layout.version === 'v1' ? [layout.memory, layout.pids, layout.cpu] : [layout.root];
  for (const root of roots) {
    let names: string[] = [];
    try {
      names = readdirDirs(root);
    } catch {
      continue;
    }
    for (const name of names) {
      if (keep(name)) continue;
      const dir = join(root, name);
      // One still busy is tried again by the next sweep.
      for (const child of readdirDirs(dir)) removeDir(join(dir, child));
      removeDir(dir);
    }
  }
}

function readdirDirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
}
