import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import type { SpawnRequest } from './spawner.ts';
import { supervisorScript } from './supervisor.ts';

/**
 * The spawner: a small process the data plane starts once and asks to start each job's
 * supervisor shell. A fork copies the page tables of the process that forks, so a fork
 * of this process costs about a millisecond where one of the data plane (with PGlite's
 * heap in it) costs ten or more. The pipes of each shell are handed to the data plane
 * over IPC and closed here: the data plane alone holds them, supervision pipe included.
 */
process.on('message', (message: SpawnRequest) => {
  const { id, command, cwd, env } = message;
  const fail = (error: unknown) =>
    process.send?.({ id, error: error instanceof Error ? error.message : String(error) });
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn('/bin/sh', ['-c', supervisorScript], {
      cwd,
      env: { ...env, SOV_COMMAND: command },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    fail(error);
    return;
  }
  const { pid } = child;
  if (pid === undefined) {
    child.once('error', fail);
    return;
  }
  const streams = ['stdin', 'stdout', 'stderr'] as const;
  for (const [fd, stream] of streams.entries()) {
    process.send?.({ id, pid, stream }, child.stdio[fd] as Socket);
  }
  // Reaped here when it ends; how it ended travels back on its stdin socket.
  child.unref();
});

// The data plane is gone: nothing is left to start jobs for.
process.on('disconnect', () => process.exit(0));
