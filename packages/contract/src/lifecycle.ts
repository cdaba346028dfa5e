/**
 * A service started by a supervisor (`sov dev`, a test run) with SOV_EXIT_WITH_PARENT=true
 * stops when that supervisor is gone, even when it was killed with SIGKILL and could not
 * stop its children itself: Linux hands an orphan to another parent, so a changed parent
 * pid says the supervisor died. Off by default: a service run by systemd or Kubernetes
 * has a parent that stays.
 */
export function stopWithParent(stop: (reason: string) => void, env: NodeJS.ProcessEnv = process.env): void {
  if (env.SOV_EXIT_WITH_PARENT !== 'true') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop('parent exited');
  }, 500);
  timer.unref();
}

/**
 * Stops a service once, whichever comes first: SIGINT, SIGTERM, or (with
 * SOV_EXIT_WITH_PARENT=true) the end of its supervisor. A second signal while it stops
 * changes nothing: what is closing is left to finish.
 */
export function stopOnSignals(stop: (reason: string) => Promise<void>, env: NodeJS.ProcessEnv = process.env): void {
  let stopping = false;
  const once = (reason: string) => {
    if (stopping) return;
    stopping = true;
    void stop(reason);
  };
  process.on('SIGINT', () => once('SIGINT'));
  process.on('SIGTERM', () => once('SIGTERM'));
  stopWithParent(once, env);
}
