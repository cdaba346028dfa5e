import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import { call, dataScopes, expectStatus, Platform } from '../support/platform.ts';

/**
 * An id is one id however a client spells it, on both planes: in capitals it is the same
 * id (PostgreSQL reads it so, and the handlers see it lowercase, so a key built from it is
 * the key), and `urn:uuid:<id>` (which the `uuid` format alone would take) is refused with
 * a 400 problem, never a 500.
 */
const target = flowTarget();

describe(`ids spelled in capitals or as urn:uuid:, on both planes [${target.name}]`, () => {
  let platform: Platform;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  let token: string;
  let dp: string;
  let ws: string;
  let runId: string;

  before(async () => {
    platform = await Platform.start(target);
    t = await platform.tenant('eu', 'spellings');
    ws = t.workspace.workspaceId as string;
    const issued = await platform.scopedToken(t.token, ws, dataScopes);
    token = issued.token;
    dp = `${issued.dataplane.url}/api/v1`;
    await platform.waitUntilHosted(t.token, ws);
    const { jobs } = await platform.deploy(t.token, ws, {
      'sovereign.yaml': 'jobs:\n  - name: hello\n    run: echo hello\n',
    });
    ({ runId } = await platform.runToEnd(t.token, jobs.hello as string));
  });
  after(async () => {
    await platform?.stop();
  });

  /** A 400 validation problem document, as every bad id gets. */
  function assertRefusedId(answer: { status: number; body: { code?: string }; headers: Headers }, what: string) {
    assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
    assert.equal(answer.body.code, 'validation_failed', what);
  }

  it('moved outputs: an id in capitals is the same run (one object, one row), urn:uuid: is a 400', async () => {
    const body = new TextEncoder().encode('moved bytes');
    const digest = `sha-256=${Buffer.from(await crypto.subtle.digest('SHA-256', body)).toString('base64')}`;
    const moved = crypto.randomUUID();
    const put = (spelled: string) =>
      call('PUT', `${dp}/workspaces/${ws}/moved-outputs/${spelled}/x.txt`, {
        token,
        raw: body,
        headers: { 'content-type': 'application/octet-stream', digest },
      });
    assert.equal((await put(moved)).status, 200);
    const again = await put(moved.toUpperCase());
    assert.equal(again.status, 200);
    assert.equal(again.body.runId, moved);
    assertRefusedId(await put(`urn:uuid:${moved}`), 'PUT urn:uuid:');
    assertRefusedId(await put(`urn:uuid:${moved.toUpperCase()}`), 'PUT urn:uuid: in capitals');

    const listed = await expectStatus(200, 'GET', `${dp}/workspaces/${ws}/moved-outputs`, { token });
    assert.deepEqual(
      listed.data.map((o: { runId: string; path: string }) => [o.runId, o.path]),
      [[moved, 'x.txt']],
    );
    // The second copy replaced the first under the same key: no object is left without its row.
    const stored = join(platform.dp('eu-1').dataDir, 'artifacts', 'moved-outputs', ws);
    assert.deepEqual(await readdir(stored), [moved]);
    assert.equal((await readdir(join(stored, moved))).length, 1);

    const read = await call('GET', `${dp}/workspaces/${ws}/moved-outputs/${moved.toUpperCase()}/x.txt`, { token });
    assert.equal(read.status, 200);
    assert.equal(String(read.body), 'moved bytes');
    const one = await expectStatus(200, 'GET', `${dp}/workspaces/${ws}/moved-outputs?runId=${moved.toUpperCase()}`, {
      token,
    });
    assert.equal(one.data.length, 1);
    assertRefusedId(
      await call('GET', `${dp}/workspaces/${ws}/moved-outputs?runId=urn:uuid:${moved}`, { token }),
      'list ?runId=urn:uuid:',
    );
    assertRefusedId(
      await call('GET', `${dp}/workspaces/${ws}/moved-outputs/urn:uuid:${moved}/x.txt`, { token }),
      'GET urn:uuid:',
    );
  });

  it('the data plane’s runs and workspaces: capitals are the same id, urn:uuid: is a 400', async () => {
    const logs = await expectStatus(200, 'GET', `${dp}/runs/${runId.toUpperCase()}/logs`, { token });
    assert.deepEqual(
      logs.data.map((l: { line: string }) => l.line),
      ['hello'],
    );
    assertRefusedId(await call('GET', `${dp}/runs/urn:uuid:${runId}/logs`, { token }), 'logs of urn:uuid:');
    assertRefusedId(await call('GET', `${dp}/runs/urn:uuid:${runId}/outputs`, { token }), 'outputs of urn:uuid:');
    // The token's workspace is the one in capitals too.
    await expectStatus(200, 'GET', `${dp}/workspaces/${ws.toUpperCase()}/variables`, { token });
  });

  it('the control plane: capitals are the same id (answered lowercase), urn:uuid: is a 400', async () => {
    const run = await expectStatus(200, 'GET', `${platform.cp}/runs/${runId.toUpperCase()}`, { token: t.token });
    assert.equal(run.runId, runId);
    assertRefusedId(await call('GET', `${platform.cp}/runs/urn:uuid:${runId}`, { token: t.token }), 'CP run');
    assertRefusedId(
      await call('GET', `${platform.cp}/workspaces/urn:uuid:${ws}/jobs`, { token: t.token }),
      'CP workspace jobs',
    );
    // A token asked for with the workspace in capitals is for the workspace: the data plane takes it.
    const issued = await platform.scopedToken(t.token, ws.toUpperCase(), ['variables:read']);
    await expectStatus(200, 'GET', `${dp}/workspaces/${ws}/variables`, { token: issued.token });
  });
});
