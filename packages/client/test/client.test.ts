import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataPlaneRoutes } from '@sovereign/contract';
import { assertRouteTableServed, flowTarget } from '@sovereign/server-kit/testing';
import { dataScopes, Platform } from '../../../tests/support/platform.ts';
import { ApiError, ControlPlaneClient, DataPlaneClient, followLogs, ScopedTokens } from '../src/index.ts';

/**
 * The one client of the public APIs, against real planes: the hooks the CLI and the
 * dashboard differ by, the scoped token cache, typed refusals, and following a run's
 * log to its end.
 */
const project = {
  'sovereign.yaml': 'jobs:\n  - name: hello\n    run: node hello.js\n    timeout: 1m\n',
  'hello.js': "for (let i = 1; i <= 3; i++) console.log('line ' + i);\n",
};

const target = flowTarget();

describe(`@sovereign/client against real planes [${target.name}]`, () => {
  let platform: Platform;
  let tenant: Awaited<ReturnType<Platform['tenant']>>;
  let jobs: Record<string, string>;
  const client = (token: string | undefined, onUnauthorized?: (error: ApiError | undefined) => Error | undefined) =>
    new ControlPlaneClient({
      url: platform.controlPlaneUrl,
      credential: () => token,
      ...(onUnauthorized === undefined ? {} : { onUnauthorized }),
    });

  before(async () => {
    platform = await Platform.start(target);
    tenant = await platform.tenant('eu', 'client');
    ({ jobs } = await platform.deploy(tenant.token, tenant.workspace.workspaceId, project));
  });
  after(async () => {
    await platform?.stop();
  });

  it('answers what the control plane says, and turns a refused credential into what the hook makes of it', async () => {
    const me = await client(tenant.token).me();
    assert.equal(me.email, tenant.email);
    assert.equal(me.apiKey, null);
    const seen: Array<string | undefined> = [];
    const refused = client('sov_not-a-token', (error) => {
      seen.push(error?.code);
      return new Error('sign in again');
    });
    await assert.rejects(refused.me(), { message: 'sign in again' });
    assert.equal(seen.length, 1);
    assert.equal(typeof seen[0], 'string');
    // Without a hook, the refusal is the ApiError itself.
    await assert.rejects(client('sov_not-a-token').me(), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 401);
      return true;
    });
  });

  it('keeps a scoped token per workspace and scope set until shortly before it expires', async () => {
    const cp = client(tenant.token);
    const tokens = new ScopedTokens(cp);
    const first = await tokens.get(tenant.workspace.workspaceId, ['variables:read']);
    const again = await tokens.get(tenant.workspace.workspaceId, ['variables:read']);
    assert.equal(again.tokenId, first.tokenId, 'the same token, not a new one');
    const other = await tokens.get(tenant.workspace.workspaceId, ['variables:write']);
    assert.notEqual(other.tokenId, first.tokenId, 'other scopes, another token');
    // A token closer to its end than the renewal margin is replaced.
    const renewing = new ScopedTokens(cp, { renewBeforeMs: 3_600_000 });
    const one = await renewing.get(tenant.workspace.workspaceId, ['variables:read']);
    const two = await renewing.get(tenant.workspace.workspaceId, ['variables:read']);
    assert.notEqual(two.tokenId, one.tokenId);
  });

  it('calls the data plane with its scoped token, and refusals are typed ApiErrors with their code', async () => {
    const tokens = new ScopedTokens(client(tenant.token));
    const writer = new DataPlaneClient(tokens, tenant.workspace.workspaceId, ['variables:write']);
    const reader = new DataPlaneClient(tokens, tenant.workspace.workspaceId, ['variables:read']);
    const set = await writer.setVariable('GREETING', 'hello', false);
    assert.equal(set.value, 'hello');
    const listed = await reader.variables();
    assert.deepEqual(
      listed.map((v) => [v.name, v.value]),
      [['GREETING', 'hello']],
    );
    await assert.rejects(reader.setVariable('OTHER', 'x'), (error: unknown) => {
      assert.ok(error instanceof ApiError, String(error));
      assert.equal(error.status, 403);
      assert.equal(typeof error.problem.detail, 'string');
      return true;
    });
  });

  it('reads a job’s state: null (or state_not_found for the CLI) before one is saved, then what was set', async () => {
    const tokens = new ScopedTokens(client(tenant.token));
    const reader = new DataPlaneClient(tokens, tenant.workspace.workspaceId, ['state:read']);
    const writer = new DataPlaneClient(tokens, tenant.workspace.workspaceId, ['state:write']);
    assert.equal(await reader.state('hello'), null);
    await assert.rejects(reader.requireState('hello'), (error: unknown) => {
      assert.ok(error instanceof ApiError, String(error));
      assert.equal(error.code, 'state_not_found');
      return true;
    });
    await writer.setState('hello', { cursor: 7 });
    assert.deepEqual((await reader.requireState('hello')).state, { cursor: 7 });
    assert.deepEqual((await reader.state('hello'))?.state, { cursor: 7 });
  });

  it('calls data plane routes that are served, with the schemas they are served with (DataPlaneRoutes against openapi.json)', async () => {
    const plane = [...platform.dataplanes.values()][0];
    assert.ok(plane !== undefined, 'a data plane runs');
    const answer = await fetch(`${plane.url}/api/v1/openapi.json`);
    assert.equal(answer.status, 200);
    const checked = assertRouteTableServed(await answer.json(), '/api/v1', DataPlaneRoutes);
    assert.ok(checked >= 10, `${checked} routes in the table`);
  });

  it('follows a run’s log to its end, every line once, and again from the start after it ended', async () => {
    const cp = client(tenant.token);
    const run = await cp.trigger(jobs.hello as string);
    const dp = new DataPlaneClient(new ScopedTokens(cp), tenant.workspace.workspaceId, dataScopes);
    const notThere = async () => {
      const now = await cp.run(run.runId);
      return ['succeeded', 'failed', 'cancelled', 'timed_out', 'lost'].includes(now.status)
        ? { status: now.status, exitCode: now.exitCode, durationMs: now.durationMs }
        : undefined;
    };
    const lines: string[] = [];
    const end = await followLogs(dp, run.runId, { onLine: (line) => lines.push(line.line), notThere });
    assert.ok(end !== 'absent' && end !== 'stopped');
    assert.deepEqual(
      { ...end, durationMs: typeof end.durationMs },
      { status: 'succeeded', exitCode: 0, durationMs: 'number' },
    );
    // One duration: the data plane's end of the log and the control plane's run say the same.
    await platform.waitFor(async () => (await cp.run(run.runId)).status === 'succeeded', 'the control plane to hear');
    const stated = await cp.run(run.runId);
    assert.equal(stated.durationMs, end.durationMs);
    assert.equal(stated.durationMs, Date.parse(stated.finishedAt ?? '') - Date.parse(stated.startedAt ?? ''));
    assert.deepEqual(lines, ['line 1', 'line 2', 'line 3']);
    const replay: string[] = [];
    assert.deepEqual(await followLogs(dp, run.runId, { onLine: (line) => replay.push(line.line) }), end);
    assert.deepEqual(replay, lines);
    const page = await dp.logs(run.runId, 1);
    assert.deepEqual(
      page.data.map((line) => line.line),
      ['line 2', 'line 3'],
    );
    assert.equal(page.ended, true);
  });
});
