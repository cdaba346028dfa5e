/**
 * The peer's like-for-like task: a process started in the jail a Sovereign run gets, so the
 * peer pays what every run of ours pays for R9. bubblewrap with the data plane's own options
 * (jail/layout.ts: the same namespaces, read-only system, hidden secrets, /proc, /dev, a
 * sized /tmp, a home bound read-write) and a network of its own through slirp4netns with
 * the data plane's options. Left out, and so in the peer's favour: the cgroup (a
 * directory and a few writes), a host user id per run, and a jail made ahead of its job.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  bwrapArgs,
  jailGroup,
  jailLayout,
  jailPasswd,
  jailResolv,
  slirpOptions,
} from '../../packages/data-plane/src/launch/jail/layout.ts';
import { builtInLimits } from '../../packages/data-plane/src/launch/limits.ts';

const layout = jailLayout({ readOnly: [], ownPaths: [], node: process.execPath });
const tmpBytes = builtInLimits().defaults.tmpBytes;
const fds = { info: 3, block: 4, passwd: 5, group: 6, env: 7, resolv: 8, sync: 9 };

/** A jail bwrap could not set up (its own message, not the command's): tried again, as the data plane does. */
class JailSetupError extends Error {}
const setupAttempts = 6;

/**
 * What `command` (a shell command) wrote on stdout, run in a jail of its own that is gone
 * when this resolves. bwrap can fail to set a jail up for a moment under load (its netlink
 * request for the loopback address answered with an error): the data plane tries a jail
 * again then (jail/launcher.ts, makeAttempts), and so does the peer, with the same waits.
 */
export async function runJailed(command: string): Promise<string> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await runJailedOnce(command);
    } catch (error) {
      if (!(error instanceof JailSetupError) || attempt >= setupAttempts) throw error;
      await sleep(150 * 2 ** (attempt - 1));
    }
  }
}

async function runJailedOnce(command: string): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'peer-jail-'));
  const bwrap = spawn('bwrap', [...bwrapArgs({ layout, home, tmpBytes, fds }), '/bin/sh', '-c', command], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
  });
  // A descriptor bwrap closed while ours had data for it says so as an error: its exit tells.
  for (const stream of bwrap.stdio) stream?.on('error', () => {});
  let slirp: ChildProcess | undefined;
  try {
    const exited = ended(bwrap);
    const pipe = (fd: number) => bwrap.stdio[fd] as Readable & Writable;
    pipe(fds.passwd).end(jailPasswd);
    pipe(fds.group).end(jailGroup);
    pipe(fds.env).end();
    pipe(fds.resolv).end(jailResolv);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    pipe(1).on('data', (chunk: Buffer) => stdout.push(chunk));
    pipe(2).on('data', (chunk: Buffer) => stderr.push(chunk));
    const innerPid = await childPid(pipe(fds.info));
    if (innerPid === undefined) {
      const { code, signal } = await exited;
      const said = Buffer.concat(stderr).toString();
      if (said.startsWith('bwrap:')) throw new JailSetupError(`bwrap could not set the jail up: ${said}`);
      throw new Error(`bwrap ended (${code ?? signal ?? 'never started'}): ${said}`);
    }
    slirp = spawn('slirp4netns', [...slirpOptions, '--ready-fd=3', String(innerPid), 'tap0'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    const ready = slirp.stdio[3] as Readable;
    ready.on('error', () => {});
    const up = await Promise.race([once(ready, 'data').then(() => true), ended(slirp).then(() => false)]);
    if (!up) throw new Error('slirp4netns failed');
    // Its network is up: the job may start.
    pipe(fds.block).end('x');
    const { code, signal } = await exited;
    const said = Buffer.concat(stderr).toString();
    if (code !== 0 && said.startsWith('bwrap:')) throw new JailSetupError(`bwrap could not set the jail up: ${said}`);
    if (code !== 0) throw new Error(`the jailed task failed (${code ?? signal}): ${said}`);
    return Buffer.concat(stdout).toString();
  } finally {
    bwrap.kill('SIGKILL');
    slirp?.kill('SIGKILL');
    for (const stream of bwrap.stdio) stream?.destroy();
    await rm(home, { recursive: true, force: true });
  }
}

/** How a child ended; a child that could not be started (no such program) ends with a code of null. */
function ended(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
}

/**
 * The pid of the jail's first process, from bwrap's info descriptor (undefined when bwrap
 * ended, or never started, before it said). The descriptor is read
 * on to its end, never closed early: bwrap writes the rest of its JSON after the pid, and
 * would die of SIGPIPE.
 */
function childPid(info: Readable): Promise<number | undefined> {
  return new Promise((resolve) => {
    let text = '';
    info.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const pid = /"child-pid"\s*:\s*(\d+)/.exec(text)?.[1];
      if (pid !== undefined) resolve(Number(pid));
    });
    // bwrap ended before it started the jail.
    info.on('close', () => resolve(undefined));
  });
}
