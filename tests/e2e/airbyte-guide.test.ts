import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import { cleanEnv, repoRoot, sovBin, sovOk } from '../support/cli.ts';
import { adminPassword, call, expectStatus, Platform } from '../support/platform.ts';

/**
 * Airbyte's "Implement multiple regions", in its order, against real processes: create a
 * region, create a data plane under it, associate a workspace; the data plane is
 * deployed and self-registers later. The workspace is created before its data plane ever
 * came up, and its first run runs once it has. The requests' answers are checked
 * against Airbyte's schemas in packages/control-plane/test/airbyte-contract.test.ts.
 */
const project = {
  'sovereign.yaml': `jobs:
  - name: hello
    run: echo "hello from a late data plane"
`,
};

const target = flowTarget();

describe(`Airbyte's multi-region guide, in its order, real processes [${target.name}]`, () => {
  let platform: Platform;
  let config: string;
  before(async () => {
    platform = await Platform.start(target);
    config = await mkdtemp(join(tmpdir(), 'sov-guide-config-'));
  });
  after(async () => {
    await platform?.stop();
    await rm(config, { recursive: true, force: true });
  });

  it('creates a workspace before its region’s data plane registers; its first run runs once the data plane is up', async () => {
    const token = platform.adminToken;
    const organizationId = platform.defaultOrganizationId;
    // 1. Create a region.
    const region = await expectStatus(200, 'POST', `${platform.cp}/regions`, {
      token,
      body: { name: 'aws-us-east-1', organizationId, enabled: true },
    });
    // 2. Create a data plane under it; note its credentials.
    const created = await expectStatus(200, 'POST', `${platform.cp}/regions/${region.regionId}/dataplanes`, {
      token,
      body: { name: 'aws-us-west-3-dp-8', enabled: true },
    });
    // 3. Associate a workspace with the region: no instance of its data plane has run yet.
    const health = await expectStatus(200, 'GET', `${platform.cp}/dataplanes/${created.dataplaneId}/health`, {
      token,
    });
    assert.equal(health.status, 'unknown', 'the data plane has never registered');
    const workspace = await expectStatus(200, 'POST', `${platform.cp}/workspaces`, {
      token,
      body: { name: 'Acme Company', organizationId, regionId: region.regionId },
    });
    assert.equal(workspace.dataplaneId, created.dataplaneId);
    assert.equal(workspace.dataResidency, 'aws-us-east-1');
    const early = await call('POST', `${platform.cp}/workspaces/${workspace.workspaceId}/dataplane-token`, {
      token,
      body: { scopes: ['deployments:write'] },
    });
    assert.equal(early.status, 200, `a scoped token before the data plane is up: ${JSON.stringify(early.body)}`);
    assert.equal(early.body.dataplane.url, null, 'no address to send a client to yet');

    // The data plane is deployed with its credentials, and registers itself.
    const plane = await platform.prepareDataPlane('late-1', region.regionId, created);
    platform.dataplanes.set(plane.name, { ...plane, service: await platform.startDataPlane(plane) });
    // Ready once registered; its health counts from the heartbeat that follows.
    const healthNow = () =>
      expectStatus(200, 'GET', `${platform.cp}/dataplanes/${created.dataplaneId}/health`, { token });
    await platform.waitFor(async () => (await healthNow()).status === 'healthy', 'the data plane to be healthy');
    const up = await healthNow();
    assert.equal(up.publicUrl, plane.url, 'its first registration pinned its URL');

    const { jobs } = await platform.deploy(token, workspace.workspaceId, project);
    const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.hello}/runs`, { token });
    await platform.waitFor(
      async () => (await call('GET', `${platform.cp}/runs/${run.runId}`, { token })).body.status === 'succeeded',
      'the first run to succeed',
      60_000,
    );
  });

  it('keeps a run queued while its data plane is down, and the CLI following it says so, then shows it run', async () => {
    const plane = platform.dp('late-1');
    await sovOk(
      config,
      ['login', '--api', platform.controlPlaneUrl, '--email', 'admin@localhost', '--password-stdin'],
      {
        input: adminPassword,
      },
    );
    await sovOk(config, ['workspace', 'use', 'Acme Company']);
    await plane.service.stop();
    const follow = spawn(process.execPath, [sovBin, 'job', 'trigger', 'hello', '--follow'], {
      cwd: repoRoot,
      env: cleanEnv({ SOV_CONFIG_DIR: config }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let printed = '';
    for (const stream of [follow.stdout, follow.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
      });
    }
    const closed = once(follow, 'close');
    await platform.waitFor(
      async () => printed.includes('cannot be reached') || follow.exitCode !== null,
      'the CLI to say the data plane is down',
      60_000,
    );
    assert.match(printed, /The run is queued: its data plane \(http:\/\/127\.0\.0\.1:\d+\) cannot be reached/, printed);
    assert.match(printed, /it goes on when the data plane is back/);
    platform.dataplanes.set(plane.name, { ...plane, service: await platform.startDataPlane(plane) });
    const [code] = (await closed) as [number | null];
    assert.equal(code, 0, printed);
    assert.match(printed, /hello from a late data plane/);
  });
});
