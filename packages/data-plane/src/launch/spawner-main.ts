import { existsSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { slirpOptions } from './jail/layout.ts';
import { endingText, type Program, type Slot, socketOf, startProgram } from './programs.ts';
import type { BridgeRequest, JailRequest, PlainRequest, SpawnerReply, SpawnerRequest } from './spawner.ts';
import { supervisorScript } from './supervisor.ts';

/**
 * The spawner: a small process the data plane starts once and asks to start each job's
 * supervisor shell, each jail, each bridge. A fork copies the page tables of the process
 * that forks, so a fork of this process costs a few milliseconds where one of the data
 * plane (with PGlite's heap in it) costs ten or more; and where the native module is
 * built, nothing is copied at all (programs.ts). The pipes of each shell are handed
 * to the data plane over IPC and closed here: the data plane alone holds them,
 * supervision pipe included. It runs as the data plane's user (root, to jail runs): it
 * puts each jail's first process in its cgroups and gives it its network.
 */

/** What the helpers around a jail get as their environment: this process's own (a few safe variables). */
const helperEnv = Object.fromEntries(
  Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
);

const send = (reply: SpawnerReply, handle?: Socket) => process.send?.(reply, handle);
const fail = (id: number, error: unknown) =>
  send({ id, error: error instanceof Error ? error.message : String(error) });

/** Bridges of each jail (by its request id): stopped when the jail ends. */
const bridges = new Map<number, Set<Program>>();

function handOver(id: number, child: Program, innerPid?: number): void {
  const { pid } = child;
  for (const [fd, stream] of (['stdin', 'stdout', 'stderr'] as const).entries()) {
    send({ id, pid, ...(innerPid === undefined ? {} : { innerPid }), stream }, socketOf(child, fd));
  }
}

/** Starts a program, or says why it could not be started (and returns undefined). */
function start(id: number, options: Parameters<typeof startProgram>[0]): Program | undefined {
  try {
    return startProgram(options);
  } catch (error) {
    fail(id, error);
    return undefined;
  }
}

function plain(request: PlainRequest & { id: number }): void {
  const { id, command, cwd, env } = request;
  const child = start(id, {
    file: '/bin/sh',
    args: ['-c', supervisorScript],
    cwd,
    env: { ...env, SOV_COMMAND: command },
    setsid: true,
    slots: ['socket', 'socket', 'socket'],
  });
  if (child === undefined) return;
  handOver(id, child);
  // Reaped here when it ends; how it ended travels back on its stdin socket.
  child.unref();
}

/** Everything `stream` gives until it ends, as text (at most `max` characters kept). */
function collect(stream: Readable, max = 4000): () => string {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (text.length < max) text += chunk;
  });
  stream.on('error', () => {});
  return () => text.trim();
}

/** Resolves once `stream` has closed (every writer of it gone), or after `ms`. */
function closedOrAfter(stream: Readable, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) return resolve();
    const timer = setTimeout(resolve, ms);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Resolves with what bwrap reports on its info descriptor (the pid of the jail's first process). */
function innerPidOf(info: Readable, exited: Promise<unknown>): Promise<number | undefined> {
  return new Promise((resolve) => {
    let text = '';
    info.setEncoding('utf8');
    info.on('data', (chunk: string) => {
      text += chunk;
      const pid = /"child-pid"\s*:\s*(\d+)/.exec(text)?.[1];
      if (pid !== undefined) resolve(Number(pid));
    });
    info.on('error', () => resolve(undefined));
    void exited.then(() => resolve(undefined));
  });
}

/**
 * Resolves true once the jail's supervisor says `ready` on its stdout (the jail is whole),
 * false if bwrap ends first. Nothing else comes before its go, so nothing is read past it.
 */
function saysReady(socket: Socket, exited: Promise<unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\n')) return;
      socket.off('data', onData);
      socket.pause();
      resolve(text === 'ready\n');
    };
    socket.on('data', onData);
    void exited.then(() => resolve(false));
  });
}

/** slirp4netns for the jail whose first process is `innerPid`; resolves once its network is up. */
async function network(slirp4netns: string, innerPid: number, lifeline: Slot): Promise<Program> {
  const child = startProgram({
    file: slirp4netns,
    args: [
      ...slirpOptions,
      '--ready-fd=3',
      // Ends when the jail does: its other end is held by the jail's bwrap and first process.
      '--exit-fd=4',
      String(innerPid),
      'tap0',
    ],
    env: helperEnv,
    slots: ['ignore', 'ignore', 'socket', 'socket', lifeline],
    setsid: true,
  });
  const stderr = socketOf(child, 2);
  const readyFd = socketOf(child, 3);
  const errors = collect(stderr);
  const ready = new Promise<boolean>((resolve) => {
    readyFd.once('data', () => resolve(true));
    void child.exited.then(() => resolve(false));
  });
  if (!(await ready))
    throw new Error(`slirp4netns failed: ${errors() || endingText(child.ending ?? { code: null, signal: null })}`);
  readyFd.destroy();
  child.unref();
  return child;
}

