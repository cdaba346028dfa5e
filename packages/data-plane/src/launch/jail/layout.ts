import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';

/**
 * What a jail's filesystem is made of, and where the job finds its places. Everything a
 * job may see of this machine is listed here; the rest of it is not in the jail at all.
 */

/** The run's directory, bound read-write: its home, holding its working copy, outputs and state file. */
export const jobHome = '/job';
export const jobPaths = {
  home: jobHome,
  app: `${jobHome}/app`,
  outputs: `${jobHome}/outputs`,
  stateFile: `${jobHome}/state.json`,
  paramsFile: `${jobHome}/params.json`,
};
/** The jail's own small files (a tmpfs): the environment the run is started with, and the data plane's Node. */
export const jailRunDir = '/run/sovereign';
export const jailEnvFile = `${jailRunDir}/env`;
export const jailBinDir = `${jailRunDir}/bin`;
/** The user and group a job is inside its jail; outside, a user id of its own run. */
export const jailUid = 1000;
export const jailPath = `${jailBinDir}:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin`;
/** slirp4netns's resolver: it forwards to this machine's, whatever address those have. */
export const jailNameserver = '10.0.2.3';
/** slirp4netns's options for a jail's network; what it reports on, and the jail's pid and device, follow. */
export const slirpOptions = [
  '--configure',
  '--mtu=65520',
  // Never this machine: 10.0.2.2 does not lead to its loopback.
  '--disable-host-loopback',
  '--enable-sandbox',
  '--enable-seccomp',
  // Root enters the jail's network namespace as it is; the jail's user namespace is not entered.
  '--userns-path=/proc/self/ns/user',
];

/** The system's directories, read-only; on a merged-/usr system the top ones are links, made as links. */
const systemPaths = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];

/**
 * Files of /etc no job needs and some would like: password hashes, host keys, private
 * keys, sudo rules. A jail's user could not read most of them anyway (they are not
 * world-readable); they are left out all the same.
 */
const etcSecrets = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/sudoers',
  '/etc/sudoers.d',
  '/etc/ssh',
  '/etc/ssl/private',
  '/etc/security/opasswd',
];

export interface SystemEntry {
  path: string;
  /** A link (merged /usr: /bin -> usr/bin) is made as the same link; a directory is bound read-only. */
  link?: string;
}

export interface JailLayout {
  system: SystemEntry[];
  /** Directories the operator adds, read-only (SOV_SANDBOX_READ_ONLY_PATHS). */
  readOnly: string[];
  /** Paths inside bound directories that the jail must not see: secrets, and the data plane's own files. */
  hidden: Array<{ path: string; directory: boolean }>;
  /** The data plane's Node, bound as `node` in the jail's PATH: jobs run with the Node the data plane runs on. */
  node: string;
}

function entryOf(path: string): SystemEntry | undefined {
  const info = lstatSync(path, { throwIfNoEntry: false });
  if (info === undefined) return undefined;
  if (info.isSymbolicLink()) return { path, link: readlinkSync(path) };
  return info.isDirectory() ? { path } : undefined;
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);

/**
 * The layout on this machine: its system directories as they are, extra read-only ones,
 * and what to hide in them: the usual secrets, and every path the data plane keeps its own
 * data in (`ownPaths`: its data, artifact and work directories, its key file...) that
 * happens to lie inside a bound directory.
 */
export function jailLayout(options: { readOnly: string[]; ownPaths: string[]; node: string }): JailLayout {
  const system = systemPaths.map(entryOf).filter((e): e is SystemEntry => e !== undefined);
  const bound = [...system.filter((e) => e.link === undefined).map((e) => e.path), ...options.readOnly];
  const hidden: JailLayout['hidden'] = [];
  for (const candidate of [...etcSecrets, ...options.ownPaths.map((p) => resolve(p))]) {
    if (!bound.some((dir) => inside(candidate, dir))) continue;
    const info = lstatSync(candidate, { throwIfNoEntry: false });
    if (info === undefined) continue;
    hidden.push({ path: candidate, directory: info.isDirectory() });
  }
  return { system, readOnly: options.readOnly, hidden, node: options.node };
}

