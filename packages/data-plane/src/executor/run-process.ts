import { type ChildProcess, spawn } from 'node:child_process';
import { supervisorScript } from './supervisor.ts';

export interface ProcessOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/** A job's process group: started, watched, and stopped as one. */
export class RunProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ProcessOutcome>;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(command: string, options: { cwd: string; env: Record<string, string> }) {
    this.child = spawn('/bin/sh', ['-c', supervisorScript], {
      cwd: options.cwd,
      env: { ...options.env, SOV_COMMAND: command },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // The pipe is only held open: its end tells the supervisor that we are gone.
    this.child.stdin?.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.on('close', (exitCode, signal) => {
        if (this.#killTimer !== undefined) clearTimeout(this.#killTimer);
        resolve({ exitCode, signal });
      });
      this.child.on('error', () => resolve({ exitCode: null, signal: null }));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  #signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
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
