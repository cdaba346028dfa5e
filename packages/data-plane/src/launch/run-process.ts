import type { Socket } from 'node:net';
import type { AppReadiness, LaunchedRun, LimitHit, ProcessEnding } from './launcher.ts';
import type { Spawned } from './spawner.ts';

/** What differs between launchers once a run's supervisor is started: how to reach its processes. */
export interface RunControl {
  /** Sends `signal` to every process of the run. */
  signal(signal: NodeJS.Signals): void;
  /** Once the run has ended: the limits it hit. */
  limitsHit(): Promise<LimitHit[]>;
  /** Waits until an interactive job's app listens on `port`, the run ends (`exited`), or the timeout passes. */
  waitForApp(port: number, timeoutMs: number, exited: Promise<unknown>): Promise<AppReadiness>;
  /** Called once the command was let go. */
  afterGo?: () => void;
}

/** A run's process tree under its supervisor shell (supervisor.ts): started, watched, and stopped as one. */
export class RunProcess implements LaunchedRun {
  readonly pid: number;
  readonly stdout: Socket;
  readonly stderr: Socket;
  readonly exited: Promise<ProcessEnding>;
  readonly #stdin: Socket;
  readonly #control: RunControl;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(spawned: Spawned, control: RunControl) {
    this.pid = spawned.pid;
    this.stdout = spawned.stdout;
    this.stderr = spawned.stderr;
    this.#stdin = spawned.stdin;
    this.#control = control;
    // Held open after the go line (its end tells the supervisor that we are gone); the
    // exit status comes back on it, and the run is looked at before the supervisor is let go.
    this.exited = settle(spawned.stdin, control).then((ending) => {
      if (this.#killTimer !== undefined) clearTimeout(this.#killTimer);
      return ending;
    });
  }

  go(): void {
    this.#stdin.write('go\n');
    this.#control.afterGo?.();
  }

  terminate(graceMs: number): void {
    this.#control.signal('SIGTERM');
    this.#killTimer ??= setTimeout(() => this.#control.signal('SIGKILL'), graceMs);
  }

  kill(): void {
    this.#control.signal('SIGKILL');
  }

  waitForApp(port: number, timeoutMs: number): Promise<AppReadiness> {
    return this.#control.waitForApp(port, timeoutMs, this.exited);
  }
}

/**
 * How the run ended: the exit status the supervisor writes back on its stdin as it ends,
 * then the limits the run hit, read while the supervisor waits for our answer (its jail
 * still stands), then the answer; it resolves once the socket has closed: every process
 * that held it (the supervisor, and a jail's own processes) has ended. The exit status is
 * null if none came (the supervisor was killed).
 */
function settle(socket: Socket, control: RunControl): Promise<ProcessEnding> {
  return new Promise((resolve) => {
    let text = '';
    let exitCode: number | null = null;
    let limitsHit: Promise<LimitHit[]> | undefined;
    const look = () => {
      limitsHit ??= control.limitsHit().catch(() => []);
      return limitsHit;
    };
    const closed = () => {
      socket.destroy();
      void look().then((hits) => resolve({ exitCode, limitsHit: hits }));
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      // The status line is short: anything past it is not ours to keep.
      if (text.length >= 16 || limitsHit !== undefined) return;
      text += chunk;
      const code = /^(\d{1,3})\n/.exec(text)?.[1];
      if (code === undefined) return;
      exitCode = Number(code);
      void look().then(() => {
        if (!socket.destroyed) socket.write('bye\n');
      });
    });
    socket.once('end', closed);
    socket.once('close', closed);
    socket.on('error', () => {});
  });
}

/** Signals a process group, if it is still there. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}
