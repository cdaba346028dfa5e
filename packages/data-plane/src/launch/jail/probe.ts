import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type CgroupLayout, delegateFromOwnCgroup, findCgroups } from './cgroups.ts';
import { ancestors } from './layout.ts';

/** The programs a jail is built with, where this machine has them. */
export interface JailTools {
  bwrap: string;
  slirp4netns: string;
  nsenter: string;
  socat: string;
}

/** Why runs cannot be jailed here: each a thing to install or set, said as the operator would fix it. */
export class SandboxUnavailableError extends Error {
  readonly missing: string[];

  constructor(missing: string[]) {
    super(
      [
        'runs cannot be jailed on this machine (R9: every run in its own jail). Missing:',
        ...missing.map((m) => `  - ${m}`),
        'Fix these, or set SOV_SANDBOX=off to run jobs unjailed on purpose (only where every job trusts every other).',
      ].join('\n'),
    );
    this.name = 'SandboxUnavailableError';
    this.missing = missing;
  }
}

/** A program on the data plane's PATH (the operator's to set, as for any service). */
function which(program: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function readNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * mkdir -p whose error says why: Node's recursive mkdir answers ENOENT for a directory it
 * may not make on a read-only filesystem (a container's cgroups), which would tell the
 * operator that something is absent rather than read-only. The directory is made on its
 * own first; only a missing parent goes the recursive way.
 */
function makeDirectory(dir: string, mode?: number): void {
  try {
    mkdirSync(dir, { mode });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT') throw error;
    mkdirSync(dir, { recursive: true, mode });
  }
}

export interface JailProbe {
  tools: JailTools;
  cgroups: CgroupLayout;
}

/**
 * What this machine needs for jails, checked before the data plane starts: root (each
 * run gets a user id and cgroup of its own), the programs (Debian's bubblewrap,
 * slirp4netns, socat and util-linux), user namespaces in the kernel, cgroups it may
 * write, and a directory for the runs that their users can reach. A trial jail proves
 * the rest (launcher.ts). Throws SandboxUnavailableError listing all that is missing.
 */
export function probeJail(options: { runsDir: string; cgroupName: string }): JailProbe {
  const missing: string[] = [];
  const uid = process.getuid?.();
  if (uid !== 0) {
    missing.push(
      `root: the data plane runs as user ${uid}, and a jail gives each run a user id and cgroup of its own, which only root can`,
    );
  }
  const found: Partial<JailTools> = {};
  for (const [key, program, pkg] of [
    ['bwrap', 'bwrap', 'the bubblewrap package (bwrap)'],
    ['slirp4netns', 'slirp4netns', 'the slirp4netns package (a job’s way out to the network)'],
    ['nsenter', 'nsenter', 'util-linux’s nsenter'],
    ['socat', 'socat', 'the socat package (the bridge to an interactive job’s port)'],
  ] as const) {
    const path = which(program);
    if (path === undefined) missing.push(pkg);
    else found[key] = path;
  }
  const maxUserNamespaces = readNumber('/proc/sys/user/max_user_namespaces');
  if (maxUserNamespaces === 0) missing.push('user namespaces: the kernel setting user.max_user_namespaces is 0');
  if (readNumber('/proc/sys/kernel/unprivileged_userns_clone') === 0) {
    missing.push('user namespaces for unprivileged users: the kernel setting kernel.unprivileged_userns_clone is 0');
  }
  if (readNumber('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === 1) {
    missing.push(
      'user namespaces for bwrap: kernel.apparmor_restrict_unprivileged_userns is 1 (allow bwrap in an AppArmor profile)',
    );
  }
  let cgroups: CgroupLayout | undefined;
  const found2 = findCgroups(options.cgroupName);
  if ('missing' in found2) missing.push(found2.missing);
  else if (uid === 0) {
    cgroups = found2.layout;
    const dirs = cgroups.version === 'v1' ? [cgroups.memory, cgroups.pids, cgroups.cpu] : [cgroups.root];
    for (const dir of dirs) {
      try {
        makeDirectory(dir);
      } catch (error) {
        missing.push(`write access to cgroups at ${dir} (${(error as NodeJS.ErrnoException).code})`);
      }
    }
    try {
      delegateFromOwnCgroup(cgroups);
    } catch (error) {
      missing.push(
        `cgroup v2 controllers delegated by the data plane's own cgroup to its runs' (moving its processes to a leaf and writing cgroup.subtree_control failed: ${(error as NodeJS.ErrnoException).code})`,
      );
    }
  }
  if (uid === 0) {
    try {
      makeDirectory(options.runsDir, 0o711);
    } catch (error) {
      missing.push(`a directory for runs at ${options.runsDir} (${(error as NodeJS.ErrnoException).code})`);
    }
    // A jail's bwrap runs as the run's user: it must reach the run's directory by its path.
    for (const dir of [options.runsDir, ...ancestors(options.runsDir)]) {
      if (!existsSync(dir)) continue;
      if ((statSync(dir).mode & 0o001) === 0) {
        missing.push(
          `${dir} (on the way to the runs' directories) must be traversable by every user (chmod o+x), or SOV_SANDBOX_DIR set elsewhere`,
        );
        break;
      }
    }
  }
  if (missing.length > 0 || cgroups === undefined) throw new SandboxUnavailableError(missing);
  return { tools: found as JailTools, cgroups };
}
