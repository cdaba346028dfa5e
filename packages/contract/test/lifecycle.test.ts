import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
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

  for (const output of ['inherited', 'piped'] as const) {
    it(`is killed when its supervisor dies while its thread is blocked (output ${output})`, async () => {
      const script = `
        import { stopOnSignals } from ${JSON.stringify(lifecycle)};
        stopOnSignals(async () => {}, { deadlineMs: 300, env: { SOV_EXIT_WITH_PARENT: 'true' } });
        console.log('ready');
        setTimeout(() => { for (;;) {} }, 200); // blocked before its supervisor goes
      `;
      const { pid, supervisor } = await startSupervised(script, output);
      await new Promise((r) => setTimeout(r, 400)); // its thread is spinning now
      supervisor.kill('SIGKILL');
      assert.equal(await outlives(pid, 8_000), false, 'the service outlived its supervisor');
    });
  }
});

/**
 * Starts `script` under a supervisor; resolves once the service printed `ready`. `inherited`: a shell, the service's output
 * going where the shell's went (still read). `piped`: like sov dev, a Node process
 * holding the only reader of the service's stdout and stderr, which die with it.
 */
async function startSupervised(
  script: string,
  output: 'inherited' | 'piped',
): Promise<{ pid: number; supervisor: ChildProcess }> {
  const node = `
    const { spawn } = require('node:child_process');
    const child = spawn(process.execPath, ['--input-type=module', '-e', process.env.SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk) => { if (String(chunk).includes('ready')) console.log(child.pid); });
    child.stderr.resume();
  `;
  const supervisor =
    output === 'inherited'
      ? spawn('sh', ['-c', '"$NODE" --input-type=module -e "$SCRIPT" & echo $!; wait'], {
          env: { ...process.env, NODE: process.execPath, SCRIPT: script },
          stdio: ['ignore', 'pipe', 'inherit'],
        })
      : spawn(process.execPath, ['-e', node], {
          env: { ...process.env, SCRIPT: script },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
  let out = '';
  supervisor.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  // The shell prints the pid first and the service 'ready'; the Node supervisor the pid once ready.
  const ready = () => (output === 'inherited' ? out.includes('ready') : /^\d+\n/.test(out));
  while (!ready()) await new Promise((r) => setTimeout(r, 20));
  return { pid: Number(out.split('\n')[0]), supervisor };
}

/** Whether `pid` still runs after `ms` (a zombie nobody reaped yet has ended); killed if so. */
async function outlives(pid: number, ms: number): Promise<boolean> {
  const running = () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + ms;
  while (running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const left = running();
  if (left) process.kill(pid, 'SIGKILL');
  return left;
}
