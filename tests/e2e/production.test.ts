import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flowTarget, freePort, type Service, startService, type TestDatabase } from '@sovereign/server-kit/testing';
import { repoRoot, sovBin, sovOk } from '../support/cli.ts';

/**
 * The README's production set-up, followed as written, from a working directory of its
 * own: a control plane (`sov control-plane`, its master key in a file named relatively),
 * then `sov login`, a region and a data plane by the CLI, then the data plane
 * (`sov data-plane`, no SOV_HOME: its state under ./.sovereign), and examples/hello, which
 * reads a variable and its state and leaves an output. Every directory a service is
 * given or defaults to is made absolute at start: a run works elsewhere.
 */
const target = flowTarget();

describe(`the README's production set-up, followed literally, real processes [${target.name}]`, () => {
  let cwd: string;
  let config: string;
  const services: Service[] = [];
  const databases: TestDatabase[] = [];
  const jails = join(tmpdir(), `sov-jails-${randomBytes(6).toString('hex')}`);

  before(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'sov-production-'));
    config = await mkdtemp(join(tmpdir(), 'sov-production-config-'));
  });
  after(async () => {
    for (const service of services.reverse()) await service.stop().catch(() => {});
    for (const database of databases) await database.drop().catch(() => {});
    await rm(cwd, { recursive: true, force: true });
    await rm(config, { recursive: true, force: true });
    await rm(jails, { recursive: true, force: true });
  });

  /** A database for a service: PostgreSQL's URL, or nothing (PGlite under the service's home). */
  async function database(): Promise<Record<string, string>> {
    if (target.name === 'pglite') return {};
    const made = await target.create(true);
    databases.push(made);
    return made.env;
  }

  it('runs examples/hello, with its variable, state and output, on services started from another directory', async () => {
    const cpPort = await freePort();
    const dpPort = await freePort();
    const api = `http://127.0.0.1:${cpPort}`;
    const dpUrl = `http://127.0.0.1:${dpPort}`;
    await mkdir(join(cwd, 'keys'), { mode: 0o700 });
    await writeFile(join(cwd, 'keys', 'control-plane.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
    await writeFile(join(cwd, 'keys', 'master.key'), randomBytes(32).toString('base64'), { mode: 0o600 });

    // 1. The control plane.
    services.push(
      await startService({
        args: [sovBin, 'control-plane'],
        cwd,
        url: api,
        env: {
          ...(await database()),
          SOV_PORT: String(cpPort),
          SOV_PUBLIC_URL: api,
          SOV_ADMIN_PASSWORD: 'production password',
          SOV_MASTER_KEY_FILE: 'keys/control-plane.key',
          SOV_PASSWORD_COST_LOG2: '12',
        },
      }),
    );
    // 2. Signed in, a region and its data plane, by the CLI.
    await sovOk(config, ['login', '--api', api, '--email', 'admin@localhost', '--password-stdin'], {
      input: 'production password',
    });
    await sovOk(config, ['region', 'create', 'eu']);
    const created = JSON.parse(
      (await sovOk(config, ['--json', 'dataplane', 'create', 'eu-1', '--region', 'eu', '--public-url', dpUrl])).stdout,
    );
    assert.ok(created.clientId && created.clientSecret, 'the data plane’s credentials, printed once');

    // 3. The data plane, in the same directory, with no SOV_HOME: its state goes to ./.sovereign.
    services.push(
      await startService({
        args: [sovBin, 'data-plane'],
        cwd,
        url: dpUrl,
        env: {
          ...(await database()),
          SOV_PORT: String(dpPort),
          SOV_CONTROL_PLANE_URL: api,
          SOV_CLIENT_ID: created.clientId,
          SOV_CLIENT_SECRET: created.clientSecret,
          SOV_PUBLIC_URL: dpUrl,
          SOV_MASTER_KEY_FILE: 'keys/master.key',
          SOV_SANDBOX_DIR: jails,
          // As every suite: SOV_TEST_SANDBOX=off runs the data plane unjailed (the jail
          // gives a run fixed paths of its own; unjailed, a relative directory broke it).
          ...(process.env.SOV_TEST_SANDBOX ? { SOV_SANDBOX: process.env.SOV_TEST_SANDBOX } : {}),
        },
      }),
    );

    // 4. Clients: a workspace in the region, the example, its variable, two runs.
    await sovOk(config, ['workspace', 'create', 'demo', '--region', 'eu']);
    await sovOk(config, ['deploy', join(repoRoot, 'examples/hello')]);
    await sovOk(config, ['vars', 'set', 'GREETING', 'Bonjour']);
    const first = await sovOk(config, ['job', 'trigger', 'hello', '--follow']);
    assert.match(first.stdout, /Bonjour from hello, run number 1\./);
    const second = await sovOk(config, ['job', 'trigger', 'hello', '--follow']);
    assert.match(second.stdout, /run number 2\./, 'the state of the first run was kept');
    const runs = JSON.parse((await sovOk(config, ['--json', 'run', 'list'])).stdout).data;
    const report = await sovOk(config, ['outputs', 'get', runs[0].runId, 'report.json']);
    assert.match(report.stdout, /"runs": 2/, 'the output was kept');

    // Each service's log is its own lines: no warning of a library's deprecated option (Fastify's FSTDEP024 was at every start).
    for (const [i, service] of services.entries()) {
      const warnings = service
        .output()
        .split('\n')
        .filter((line) => /FSTDEP\d+|Warning:/.test(line));
      assert.deepEqual(warnings, [], `${i === 0 ? 'the control plane' : 'the data plane'} printed a warning`);
    }
  });
});