async function jail(request: JailRequest & { id: number }): Promise<void> {
  const { id } = request;
  // 0-2 stdio, 3 info, 4 block, then the texts, the lifeline, and bwrap's options.
  const lifelineFd = 5 + request.data.length;
  const argsFd = lifelineFd + 1;
  const child = start(id, {
    file: request.bwrap,
    args: ['--args', String(argsFd), '--', ...request.command],
    uid: request.uid,
    gid: request.gid,
    env: request.env,
    setsid: true,
    slots: [
      'socket',
      'socket',
      'socket',
      'socket',
      'socket',
      ...request.data.map((text) => ({ text })),
      'socket',
      { text: request.options.map((option) => `${option}\0`).join('') },
    ],
  });
  if (child === undefined) return;
  const [stdout, stderr, info, block] = [1, 2, 3, 4].map((fd) => socketOf(child, fd)) as [
    Socket,
    Socket,
    Socket,
    Socket,
  ];
  const collected = collect(stderr);
  // What bwrap said, or how it ended when it said nothing (a signal from elsewhere, say).
  const errors = () =>
    collected() || (child.ending === undefined ? 'it exited' : `it exited (${endingText(child.ending)})`);
  const lifeline = socketOf(child, lifelineFd);
  let slirp: Program | undefined;
  try {
    const innerPid = await innerPidOf(info, child.exited);
    if (innerPid === undefined) throw new Error(`bwrap failed: ${errors()}`);
    for (const file of request.cgroupProcs) writeFileSync(file, String(innerPid));
    if (request.network !== undefined) {
      slirp = await network(request.network.slirp4netns, innerPid, { from: child, slot: lifelineFd });
      // In the run's cgroups: the CPU, memory and descriptors its traffic costs slirp4netns
      // (a job opening thousands of connections) count against the run's limits, not the machine's.
      for (const file of request.cgroupProcs) writeFileSync(file, String(slirp.pid));
    }
    // Its cgroups and network are in place: the supervisor may start (it then waits for its go).
    block.end('x');
    if (!(await saysReady(stdout, child.exited))) throw new Error(`bwrap failed: ${errors()}`);
    stderr.removeAllListeners('data');
    stderr.pause();
    handOver(id, child, innerPid);
  } catch (error) {
    // Ended already, before our kill: how, is the clue (a jail whose first process vanished under us).
    const before = child.ending;
    child.kill('SIGKILL');
    slirp?.kill('SIGKILL');
    // What bwrap wrote as it died may not have been read when the failure was seen (its
    // exit, or its first process gone, comes first): a moment for the rest of its stderr.
    await closedOrAfter(stderr, 500);
    for (const socket of child.sockets) socket?.destroy();
    let message = error instanceof Error ? error.message : String(error);
    const said = collected();
    if (said !== '' && !message.includes(said)) message += ` (bwrap said: ${said})`;
    fail(
      id,
      before === undefined || message.includes('it exited')
        ? message
        : `${message} (bwrap had ended: ${endingText(before)})`,
    );
  }
  // The lifeline stays open here only until slirp4netns holds it; the info pipe is read.
  lifeline.destroy();
  info.destroy();
  void child.exited.then(() => {
    block.destroy();
    for (const bridge of bridges.get(id) ?? []) bridge.kill('SIGKILL');
    bridges.delete(id);
  });
  child.unref();
}

async function bridge(request: BridgeRequest & { id: number }): Promise<void> {
  const { id } = request;
  const target = request.host === '::1' ? `TCP6:[::1]:${request.port}` : `TCP4:127.0.0.1:${request.port}`;
  const child = start(id, {
    file: request.nsenter,
    args: [
      `--net=/proc/${request.innerPid}/ns/net`,
      '--setuid',
      String(request.uid),
      '--setgid',
      String(request.gid),
      '--',
      request.socat,
      `UNIX-LISTEN:${request.socketPath},fork,mode=600,unlink-early`,
      target,
    ],
    env: helperEnv,
    slots: ['ignore', 'ignore', 'socket'],
    setsid: true,
  });
  if (child === undefined) return;
  const errors = collect(socketOf(child, 2));
  let gone = false;
  void child.exited.then(() => {
    gone = true;
  });
  const own = bridges.get(request.jail) ?? new Set();
  own.add(child);
  bridges.set(request.jail, own);
  for (let waited = 0; waited < 5_000; waited += 5) {
    if (existsSync(request.socketPath)) {
      child.unref();
      send({ id, done: true });
      return;
    }
    if (gone) break;
    await sleep(5);
  }
  child.kill('SIGKILL');
  fail(id, `the bridge to the app did not start: ${errors() || 'no socket'}`);
}

process.on('message', (request: SpawnerRequest) => {
  if (request.op === 'plain') plain(request);
  else if (request.op === 'jail') void jail(request);
  else void bridge(request);
});

// The data plane is gone: nothing is left to start anything for. Bridges go with it;
// jobs and jails end on their own, their lifeline (stdin) closed. Left running, this
// process would keep the data plane's stdout and stderr (it writes to them) open for
// whoever reads them, a supervisor waiting for their end included.
function dataPlaneGone(): void {
  for (const own of bridges.values()) for (const child of own) child.kill('SIGKILL');
  process.exit(0);
}
process.on('disconnect', dataPlaneGone);
// A data plane killed while this process was still loading its modules closed the channel
// before that listener was there: no event comes then. Linux hands an orphan to another
// parent, so a changed parent says it too, whenever it happens.
if (!process.connected) dataPlaneGone();
const dataPlanePid = process.ppid;
setInterval(() => {
  if (process.ppid !== dataPlanePid) dataPlaneGone();
}, 250).unref();
