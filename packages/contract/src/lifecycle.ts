import { Worker } from 'node:worker_threads';

/**
 * A service started by a supervisor (`sov dev`, a test run) with SOV_EXIT_WITH_PARENT=true
 * stops when that supervisor is gone, even when it was killed with SIGKILL and could not
 * stop its children itself: Linux hands an orphan to another parent, so a changed parent
 * pid says the supervisor died. Off by default: a service run by systemd or Kubernetes
 * has a parent that stays. With `watchdog`, its thread watches too (see Watchdog).
 */
export function stopWithParent(
  stop: (reason: string) => void,
  env: NodeJS.ProcessEnv = process.env,
  watchdog?: Watchdog,
): void {
  if (env.SOV_EXIT_WITH_PARENT !== 'true') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop('parent exited');
  }, 500);
  timer.unref();
  watchdog?.watchParent(parent);
}

/**
 * A thread of the service's own that kills it with SIGKILL when its main thread cannot
 * stop it: a main thread that is blocked (a synchronous close of an embedded database on
 * a busy disk, a write to a pipe nobody reads) runs neither the stop's deadline timer nor
 * the parent watch's, and the service would outlive its supervisor for good. Armed when a
 * stop begins, or when the watched parent is gone; it kills `ms` later, saying why on
 * stderr. Unref'd: it never keeps the process alive. It sees the 'exit' listeners run but
 * not Node's own teardown after them, which stops every worker first: a process that must
 * end whatever happens leaves no 'exit' listener that can wait (see `logDestination`).
 */
export class Watchdog {
  readonly #worker: Worker;

  constructor(ms: number) {
    this.#worker = new Worker(
      // getBuiltinModule: the same code whether the process runs scripts or modules.
      `const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads');
       let armed = false;
       const kill = () => process.kill(workerData.pid, 'SIGKILL');
       const arm = (message) => {
         if (armed) return;
         armed = true;
         setTimeout(() => {
           // Say why, but never let the saying stop the kill: stderr may be a pipe whose
           // reader died with the supervisor (the write fails) or stopped reading (it blocks).
           process.getBuiltinModule('node:fs').write(2, message, kill);
           setTimeout(kill, 100);
         }, workerData.ms);
       };
       parentPort.on('message', (order) => {
         if (order.arm !== undefined) arm(order.arm);
         if (order.parent === undefined) return;
         const timer = setInterval(() => {
           if (process.ppid === order.parent) return;
           clearInterval(timer);
           arm(\`parent exited \${workerData.ms} ms ago; killed\\n\`);
         }, 500);
       });`,
      { eval: true, execArgv: [], workerData: { pid: process.pid, ms } },
    );
    this.#worker.unref();
  }

  /** A stop began: the service is killed `ms` from now unless it has exited by then. */
  arm(reason: string): void {
    this.#worker.postMessage({ arm: `still stopping ${reason}; killed\n` });
  }

  /** Kills the service `ms` after its parent `parent` is gone. */
  watchParent(parent: number): void {
    this.#worker.postMessage({ parent });
  }
}

/** How long after its deadline a stop whose thread is blocked is killed. */
const lastResortMs = 2_000;

/**
 * Stops a service once, whichever comes first: SIGINT, SIGTERM, or (with
 * SOV_EXIT_WITH_PARENT=true) the end of its supervisor. A second signal while it stops
 * changes nothing: what is closing is left to finish.
 *
 * The stop is bounded: a service still stopping after `deadlineMs` says so on stderr and
 * exits with status 1. A supervisor that died sends no SIGKILL after its SIGTERM, as
 * systemd or Kubernetes would: without a bound, one close that never ends (a query, a
 * connection) would leave the service running with nobody to stop it.
 */
export function stopOnSignals(
  stop: (reason: string) => Promise<void>,
  options: { deadlineMs: number; env?: NodeJS.ProcessEnv },
): void {
  let stopping = false;
  const once = (reason: string) => {
    if (stopping) return;
    stopping = true;
    // Unref'd: a stop that ends sooner is not held up by it.
    setTimeout(() => {
      process.stderr.write(`still stopping ${options.deadlineMs} ms after ${reason}; exiting now\n`);
      process.exit(1);
    }, options.deadlineMs).unref();
    watchdog.arm(`${options.deadlineMs + lastResortMs} ms after ${reason}`);
    void stop(reason);
  };
  const watchdog = new Watchdog(options.deadlineMs + lastResortMs);
  process.on('SIGINT', () => once('SIGINT'));
  process.on('SIGTERM', () => once('SIGTERM'));
  stopWithParent(once, options.env, watchdog);
}
