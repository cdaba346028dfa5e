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
    // The pipe is only held open (after the go line): its end tells the supervisor that we are gone.
    this.#stdin.on('error', () => {});
    this.exited = readStatus(spawned.status).then((exitCode) => {
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

/** The exit status the supervisor writes on its status pipe as it ends; null if it died without writing one. */
function readStatus(status: Socket): Promise<number | null> {
  return new Promise((resolve) => {
    let text = '';
    status.setEncoding('utf8');
    status.on('data', (chunk: string) => {
      text += chunk;
    });
    const done = () => {
      status.destroy();
      const code = /^(\d{1,3})\n$/.exec(text)?.[1];
      resolve(code === undefined ? null : Number(code));
    };
    status.once('end', done);
    status.once('close', done);
    status.on('error', () => {});
  });
}
