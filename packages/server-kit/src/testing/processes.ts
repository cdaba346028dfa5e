import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * The first of `count` consecutive ports that were free a moment ago on loopback. The block is
 * chosen below the kernel's ephemeral range (32768 and up on Linux): a port there is never taken
 * by another test's outgoing connection or by a `listen(0)`, which is what took `sov dev`'s
 * second port in CI when its block was picked next to an ephemeral port.
 */
export async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * (32_000 - 20_000 - count));
    if (await allFree(first, count)) return first;
  }
  throw new Error(`no ${count} consecutive free ports below 32000`);
}

async function allFree(first: number, count: number): Promise<boolean> {
  for (let port = first; port < first + count; port++) {
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      server.close();
      await once(server, 'close');
    } else return false;
  }
  return true;
}

/** A port that was free a moment ago on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A service started as a real process, with what it printed. */
export interface Service {
  readonly process: ChildProcess;
  readonly url: string;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /** Sends a signal and waits for the exit; resolves to the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** Resolves when the process exits by itself. */
  exited: Promise<number | string>;
}

export interface StartOptions {
  /** Arguments to `node` (the script first). */
  args: string[];
  env: Record<string, string | undefined>;
  /** Base URL of the service; `${url}/readyz` must answer 200 before start resolves. */
  url: string;
  timeoutMs?: number;
  cwd?: string;
  /**
   * A command `node` is started through, such as `nsenter --net=...` (another network). It
   * must exec node in its place, so that the process signalled is node itself.
   */
  through?: string[];
  /** Options to `node` before the script: `testNodeFlags` unless given (the benches give none: they measure what runs in production). */
  nodeFlags?: readonly string[];
}

/**
 * V8 flags of every service a test starts. `--liftoff-only`: PGlite's WebAssembly is run by
 * V8's baseline compiler alone. By default V8 compiles its hot functions a second time,
 * optimized, in the first few thousand queries: about 2.5 s of CPU in every process that
 * opens PGlite, which a service living for one test never earns back (it pays a fifth
 * more per query afterwards, measured in docs/performance.md). Suites run four files at
 * once on two cores in CI: their services' CPU is their time. Services on PostgreSQL run
 * no WebAssembly: the flag changes nothing for them. Tests that open PGlite in their own
 * process run thousands of queries and keep the default.
 */
const testNodeFlags: readonly string[] = ['--liftoff-only'];

/** Starts `node ...args` (the Node running this test) and waits until it is ready. */
export async function startService(options: StartOptions): Promise<Service> {
  const [command, ...args] = [
    ...(options.through ?? []),
    process.execPath,
    ...(options.nodeFlags ?? testNodeFlags),
    ...options.args,
  ] as [string, ...string[]];
  const child = spawn(command, args, {
    cwd: options.cwd,
    // A test runner killed outright must not leave its services running.
    env: { ...process.env, SOV_EXIT_WITH_PARENT: 'true', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let printed = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    printed += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    printed += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
      // A process it left behind (an orphan holding its stdout or stderr) must not keep this
      // test process alive, waiting for output that never ends: what is left is read for a
      // moment, then let go.
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, 2_000).unref();
    });
  });
  const service: Service = {
    process: child,
    url: options.url,
    output: () => printed,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      // A service that does not stop in time is killed: a test never hangs on it.
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(force);
      }
    },
  };
  // SOV_TEST_START_TIMEOUT_MS: a machine busy with other suites starts services slower.
  const deadline = Date.now() + (options.timeoutMs ?? (Number(process.env.SOV_TEST_START_TIMEOUT_MS) || 60_000));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done) {
    try {
      const response = await fetch(`${options.url}/readyz`);
      if (response.ok) return service;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await service.stop('SIGKILL');
      throw new Error(`service at ${options.url} not ready in time; it printed:\n${printed}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`service exited before it was ready (${await exited}); it printed:\n${printed}`);
}
