import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const server = fileURLToPath(new URL('../src/http/index.ts', import.meta.url));
const contract = import.meta.resolve('@sovereign/contract');

/**
 * A service whose stdout and stderr are pipes to a supervisor that died (sov dev killed
 * outright): every log line it writes fails. Its stop, logging as it goes up to the end,
 * must still end with the exit it asks for; before, the logger's 'exit' flush retried
 * the failed write forever and the process stayed, for good, in its exit.
 */
describe('a service’s logs', () => {
  it('never keep it from exiting when their reader is gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sov-log-destination-'));
    const status = join(dir, 'status');
    const service = `
      import { createHttpServer } from ${JSON.stringify(server)};
      import { stopOnSignals } from ${JSON.stringify(contract)};
      const app = createHttpServer({ service: 'test', logger: { level: 'info' }, ready: async () => true });
      await app.listen({ host: '127.0.0.1', port: 0 });
      stopOnSignals(async () => {
        for (let i = 0; i < 50; i++) app.log.info({ i }, 'closing');
        await app.close();
        app.log.info('stopped');
        process.exit(0);
      }, { deadlineMs: 300 });
      console.log('ready ' + process.pid);
    `;
    // The supervisor: a Node process holding the only reader of the service's output. A
    // shell between them keeps the service's exit status for the test (its own stderr set
    // aside: it would die of SIGPIPE saying "Killed" on the broken pipe).
    const supervisor = spawn(
      process.execPath,
      [
        '-e',
        `const child = require('node:child_process').spawn('sh', ['-c', process.env.SHELL_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
         child.stdout.on('data', (chunk) => process.stdout.write(chunk));
         child.stderr.resume();`,
      ],
      {
        env: {
          ...process.env,
          SHELL_SCRIPT:
            'exec 3>&2 2>/dev/null; ("$NODE" --input-type=module -e "$SCRIPT" 2>&3 3>&-); echo $? > "$STATUS"',
          NODE: process.execPath,
          SCRIPT: service,
          STATUS: status,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    supervisor.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    try {
      while (!/ready \d+/.test(out)) await new Promise((r) => setTimeout(r, 20));
      const pid = Number(out.match(/ready (\d+)/)?.[1]);
      supervisor.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
      process.kill(pid, 'SIGTERM');
      // Its deadline is 300 ms and its watchdog kills (status 137) 2 s after: 8 s is plenty.
      const deadline = Date.now() + 8_000;
      let code: string | undefined;
      while (code === undefined && Date.now() < deadline) {
        code = await readFile(status, 'utf8').then(
          (text) => text.trim(),
          () => undefined,
        );
        if (code === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      if (code === undefined) process.kill(pid, 'SIGKILL');
      assert.equal(code, '0', 'the service exits as its stop says, with status 0');
    } finally {
      supervisor.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
