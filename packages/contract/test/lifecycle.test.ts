import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const lifecycle = fileURLToPath(new URL('../src/lifecycle.ts', import.meta.url));

/**
 * A service's stop, in a real process: it runs `stop` once per signal burst, and a stop
 * that never ends is cut off at its deadline, so no service outlives its supervisor for
 * good (a supervisor that died sends no SIGKILL after its SIGTERM).
 */
async function service(
  stop: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }> {
  const script = `
    import { stopOnSignals } from ${JSON.stringify(lifecycle)};
    setInterval(() => {}, 1000); // a server, keeping the process alive
    stopOnSignals(async (reason) => { console.log('stopping on ' + reason); ${stop} }, { deadlineMs: 300 });
    console.log('ready');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('ready\n') && !stdout.includes('stopping')) {
      child.kill('SIGTERM');
      child.kill('SIGINT');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // Without its deadline a hung stop runs forever: the test ends it, and says so.
  const guard = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(guard);
  return { code, signal, stderr, stdout };
}

describe('a service stops once, and never for longer than its deadline', () => {
  it('exits as its stop says, having stopped once for two signals', async () => {
    const { code, stdout } = await service('process.exit(0);');
    assert.equal(code, 0);
    assert.equal(stdout.match(/stopping on/g)?.length, 1, stdout);
  });

  it('exits with 1 and says why when its stop never ends', async () => {
    const { code, stderr } = await service('await new Promise(() => {});');
    assert.equal(code, 1, 'a stop that hangs is cut off');
    assert.match(stderr, /still stopping 300 ms after SIG(TERM|INT); exiting now/);
  });

  it('is killed, and says so, when its stop blocks its thread past the deadline', async () => {
    // A synchronous close that does not end: the deadline's timer never gets to run.
    const { signal, stderr } = await service('for (;;) {}');
    assert.equal(signal, 'SIGKILL', `ended by ${signal}: ${stderr}`);
    assert.match(stderr, /still stopping 2300 ms after SIG(TERM|INT); killed/);
  });

  it('is killed when its supervisor dies while its thread is blocked', async () => {
    const script = `
      import { stopOnSignals } from ${JSON.stringify(lifecycle)};
      stopOnSignals(async () => {}, { deadlineMs: 300, env: { SOV_EXIT_WITH_PARENT: 'true' } });
      console.log('ready');
      setTimeout(() => { for (;;) {} }, 200); // blocked before its supervisor goes
    `;
    // The supervisor: a shell that starts the service and waits for it.
    const supervisor = spawn('sh', ['-c', '"$NODE" --input-type=module -e "$SCRIPT" & echo $!; wait'], {
      env: { ...process.env, NODE: process.execPath, SCRIPT: script },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    supervisor.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 20));
    const pid = Number(out.split('\n')[0]);
    await new Promise((r) => setTimeout(r, 400)); // its thread is spinning now
    supervisor.kill('SIGKILL');
    // Ended (or a zombie nobody reaped yet) within its deadline, the last resort and a poll.
    const running = () => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 8_000;
    while (running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const left = running();
    if (left) process.kill(pid, 'SIGKILL');
    assert.equal(left, false, 'the service outlived its supervisor');
  });
});
