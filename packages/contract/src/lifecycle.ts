import { Worker } from 'node:worker_threads';

/**
 * A service started by a supervisor (`sov dev`, a test run) with SOV_EXIT_WITH_PARENT=true
 * stops when that supervisor is gone, even when it was killed with SIGKILL and could not
 * stop its children itself: Linux hands an orphan to another parent, so a changed parent
 * pid says the supervisor died. Off by default: a service run by systemd or Kubernetes
 * has a parent that stays.
 */
export function stopWithParent(
  stop: (reason: string) => void,
  env: NodeJS.ProcessEnv = process.env,
  killAfterMs?: number,
): void {
  if (env.SOV_EXIT_WITH_PARENT !== 'true') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop('parent exited');
  }, 500);
  timer.unref();
  if (killAfterMs === undefined) return;
  // The same watch from a thread of its own: a main thread that is blocked (a synchronous
  // call into an embedded database, a write to a pipe nobody reads) never runs the timer
  // above, and the service would outlive its supervisor for good. This one kills it,
  // once the orderly stop has had its time.
  const watchdog = new Worker(
    `const { workerData } = process.getBuiltinModule('node:worker_threads');
     const timer = setInterval(() => {
       if (process.ppid === workerData.parent) return;
       clearInterval(timer);
       setTimeout(() => {
         process.getBuiltinModule('node:fs').writeSync(2, workerData.message);
         process.kill(workerData.pid, 'SIGKILL');
       }, workerData.ms);
     }, 500);`,
    {
      eval: true,
      execArgv: [],
      workerData: {
        pid: process.pid,
        parent,
        ms: killAfterMs,
        message: `parent exited ${killAfterMs} ms ago; killed\n`,
      },
    },
  );
  watchdog.unref();
}

/** How long after its deadline a stop whose thread is blocked is killed. */
const lastResortMs = 2_000;

/**
 * Kills this process after `ms`, from a thread of its own: a stop that blocks the main
 * thread (a synchronous close of an embedded database on a busy disk) would hold the
 * deadline's timer as well, and the service would outlive its supervisor. Unref'd: it
 * never keeps the process alive.
 */
function killAfter(ms: number, message: string): void {
  const watchdog = new Worker(
    // getBuiltinModule: the same code whether the process runs scripts or modules.
    `const { workerData } = process.getBuiltinModule('node:worker_threads');
     setTimeout(() => {
       process.getBuiltinModule('node:fs').writeSync(2, workerData.message);
       process.kill(workerData.pid, 'SIGKILL');
     }, workerData.ms);`,
    { eval: true, execArgv: [], workerData: { pid: process.pid, ms, message } },
  );
  watchdog.unref();
}

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
    killAfter(
      options.deadlineMs + lastResortMs,
      `still stopping ${options.deadlineMs + lastResortMs} ms after ${reason}; killed\n`,
    );
    void stop(reason);
  };
  process.on('SIGINT', () => once('SIGINT'));
  process.on('SIGTERM', () => once('SIGTERM'));
  stopWithParent(once, options.env, options.deadlineMs + lastResortMs);
}
