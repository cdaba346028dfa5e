import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/**
 * Starting the programs around a run (a jail's bwrap, its slirp4netns, a supervisor
 * shell) from the spawner. Node's child_process forks: the kernel copies the page tables
 * of the whole Node process for each child, and the child throws them away at its exec,
 * about 10 ms of CPU a start on a small virtual machine (docs/performance.md). The
 * native module (native/spawn.c, built by `npm install` with node-gyp) starts them with
 * clone(CLONE_VM | CLONE_VFORK), which copies nothing. Where it was not built (no
 * compiler), child_process starts them as before: slower, the same in every other way.
 */

/** What the child gets as each descriptor, 0 up. */
export type Slot =
  /** A socket pair: the child's end there, ours as `sockets[i]`. */
  | 'socket'
  /** /dev/null. */
  | 'ignore'
  /** A text the child reads, then its end (written before the child starts: it never waits on us). */
  | { text: string }
  /** Descriptor `slot` of an earlier program's, given as it is (a lifeline both hold). */
  | { from: Program; slot: number };

export interface ProgramOptions {
  file: string;
  args: readonly string[];
  env: Record<string, string>;
  slots: readonly Slot[];
  cwd?: string;
  uid?: number;
  gid?: number;
  /** A session (and process group) of its own, led by the child. */
  setsid?: boolean;
}

/** How a program ended: its exit code, or the signal that ended it. */
export interface Ending {
  code: number | null;
  signal: string | null;
}

/** An ending as words: `exit code 1`, `killed by SIGKILL`. */
export function endingText(ending: Ending): string {
  return ending.signal === null ? `exit code ${ending.code}` : `killed by ${ending.signal}`;
}

export interface Program {
  readonly pid: number;
  /** Our end of each 'socket' slot, by the child's descriptor number. */
  readonly sockets: ReadonlyArray<Socket | undefined>;
  /** Settles once the child has ended and been reaped, with how it ended. */
  readonly exited: Promise<Ending>;
  /** How it ended, once `exited` has settled; undefined until then. */
  readonly ending: Ending | undefined;
  kill(signal: NodeJS.Signals): void;
  /** Keeps nothing of ours alive: ending a slot's socket is up to its user. */
  unref(): void;
}

interface NativeSpawn {
  spawn(options: {
    file: string;
    args: string[];
    env: string[];
    fds: number[];
    uid?: number;
    gid?: number;
    setsid?: boolean;
    cwd?: string;
  }): number;
  socketPair(): [number, number];
  reap(pid: number): { code: number | null; signal: number | null } | null;
}

const addonPath = fileURLToPath(new URL('../../build/Release/sov_spawn.node', import.meta.url));

const native = existsSync(addonPath) ? (createRequire(import.meta.url)(addonPath) as NativeSpawn) : undefined;

/** How programs are started here: 'native' (no copy of our memory) or 'fork' (child_process, where the module was not built). */
export const programStarts: 'native' | 'fork' = native === undefined ? 'fork' : 'native';

/** Our end of a program's 'socket' slot `fd`. */
export function socketOf(program: Program, fd: number): Socket {
  const socket = program.sockets[fd];
  if (socket === undefined) throw new Error(`descriptor ${fd} of the program is not a socket slot`);
  return socket;
}

/**
 * Starts a program; throws if it cannot be (no such file, say). `how` is for tests, which
 * try both ways: 'native' throws where the module was not built.
 */
export function startProgram(options: ProgramOptions, how = programStarts): Program {
  if (how === 'native' && native === undefined)
    throw new Error('the native spawner is not built (npm install builds it)');
  const program = how === 'fork' || native === undefined ? forked(options) : cloned(native, options);
  // A child that fails early closes its descriptors under our writes: said by its exit, never a crash.
  for (const socket of program.sockets) socket?.on('error', () => {});
  return program;
}

// --- native ---------------------------------------------------------------------------

/** Our started children not yet reaped, by pid: looked at on every SIGCHLD. */
const reaping = new Map<number, (ending: Ending) => void>();
let devNull: number | undefined;
let listening = false;

function reapEnded(addon: NativeSpawn): void {
  for (const [pid, ended] of reaping) {
    let status: ReturnType<NativeSpawn['reap']>;
    try {
      status = addon.reap(pid);
    } catch {
      // Not our child any more (reaped elsewhere): ended, how is not known. Never a throw
      // out of a signal handler, which would take the spawner down.
      status = { code: null, signal: null };
    }
    if (status === null) continue;
    reaping.delete(pid);
    ended({ code: status.code, signal: status.signal === null ? null : signalName(status.signal) });
  }
}

/**
 * The most a text slot holds: it is written whole before the child starts, into a socket
 * whose buffer (about 200 KiB on Linux) must take it, or the write would wait forever for
 * a reader that does not exist yet. A jail's texts (passwd, options) are a few KiB.
 */