/** The descriptors a jail's bwrap is given, besides stdin, stdout and stderr. */
export interface JailFds {
  /** bwrap writes the pid of the jail's first process here (JSON). */
  info: number;
  /** bwrap waits for a byte here before it starts the supervisor: its cgroup and network come first. */
  block: number;
  /** Contents of the jail's /etc/passwd and /etc/group, read to their end. */
  passwd: number;
  group: number;
  /** The jail's /etc/resolv.conf: slirp4netns's resolver, or none without a network. */
  resolv: number;
  /**
   * Empty: bwrap makes the jail's env file from it, owned by the jail's user, so that the
   * data plane can fill it before the go (a file it created would belong to no user the
   * jail knows, and its tmpfs refuses one).
   */
  env: number;
  /** Held by bwrap and the jail's first process, never by the job: its other end learns when the jail is gone. */
  sync: number;
}

export interface JailSpec {
  layout: JailLayout;
  /** This run's own mounts: a built environment (read-only, or writable for its build), packages for a build. */
  mounts?: ReadonlyArray<{ host: string; at: string; writable?: boolean | undefined }>;
  /** The run's directory on this machine, bound read-write at /job. */
  home: string;
  tmpBytes: number;
  fds: JailFds;
}

/**
 * The options of bwrap for one jail (its command follows them): its own user, PID, mount, IPC, UTS, network and
 * cgroup namespaces, no further user namespaces inside, a new session (no terminal to
 * reach), and a filesystem made only of what is listed here.
 */
export function bwrapArgs(spec: JailSpec): string[] {
  const { layout, fds } = spec;
  const args = [
    '--unshare-user',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-net',
    '--unshare-cgroup-try',
    '--disable-userns',
    '--uid',
    String(jailUid),
    '--gid',
    String(jailUid),
    '--hostname',
    'sovereign',
    '--new-session',
    '--cap-drop',
    'ALL',
  ];
  for (const entry of layout.system) {
    if (entry.link !== undefined) args.push('--symlink', entry.link, entry.path);
    else args.push('--ro-bind', entry.path, entry.path);
  }
  for (const path of layout.readOnly) args.push('--ro-bind-try', path, path);
  for (const { path, directory } of layout.hidden) {
    if (directory) args.push('--tmpfs', path, '--remount-ro', path);
    else args.push('--ro-bind', '/dev/null', path);
  }
  args.push('--ro-bind-data', String(fds.passwd), '/etc/passwd', '--ro-bind-data', String(fds.group), '/etc/group');
  args.push('--ro-bind-data', String(fds.resolv), '/etc/resolv.conf');
  args.push(
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(spec.tmpBytes),
    '--tmpfs',
    '/tmp',
    '--symlink',
    '../tmp',
    '/var/tmp',
    '--dir',
    jailBinDir,
    '--perms',
    '0600',
    '--file',
    String(fds.env),
    jailEnvFile,
    '--ro-bind',
    layout.node,
    `${jailBinDir}/node`,
    '--bind',
    spec.home,
    jobHome,
    ...(spec.mounts ?? []).flatMap((m) => [m.writable === true ? '--bind' : '--ro-bind', m.host, m.at]),
    '--chdir',
    jobHome,
    '--info-fd',
    String(fds.info),
    '--block-fd',
    String(fds.block),
    '--sync-fd',
    String(fds.sync),
  );
  return args;
}

/** /etc/passwd and /etc/group of a jail: root, nobody, and the job's own user, whose home is /job. */
export const jailPasswd = [
  'root:x:0:0:root:/root:/usr/sbin/nologin',
  `sov:x:${jailUid}:${jailUid}:Sovereign run:${jobHome}:/bin/sh`,
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  '',
].join('\n');
export const jailGroup = ['root:x:0:', `sov:x:${jailUid}:`, 'nogroup:x:65534:', ''].join('\n');
export const jailResolv = `nameserver ${jailNameserver}\n`;

/** Every directory above `path`, nearest first. */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    out.push(dir);
    if (dir === dirname(dir)) return out;
  }
}
