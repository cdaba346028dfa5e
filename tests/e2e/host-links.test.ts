import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import { call, expectStatus, Platform } from '../support/platform.ts';

/**
 * The data plane runs as root and handles what a run or a build leaves in directories
 * their users own: a link left where it expects a directory or a file must never lead it
 * out, to a host file or another tenant's data. Hostile jobs and builds in real jails.
 */
const target = flowTarget();

describe(`links a run or a build leaves behind, real processes [${target.name}]`, () => {
  let platform: Platform;
  let attacker: Awaited<ReturnType<Platform['tenant']>>;
  let victim: Awaited<ReturnType<Platform['tenant']>>;
  const hostDir = `/tmp/sov-host-links-${randomBytes(4).toString('hex')}`;
  const hostSecret = `HOST-SECRET-${randomBytes(6).toString('hex')}`;

  const outputsOf = async (tenant: typeof victim, runId: string) => {
    const { token, dataplane } = await platform.scopedToken(tenant.token, tenant.workspace.workspaceId, [
      'runs:outputs',
    ]);
    const listed = await expectStatus(200, 'GET', `${dataplane.url}/api/v1/runs/${runId}/outputs`, { token });
    const files: Record<string, string> = {};
    for (const { path } of listed.data as Array<{ path: string }>) {
      const got = await call('GET', `${dataplane.url}/api/v1/runs/${runId}/outputs/${path}`, { token });
      files[path] = `${got.status} ${String(got.body).trim()}`;
    }
    return files;
  };

  before(async () => {
    await mkdir(hostDir, { mode: 0o700 });
    await writeFile(join(hostDir, 'secret.txt'), `${hostSecret}\n`, { mode: 0o600 });
    platform = await Platform.start(target);
    attacker = await platform.tenant('eu', 'attacker');
    victim = await platform.tenant('eu', 'victim');
  });
  after(async () => {
    await platform?.stop();
    await rm(hostDir, { recursive: true, force: true });
  });

  it('collects no output through a link made of the outputs directory: not a host file, not another run’s', async () => {
    const mine = await platform.deploy(victim.token, victim.workspace.workspaceId, {
      'sovereign.yaml': 'jobs:\n  - name: report\n    run: echo quarterly > "$SOV_OUTPUT_DIR/b.txt"\n',
    });
    const victimRun = await platform.runToEnd(victim.token, mine.jobs.report as string);
    assert.equal(victimRun.status, 'succeeded');
    const stored = join(platform.dp('eu-1').dataDir, 'artifacts', 'outputs', victimRun.runId);
    const before = await readdir(stored);
    assert.equal(before.length, 1, 'the victim’s output is stored on the data plane’s disk');

    const theirs = await platform.deploy(attacker.token, attacker.workspace.workspaceId, {
      'sovereign.yaml': [
        'jobs:',
        '  - name: host',
        `    run: rm -rf "$SOV_OUTPUT_DIR" && ln -s ${hostDir} "$SOV_OUTPUT_DIR"`,
        '  - name: tenant',
        `    run: rm -rf "$SOV_OUTPUT_DIR" && ln -s ${stored} "$SOV_OUTPUT_DIR"`,
        '',
      ].join('\n'),
    });
    for (const job of ['host', 'tenant']) {
      const run = await platform.runToEnd(attacker.token, theirs.jobs[job] as string);
      assert.deepEqual(await outputsOf(attacker, run.runId), {}, `${job}: nothing collected through the link`);
      const { token, dataplane } = await platform.scopedToken(attacker.token, attacker.workspace.workspaceId, [
        'runs:logs',
      ]);
      const logs = await expectStatus(200, 'GET', `${dataplane.url}/api/v1/runs/${run.runId}/logs`, { token });
      assert.ok(
        logs.data.some((l: { line: string }) => l.line.includes('was not a directory')),
        `${job}: the run's log says why: ${JSON.stringify(logs.data)}`,
      );
    }
    assert.equal(await readFile(join(hostDir, 'secret.txt'), 'utf8'), `${hostSecret}\n`, 'the host file is in place');
    assert.deepEqual(await readdir(stored), before, 'the victim’s stored output is in place');
    assert.deepEqual(Object.values(await outputsOf(victim, victimRun.runId)), ['200 quarterly']);
  });

  it('writes an environment’s marker as a file of its own, never through a link its build left', async () => {
    const target = join(hostDir, 'root-only.conf');
    await writeFile(target, 'ORIGINAL\n', { mode: 0o600 });
    const pkg = {
      name: 'hostile',
      private: true,
      scripts: { preinstall: `ln -s ${target} .sovereign-environment.json` },
    };
    const lock = { name: 'hostile', lockfileVersion: 3, requires: true, packages: { '': { name: 'hostile' } } };
    const { jobs } = await platform.deploy(attacker.token, attacker.workspace.workspaceId, {
      'sovereign.yaml': 'jobs:\n  - name: noop\n    run: "true"\n',
      'package.json': JSON.stringify(pkg),
      'package-lock.json': JSON.stringify(lock),
    });
    assert.equal(await readFile(target, 'utf8'), 'ORIGINAL\n', 'the host file is untouched');
    const run = await platform.runToEnd(attacker.token, jobs.noop as string);
    assert.equal(run.status, 'succeeded', 'the environment is usable');
  });
});
