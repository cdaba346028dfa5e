import type { Socket } from 'node:net';
import type { Spawned, Spawner } from './spawner.ts';

export interface ProcessOutcome {
  /** The command's exit status, as its supervisor saw it; null when the supervisor itself was killed. */
  exitCode: number | null;
}

/** A job's process group: started, watched, and stopped as one. */
export class RunProcess {
  readonly pid: number;
  readonly stdout: Socket;
  readonly stderr: Socket;
  readonly exited: Promise<ProcessOutcome>;
  readonly #stdin: Socket;
  #killTimer: NodeJS.Timeout | undefined;

  private constructor(spawned: Spawned) {
    this.pid = spawned.pid;
    this.stdout = spawned.stdout;
    this.stderr = spawned.stderr;
    this.#stdin = spawned.stdin;
    // Held open after the go line (its end tells the supervisor that we are gone); the exit status comes back on it.
    this.exited = readStatus(spawned.stdin).then((exitCode) => {
      if (this.#killTimer !== undefined) clearTimeout(this.#killTimer);
      return { exitCode };
    });
  }

  /** Starts the job's supervisor; the command itself waits for go(). */
  static async start(
    spawner: Spawner,
    command: string,
    options: { cwd: string; env: Record<string, string> },
  ): Promise<RunProcess> {
    return new RunProcess(await spawner.spawn(command, options));
  }

  /** Lets the command start: call it once its output is being read. */
  go(): void {
    this.#stdin.write('go\n');
  }

  #signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM to the group, then SIGKILL after the grace period. */
  terminate(graceMs: number): void {
    this.#signalGroup('SIGTERM');
    this.#killTimer ??= setTimeout(() => this.#signalGroup('SIGKILL'), graceMs);
  }

  kill(): void {
    this.#signalGroup('SIGKILL');
  }
}

/**
 * The exit status the supervisor writes back on its stdin as it ends (the line is the
 * last thing it does); null if it died without writing one.
 */
function readStatus(socket: Socket): Promise<number | null> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      socket.destroy();
      const code = /^(\d{1,3})\n$/.exec(text)?.[1];
      resolve(code === undefined ? null : Number(code));
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.endsWith('\n')) done();
    });
    socket.once('end', done);
    socket.once('close', done);
    socket.on('error', () => {});
  });
}
