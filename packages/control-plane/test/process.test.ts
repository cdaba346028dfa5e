import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { databaseTargets, freePort, startService, type TestDatabase } from '@sovereign/protocol/testing';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const adminPassword = 'process-test-admin-password';

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

    async function start() {
      const port = await freePort();
      return startService({
        args: [main],
        url: `http://127.0.0.1:${port}`,
        env: {
          SOV_PORT: String(port),
          SOV_HOME: home,
          SOV_ADMIN_PASSWORD: adminPassword,
          SOV_PASSWORD_COST_LOG2: '12',
          SOV_LOG_LEVEL: 'info',
          ...database.env,
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
  });
}
