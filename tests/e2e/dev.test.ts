import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '@sovereign/protocol/testing';

const sov = fileURLToPath(new URL('../../packages/cli/src/bin/sov.ts', import.meta.url));

/** `npm start` runs `sov dev`: the whole platform on PGlite, kept across restarts. */
describe('npm start (sov dev), real processes [pglite]', () => {
  let home: string;
  let port: number;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'sov-dev-'));
    port = await freePort();
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  async function run(check: (printed: string) => Promise<void>) {
    const child = spawn(process.execPath, [sov, 'dev'], {
      env: { ...process.env, SOV_HOME: home, SOV_PORT: String(port), SOV_PASSWORD_COST_LOG2: '12' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let printed = '';
    child.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
    const deadline = Date.now() + 90_000;
    while (!printed.includes('Stop with Ctrl-C') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
    }
    try {
      assert.match(printed, /Sovereign is running/, printed);
      await check(printed);
    } finally {
      child.kill('SIGINT');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0, 'Ctrl-C stops everything cleanly');
    }
    for (const offset of [0, 1, 2]) {
      await assert.rejects(fetch(`http://127.0.0.1:${port + offset}/healthz`), 'no service is left running');
    }
    return printed;
  }

  it('starts a control plane and data planes us-1 and eu-1, and keeps them across a restart', async () => {
    let firstPlanes = '';
    const first = await run(async () => {
      for (const offset of [0, 1, 2]) {
        assert.equal((await fetch(`http://127.0.0.1:${port + offset}/readyz`)).status, 200);
      }
      firstPlanes = await readFile(join(home, 'dev.json'), 'utf8');
    });
    assert.match(first, /data plane us-1 .*region us/);
    assert.match(first, /data plane eu-1 .*region eu/);
    assert.match(first, /generated; saved in/);
    const password = (await readFile(join(home, 'admin-password'), 'utf8')).trim();
    assert.equal((await stat(join(home, 'admin-password'))).mode & 0o777, 0o600);
    assert.ok(first.includes(password), 'the generated password is printed once');

    await run(async () => {
      assert.equal(await readFile(join(home, 'dev.json'), 'utf8'), firstPlanes, 'the same data planes are reused');
      const login = await fetch(`http://127.0.0.1:${port}/api/public/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'admin@localhost', password }),
      });
      assert.equal(login.status, 200, 'the administrator survives a restart');
      const { accessToken } = (await login.json()) as { accessToken: string };
      const planes = (await (
        await fetch(`http://127.0.0.1:${port}/api/public/v1/dataplanes`, {
          headers: { authorization: `Bearer ${accessToken}` },
        })
      ).json()) as { data: Array<{ name: string }> };
      assert.deepEqual(planes.data.map((p) => p.name).sort(), ['eu-1', 'us-1']);
    });
  });
});
