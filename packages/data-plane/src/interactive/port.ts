import { connect, createServer } from 'node:net';

/** The loopback addresses an app may listen on, tried in this order. */
const loopbackHosts = ['127.0.0.1', '::1'] as const;
export type LoopbackHost = (typeof loopbackHosts)[number];

/**
 * A TCP port free on loopback right now, for an interactive job's `PORT`. The kernel
 * picks it; another process could take it before the job binds it, in which case the
 * job fails to start and says so in its own log.
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port was assigned'));
      });
    });
  });
}

/** Whether something accepts TCP connections at host:port (connects, then hangs up). */
export function answers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export type Readiness = { ready: true; host: LoopbackHost } | { ready: false; why: 'exited' | 'timeout' };

/**
 * Waits until the job's port answers on loopback (IPv4, or IPv6 for an app bound to
 * `::1` only), its process ends first, or the start timeout passes.
 */
export async function waitForPort(
  port: number,
  options: { exited: Promise<unknown>; timeoutMs: number; intervalMs?: number },
): Promise<Readiness> {
  let exited = false;
  void options.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + options.timeoutMs;
  let pause = options.intervalMs ?? 50;
  for (;;) {
    for (const host of loopbackHosts) {
      if (exited) return { ready: false, why: 'exited' };
      if (await answers(host, port)) return { ready: true, host };
    }
    if (exited) return { ready: false, why: 'exited' };
    if (Date.now() >= deadline) return { ready: false, why: 'timeout' };
    // Quick at first (most apps are up in well under a second), then gentler.
    await Promise.race([new Promise((r) => setTimeout(r, pause)), options.exited]);
    pause = Math.min(500, pause * 2);
  }
}
