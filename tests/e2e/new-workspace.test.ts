import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HeartbeatRequest, InternalPaths, type RunStatus, terminalRunStatuses } from '@sovereign/contract';
import { flowTarget } from '@sovereign/server-kit/testing';
import { call, dataScopes, expectStatus, Platform } from '../support/platform.ts';
import { packProject } from '../support/projects.ts';

/**
 * A workspace is usable the moment it is created (issue 18): its data plane, which has
 * not heard of it yet, asks the control plane at once when a valid token names it. The
 * heartbeat interval here is far longer than any test, so only that early ask can let a
 * first call through.
 */
const project = {
  'sovereign.yaml': 'jobs:\n  - name: hello\n    run: node hello.js\n',
  'hello.js': "console.log('hello, ' + process.env.GREETING);\n",
};

/** What a refused call answers: its status and problem code. */
function refusal(answer: { status: number; body: any }) {
  return { status: answer.status, code: answer.body?.code };
}

const target = flowTarget();

describe(`a new workspace is usable at once, real processes [${target.name}]`, () => {
  let platform: Platform;
  let owner: Awaited<ReturnType<Platform['tenant']>>;

  before(async () => {
    platform = await Platform.start(target, {
      // Through the tap: a test counts the heartbeats the control plane is sent.
      tap: true,
      controlPlaneEnv: { SOV_HEARTBEAT_INTERVAL_SECONDS: '60', SOV_RUN_LEASE_SECONDS: '300' },
    });
    owner = await platform.tenant('eu', 'fresh');
  });
  after(async () => {
    await platform?.stop();
  });

  /** A workspace made just now in the eu data plane, and a token for it: nothing waits in between. */
  async function freshWorkspace(name: string, scopes = dataScopes) {
    const workspace = await platform.workspace(owner.token, owner.organizationId, 'eu', name);
    const issued = await platform.scopedToken(owner.token, workspace.workspaceId, scopes);
    return {
      workspaceId: workspace.workspaceId as string,
      token: issued.token,
      dp: `${issued.dataplane.url}/api/v1`,
    };
  }

  /** The heartbeats the eu data plane's instances sent so far, as the control plane received them. */
  function heartbeats(): HeartbeatRequest[] {
    const tap = platform.tap;
    assert.ok(tap !== undefined);
    return tap
      .json(InternalPaths.heartbeat)
      .map((e) => e.request as HeartbeatRequest)
      .filter((beat) => beat.publicUrl === platform.dp('eu-1').url);
  }

  it('sets a variable, deploys and runs a job in a workspace created a moment ago, each call answered first time', async () => {
    const { workspaceId, token, dp } = await freshWorkspace('at-once');
    const variable = await call('PUT', `${dp}/workspaces/${workspaceId}/variables/GREETING`, {
      token,
      body: { value: 'first time' },
    });
    assert.equal(variable.status, 200, `the first call: ${JSON.stringify(variable.body)}`);
    const deployed = await call('POST', `${dp}/workspaces/${workspaceId}/deployments`, {
      token,
      raw: new Uint8Array(await packProject(project)),
      headers: { 'content-type': 'application/gzip' },
    });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    // As `sov deploy` does: the report reaches the control plane through the outbox.
    let jobId: string | undefined;
    await platform.waitFor(async () => {
      const jobs = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${workspaceId}/jobs`, {
        token: owner.token,
      });
      jobId = jobs.data.find((j: { name: string }) => j.name === 'hello')?.jobId;
      return jobId !== undefined;
    }, 'the job to reach the control plane');
    const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobId}/runs`, { token: owner.token });
    let status: RunStatus = 'queued';
    await platform.waitFor(async () => {
      status = (await expectStatus(200, 'GET', `${platform.cp}/runs/${run.runId}`, { token: owner.token })).status;
      return terminalRunStatuses.has(status);
    }, 'the run to end');
    assert.equal(status, 'succeeded');
    const logs = await expectStatus(200, 'GET', `${dp}/runs/${run.runId}/logs`, { token });
    assert.ok(
      JSON.stringify(logs).includes('hello, first time'),
      `the run saw the variable set before: ${JSON.stringify(logs)}`,
    );
  });

  it('answers a burst of first calls for a new workspace with one early heartbeat, not one per call', async () => {
    const { workspaceId, token, dp } = await freshWorkspace('burst', ['deployments:read']);
    const before = heartbeats().length;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => call('GET', `${dp}/workspaces/${workspaceId}/deployments`, { token })),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map(() => 200),
      JSON.stringify(answers.map(refusal)),
    );
    const sent = heartbeats().length - before;
    // One early heartbeat; a scheduled one (once a minute here) may fall in the same moment.
    assert.ok(sent >= 1 && sent <= 2, `the control plane was sent ${sent} heartbeats for 20 first calls`);
  });

  it('still refuses a workspace deleted before its data plane heard of it: workspace_not_hosted', async () => {
    const { workspaceId, token, dp } = await freshWorkspace('deleted', ['deployments:read']);
    await expectStatus(204, 'DELETE', `${platform.cp}/workspaces/${workspaceId}`, { token: owner.token });
    const first = await call('GET', `${dp}/workspaces/${workspaceId}/deployments`, { token });
    assert.deepEqual(refusal(first), { status: 403, code: 'workspace_not_hosted' });
    // Asked again (the early heartbeat's rate limit passed or not): the answer stays the same.
    const again = await call('GET', `${dp}/workspaces/${workspaceId}/deployments`, { token });
    assert.deepEqual(refusal(again), { status: 403, code: 'workspace_not_hosted' });
  });

  it('refuses a new workspace at once while the control plane cannot be reached, and takes it once it can', async () => {
    const tap = platform.tap;
    assert.ok(tap !== undefined);
    const { workspaceId, token, dp } = await freshWorkspace('unreachable', ['deployments:read']);
    tap.refused.add(InternalPaths.heartbeat);
    try {
      const refused = await call('GET', `${dp}/workspaces/${workspaceId}/deployments`, { token });
      assert.deepEqual(refusal(refused), { status: 403, code: 'workspace_not_hosted' });
    } finally {
      tap.refused.delete(InternalPaths.heartbeat);
    }
    const answered = await call('GET', `${dp}/workspaces/${workspaceId}/deployments`, { token });
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
  });
});