export const textSlotMaxBytes = 128 * 1024;

/** A descriptor of ours for the Socket in a 'socket' slot of an earlier native program. */
const ownFds = new WeakMap<Program, Array<number | undefined>>();

function cloned(addon: NativeSpawn, options: ProgramOptions): Program {
  if (!listening) {
    // Ours alone are reaped (by pid): children started by child_process are libuv's to reap.
    process.on('SIGCHLD', () => reapEnded(addon));
    listening = true;
  }
  devNull ??= openSync('/dev/null', 'r+');
  const theirs: number[] = [];
  const ours: Array<number | undefined> = [];
  const toClose: number[] = [];
  try {
    for (const slot of options.slots) {
      if (slot === 'ignore') {
        theirs.push(devNull);
        ours.push(undefined);
      } else if (slot === 'socket') {
        const [mine, child] = addon.socketPair();
        toClose.push(child);
        ours.push(mine);
        theirs.push(child);
      } else if ('text' in slot) {
        if (Buffer.byteLength(slot.text) > textSlotMaxBytes) {
          throw new Error(`a text slot holds at most ${textSlotMaxBytes} bytes`);
        }
        const [mine, child] = addon.socketPair();
        toClose.push(child);
        // A socket's buffer takes far more than a jail's texts (passwd, options): never blocks.
        try {
          if (slot.text.length > 0) writeSync(mine, slot.text);
        } finally {
          closeSync(mine);
        }
        ours.push(undefined);
        theirs.push(child);
      } else {
        const fd = ownFds.get(slot.from)?.[slot.slot];
        if (fd === undefined) throw new Error(`slot ${slot.slot} of that program is not a socket of ours`);
        ours.push(undefined);
        theirs.push(fd);
      }
    }
    const pid = addon.spawn({
      file: options.file,
      args: [options.file, ...options.args],
      env: Object.entries(options.env).map(([name, value]) => `${name}=${value}`),
      fds: theirs,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      setsid: options.setsid === true,
    });
    const sockets = ours.map((fd) =>
      fd === undefined ? undefined : new Socket({ fd, readable: true, writable: true }),
    );
    let ended!: (ending: Ending) => void;
    let ending: Ending | undefined;
    const exited = new Promise<Ending>((resolve) => {
      ended = (how) => {
        ending = how;
        resolve(how);
      };
    });
    reaping.set(pid, ended);
    // It may have ended before we listened.
    reapEnded(addon);
    const program: Program = {
      pid,
      sockets,
      exited,
      get ending() {
        return ending;
      },
      kill(signal) {
        if (!reaping.has(pid)) return;
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      },
      unref() {},
    };
    // A Socket made from a descriptor keeps that very descriptor: it can be given to another child.
    ownFds.set(program, ours);
    return program;
  } catch (error) {
    for (const fd of ours) if (fd !== undefined) closeSync(fd);
    throw error;
  } finally {
    for (const fd of toClose) closeSync(fd);
  }
}

function signalName(signal: number): string {
  return Object.entries(constants.signals).find(([, number]) => number === signal)?.[0] ?? `signal ${signal}`;
}

// --- child_process --------------------------------------------------------------------

function forked(options: ProgramOptions): Program {
  const stdio = options.slots.map((slot) => {
    if (slot === 'ignore') return 'ignore' as const;
    if (slot === 'socket' || 'text' in slot) return 'pipe' as const;
    const stream = (slot.from as ForkedProgram).child.stdio[slot.slot];
    if (stream === null || stream === undefined) throw new Error(`slot ${slot.slot} of that program is not a pipe`);
    return stream as Readable | Writable;
  });
  const child = spawn(options.file, [...options.args], {
    stdio,
    env: options.env,
    detached: options.setsid === true,
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  if (child.pid === undefined) {
    // spawn() reports a missing program by an event: here it is thrown, as the native start does.
    child.once('error', () => {});
    throw new Error(`${options.file}: could not be started`);
  }
  child.once('error', () => {});
  for (const [index, slot] of options.slots.entries()) {
    const stream = child.stdio[index] as Writable | null;
    stream?.on('error', () => {});
    if (typeof slot === 'object' && 'text' in slot) stream?.end(slot.text);
  }
  let ending: Ending | undefined;
  const exited = new Promise<Ending>((resolve) =>
    child.once('exit', (code, signal) => {
      ending = { code, signal };
      resolve(ending);
    }),
  );
  const program: ForkedProgram = {
    child,
    pid: child.pid,
    get ending() {
      return ending;
    },
    sockets: options.slots.map((slot, index) => (slot === 'socket' ? (child.stdio[index] as Socket) : undefined)),
    exited,
    kill(signal) {
      child.kill(signal);
    },
    unref() {
      child.unref();
    },
  };
  return program;
}

interface ForkedProgram extends Program {
  child: ChildProcess;
}
