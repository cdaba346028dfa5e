/**
 * One graphile-worker process, forked by peers/graphile.ts: it runs the peer's tasks and
 * tells its parent over IPC when each task started (the stamp taken inside the task, or
 * by the process the task spawned) and when each job succeeded.
 */
import { execFile } from 'node:child_process';
import { Logger, run, type Task } from 'graphile-worker';
import { nsTextToMs, realtimeMs } from '../lib/clock.ts';
import { runJailed } from './jail.ts';

const send = (message: Record<string, unknown>) => process.send?.(message);

const taskList: Record<string, Task> = {
  /** Does nothing: the peer's own dispatch cost alone. */
  noop: async (payload) => {
    send({ type: 'start', id: (payload as { id: string }).id, at: realtimeMs() });
  },
  /** Starts a process as our jobs do (a shell that runs a command) and waits for it. */
  spawn: async (payload) => {
    const stamp = await new Promise<string>((resolve, reject) =>
      execFile('/bin/sh', ['-c', 'date +%s%N'], (error, stdout) => (error ? reject(error) : resolve(stdout))),
    );
    send({ type: 'start', id: (payload as { id: string }).id, at: nsTextToMs(stamp) });
  },
  /** Starts the same process in the jail a Sovereign run gets (peers/jail.ts) and waits for it. */
  jail: async (payload) => {
    const stamp = await runJailed('date +%s%N');
    send({ type: 'start', id: (payload as { id: string }).id, at: nsTextToMs(stamp) });
  },
};

const runner = await run({
  connectionString: process.env.GW_DATABASE_URL,
  concurrency: Number(process.env.GW_CONCURRENCY ?? 1),
  noHandleSignals: true,
  logger: new Logger(() => () => {}),
  taskList,
});
runner.events.on('job:success', ({ job }) => {
  send({ type: 'done', id: (job.payload as { id: string }).id, at: realtimeMs() });
});
// graphile-worker would retry it later, and the bench wait for it: a measurement with a
// failed task is void, said at once.
runner.events.on('job:error', ({ job, error }) => {
  send({ type: 'failed', id: (job.payload as { id: string }).id, error: String(error) });
});
process.on('disconnect', () => {
  void runner.stop().finally(() => process.exit(0));
});
send({ type: 'ready' });
