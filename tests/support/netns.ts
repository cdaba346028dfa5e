import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A network of its own for a process, as another host would have: a network namespace
 * joined to this one by a veth pair (`10.231.x.y/30`). Inside, it reaches only what this
 * test forwards to it (`reach`): the services on this machine's loopback are not its
 * loopback. Needs root, `ip` (iproute2), `unshare` and `nsenter` (util-linux).
 *
 * The namespace is held by a process of its own (`unshare --net sleep`), not named under
 * /run/netns: a name there is a mount, which another mount namespace sharing /run's
 * propagation (a test's jail) can take away, and with it every later entry.
 */
export interface OtherHost {
  /** Its own address, where it listens and this test reaches it. */
  readonly address: string;
  /** A command prefix that starts a process inside (it execs the process: no parent of its own). */
  readonly exec: string[];
  /**
   * A URL the host reaches `url` (on this machine's loopback) at: a TCP forwarder on this
   * side's address of the pair, on a port of its own. Same scheme, user and path.
   */
  reach(url: string): Promise<string>;
  close(): Promise<void>;
}

/** Why another host cannot be made here, or undefined when it can. */
export async function otherHostUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    for (const tool of [
      ['ip', '-V'],
      ['unshare', '--version'],
      ['nsenter', '--version'],
    ] as const) {
      await run(tool[0], [tool[1]]);
    }
    return undefined;
  } catch (error) {
    return `no network namespaces here: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export async function startOtherHost(): Promise<OtherHost> {
  const id = randomBytes(4).toString('hex');
  // A /30 in 10.231.0.0/16: a subnet nothing else on this machine is expected to use.
  const third = randomInt(0, 256);
  const fourth = randomInt(0, 64) * 4;
  const outside = `10.231.${third}.${fourth + 1}`;
  const inside = `10.231.${third}.${fourth + 2}`;
  const [hostEnd, nsEnd] = [`sv${id}a`, `sv${id}b`];
  // An hour at most: a test process killed outright leaves no namespace for long.
  const holder = spawn('unshare', ['--net', '--', 'sleep', '3600'], { stdio: 'ignore' });
  holder.unref();
  await once(holder, 'spawn');
  const pid = holder.pid as number;
  const netns = `/proc/${pid}/ns/net`;
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    for (const server of servers) server.close();
    // The namespace goes with its last process, and its end of the pair with it, and so the pair.
    holder.kill('SIGKILL');
    await run('ip', ['link', 'del', hostEnd]).catch(() => {});
  };
  try {
    // unshare has made the namespace once its own net link differs from ours.
    const ours = await run('readlink', ['/proc/self/ns/net']);
    for (let i = 0; i < 100; i++) {
      const theirs = await run('readlink', [netns]).catch(() => ({ stdout: ours.stdout }));
      if (theirs.stdout !== ours.stdout) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const inNs = (args: string[]) => run('nsenter', [`--net=${netns}`, '--', 'ip', ...args]);
    await run('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', nsEnd]);
    await run('ip', ['link', 'set', nsEnd, 'netns', String(pid)]);
    await run('ip', ['addr', 'add', `${outside}/30`, 'dev', hostEnd]);
    await run('ip', ['link', 'set', hostEnd, 'up']);
    await inNs(['addr', 'add', `${inside}/30`, 'dev', nsEnd]);
    await inNs(['link', 'set', nsEnd, 'up']);
    await inNs(['link', 'set', 'lo', 'up']);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    address: inside,
    exec: ['nsenter', `--net=${netns}`, '--'],
    async reach(url: string) {
      const target = new URL(url);
      const [host, port] = [target.hostname, Number(target.port)];
      const server = createServer((socket) => {
        const upstream = tcpConnect(port, host);
        for (const s of [socket, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          // One side gone (a process killed outright): the other goes too.
          s.on('error', () => {
            socket.destroy();
            upstream.destroy();
          });
        }
        socket.pipe(upstream).pipe(socket);
      });
      server.listen(0, outside);
      await once(server, 'listening');
      servers.push(server);
      target.hostname = outside;
      target.port = String((server.address() as AddressInfo).port);
      return target.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
    },
    close,
  };
}
