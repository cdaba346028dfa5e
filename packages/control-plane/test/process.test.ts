import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { databaseTargets, freePort, itOnce, startService, type TestDatabase } from '@sovereign/server-kit/testing';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const adminPassword = 'process-test-admin-password';
const masterKey = randomBytes(32).toString('base64');

for (const target of databaseTargets()) {
  describe(`control plane as a process [${target.name}]`, () => {
    let database: TestDatabase;
    let home: string;
    before(async () => {
      database = await target.create(true);
      home = await mkdtemp(join(tmpdir(), 'sov-cp-'));
    });
    after(async () => {
      await database.drop();
      await rm(home, { recursive: true, force: true });
    });

    /** The control plane on this suite's home and database, or others; `env` changes its environment. */
    async function start(
      at: { home: string; database: TestDatabase } = { home, database },
      env: Record<string, string | undefined> = {},
    ) {
      const port = await freePort();
      return startService({
        args: [main],
        url: `http://127.0.0.1:${port}`,
        env: {
          SOV_PORT: String(port),
          SOV_HOME: at.home,
          SOV_MASTER_KEY: masterKey,
          SOV_ADMIN_PASSWORD: adminPassword,
          SOV_PASSWORD_COST_LOG2: '12',
          SOV_LOG_LEVEL: 'info',
          ...at.database.env,
          ...env,
        },
      });
    }

    it('serves health, readiness and metrics, keeps its data across a restart, and stops cleanly', async () => {
      const first = await start();
      let token = '';
      try {
        assert.deepEqual(await (await fetch(`${first.url}/healthz`)).json(), { status: 'ok' });
        const login = await fetch(`${first.url}/api/public/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'admin@localhost', password: adminPassword }),
        });
        assert.equal(login.status, 200);
        token = ((await login.json()) as { accessToken: string }).accessToken;
        const created = await fetch(`${first.url}/api/public/v1/organizations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ name: 'Survives restarts' }),
        });
        assert.equal(created.status, 200);
        const metrics = await (await fetch(`${first.url}/metrics`)).text();
        assert.match(metrics, /http_requests_total\{method="POST",route="\/api\/public\/v1\/auth\/login",status="200"/);
        assert.match(metrics, /process_resident_memory_bytes/);
      } finally {
        assert.equal(await first.stop('SIGTERM'), 0, 'a clean exit on SIGTERM');
      }
      const logs = first.output();
      assert.match(logs, /"msg":"control plane listening"/);
      assert.match(logs, /"requestId":/, 'logs are structured, with request ids');
      assert.ok(!logs.includes(adminPassword), 'the password is never logged');
      assert.ok(!logs.includes(token), 'the session token is never logged');

      const second = await start();
      try {
        const login = await fetch(`${second.url}/api/public/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'admin@localhost', password: adminPassword }),
        });
        const { accessToken } = (await login.json()) as { accessToken: string };
        const orgs = (await (
          await fetch(`${second.url}/api/public/v1/organizations`, {
            headers: { authorization: `Bearer ${accessToken}` },
          })
        ).json()) as { data: Array<{ name: string }> };
        assert.deepEqual(orgs.data.map((o) => o.name).sort(), ['Sovereign', 'Survives restarts']);
      } finally {
        await second.stop();
      }
    });

    itOnce(target)('warns at start when nobody could sign in: no administrator and sign-up closed', async () => {
      const fresh = await target.create(true);
      const freshHome = await mkdtemp(join(tmpdir(), 'sov-cp-noadmin-'));
      const startFresh = (env: Record<string, string | undefined>) =>
        start({ home: freshHome, database: fresh }, { SOV_ADMIN_PASSWORD: undefined, ...env });
      const warning =
        /no administrator exists and sign-up is closed: nobody can sign in\. Start once with SOV_ADMIN_PASSWORD/;
      try {
        const bare = await startFresh({});
        await bare.stop();
        assert.match(bare.output(), warning);
        const open = await startFresh({ SOV_ALLOW_SIGNUP: 'true' });
        await open.stop();
        assert.doesNotMatch(open.output(), warning, 'anyone can sign up: someone can sign in');
        const withAdmin = await startFresh({ SOV_ADMIN_PASSWORD: adminPassword });
        await withAdmin.stop();
        const after = await startFresh({});
        await after.stop();
        assert.doesNotMatch(after.output(), warning, 'the administrator made before can sign in');
      } finally {
        await fresh.drop();
        await rm(freshHome, { recursive: true, force: true });
      }
    });

    itOnce(target)('stops by itself when the supervisor that started it is killed outright', async () => {
      const port = await freePort();
      // A supervisor (as `sov dev` is) that starts the control plane, says its pid, and is then SIGKILLed.
      const supervisor = spawn(
        process.execPath,
        [
          '-e',
          `const c = require('node:child_process').spawn(process.execPath, [${JSON.stringify(main)}], { stdio: 'ignore' });
           console.log(c.pid);`,
        ],
        {
          env: {
            ...process.env,
            SOV_EXIT_WITH_PARENT: 'true',
            SOV_PORT: String(port),
            SOV_HOME: home,
            SOV_MASTER_KEY: masterKey,
            SOV_ADMIN_PASSWORD: adminPassword,
            SOV_PASSWORD_COST_LOG2: '12',
            SOV_LOG_LEVEL: 'silent',
            ...database.env,
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const [firstChunk] = (await once(supervisor.stdout, 'data')) as [Buffer];
      const pid = Number(firstChunk.toString().trim());
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      try {
        const deadline = Date.now() + 30_000;
        while (
          !(await fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.ok,
            () => false,
          ))
        ) {
          assert.ok(Date.now() < deadline, 'the control plane started');
          await new Promise((r) => setTimeout(r, 100));
        }
        supervisor.kill('SIGKILL');
        const gone = Date.now() + 15_000;
        while (alive() && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
        assert.equal(alive(), false, 'the orphaned control plane stopped');
      } finally {
        if (alive()) process.kill(pid, 'SIGKILL');
      }
    });
  });
}
