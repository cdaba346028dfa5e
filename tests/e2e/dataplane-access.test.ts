import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, type Role, Roles, roleScopes, type Scope, Scopes } from '@sovereign/contract';
import { assertProblem, fillPath, flowTarget, type Operation, servedOperationsAt } from '@sovereign/server-kit/testing';
import '../support/localhost.ts';
import { type Answer, call, expectStatus, Platform } from '../support/platform.ts';
import { packProject } from '../support/projects.ts';

/**
 * The access matrix of the data planes (R3): every route the data plane's OpenAPI
 * document lists, called with the token of every role of the organization, and with
 * tokens that must not pass: another organization's, another workspace's, a workspace
 * of another region, at the other region's data plane, none and garbage. Only what the
 * role allows on its own workspace succeeds; every other call is refused with its status
 * and code, and changes nothing. A route the document lists without a row fails it.
 */

interface Row {
  scope: Scope;
  /** The status of a call that is allowed. */
  ok: 200 | 204;
  /** The request's body and content type, when it takes one. */
  send?: (w: World) => { raw?: Uint8Array; body?: unknown; headers?: Record<string, string> };
  /** Makes the call possible again before each allowed caller (a delete needs something to delete). */
  prepare?: (w: World) => Promise<void>;
  /** The run it addresses is the interactive one. */
  app?: true;
  /** Where it is called, when not under the data plane's API: an app's own origin. */
  url?: (w: World, plane: 'eu-1' | 'us-1') => string;
}

/** An output of a run of a workspace moved here (issue 22), as a move copies it. */
const movedBytes = new Uint8Array(Buffer.from('an output copied by a move'));
const movedDigest = `sha-256=${createHash('sha256').update(movedBytes).digest('base64')}`;

const table: Record<string, Row> = {
  'POST /workspaces/{workspaceId}/deployments': {
    scope: 'deployments:write',
    ok: 200,
    send: (w) => ({ raw: w.bundle, headers: { 'content-type': 'application/gzip' } }),
  },
  'GET /workspaces/{workspaceId}/deployments': { scope: 'deployments:read', ok: 200 },
  'GET /workspaces/{workspaceId}/deployments/{deploymentId}/manifest': { scope: 'deployments:read', ok: 200 },
  'GET /workspaces/{workspaceId}/deployments/{deploymentId}/bundle': { scope: 'deployments:read', ok: 200 },
  'GET /workspaces/{workspaceId}/variables': { scope: 'variables:read', ok: 200 },
  'PUT /workspaces/{workspaceId}/variables/{name}': {
    scope: 'variables:write',
    ok: 200,
    send: () => ({ body: { value: 'written' } }),
  },
  'DELETE /workspaces/{workspaceId}/variables/{name}': {
    scope: 'variables:write',
    ok: 204,
    prepare: (w) => w.setVariable(),
  },
  'GET /runs/{runId}/logs': { scope: 'runs:logs', ok: 200 },
  'GET /runs/{runId}/outputs': { scope: 'runs:outputs', ok: 200 },
  'GET /runs/{runId}/outputs/{*}': { scope: 'runs:outputs', ok: 200 },
  'POST /runs/{runId}/app/launch': {
    scope: 'interactive',
    ok: 200,
    app: true,
    send: () => ({ body: { state: 'A'.repeat(43) } }),
  },
  'GET /workspaces/{workspaceId}/jobs/{job}/state': { scope: 'state:read', ok: 200 },
  'POST /workspaces/{workspaceId}/parameters': {
    scope: 'runs:trigger',
    ok: 200,
    send: () => ({ body: { job: 'report', values: {} } }),
  },
  'GET /workspaces/{workspaceId}/parameters/{parametersId}': { scope: 'runs:parameters', ok: 200 },
  'PUT /workspaces/{workspaceId}/moved-outputs/{runId}/{*}': {
    scope: 'outputs:write',
    ok: 200,
    send: () => ({ raw: movedBytes, headers: { 'content-type': 'application/octet-stream', digest: movedDigest } }),
  },
  'GET /workspaces/{workspaceId}/moved-outputs': { scope: 'runs:outputs', ok: 200 },
  'GET /workspaces/{workspaceId}/moved-outputs/{runId}/{*}': {
    scope: 'runs:outputs',
    ok: 200,
    prepare: (w) => w.storeMovedOutput(),
  },
  'PUT /workspaces/{workspaceId}/jobs/{job}/state': {
    scope: 'state:write',
    ok: 200,
    send: () => ({ body: { state: { cursor: 'written' } } }),
  },
};

/**
 * Routes the document leaves out, each with the reason, checked by the same matrix: an
 * interactive app, on its own origin, takes every method and path for its own API,
 * which is the app's to describe.
 */
const undocumented: Record<string, Row> = {
  'GET {app origin}/{*}': {
    scope: 'interactive',
    ok: 200,
    app: true,
    url: (w, plane) => `http://${w.ids.appRunId}.apps.localhost:${new URL(w.platform.dp(plane).url).port}/any/path`,
  },
};
const undocumentedOperations: Operation[] = Object.keys(undocumented).map((key) => {
  const [method = 'GET', path = ''] = key.split(' ');
  return {
    key,
    method,
    template: `/api/v1${path}`,
    pathParams: [],
    queryParams: [],
    body: undefined,
    bodyTypes: [],
    documentedPublic: false,
  };
});

/** A caller that must be refused: where it calls, with which token, and the refusal it gets. */
interface Intruder {
  label: string;
  plane: 'eu-1' | 'us-1';
  token: (scope: Scope) => string | undefined;
  /** The refusal: for routes under a workspace, and for routes that address a run. */
  refusal: { workspace: Refusal; run: Refusal };
}
type Refusal = { status: number; code: string };
const refusal = (status: number, code: string): Refusal => ({ status, code });

async function buildWorld(platform: Platform) {
  const a = await platform.tenant('eu', 'org-a');
  const b = await platform.tenant('eu', 'org-b');
  const people: Record<Role, { token: string }> = {
    owner: a,
    admin: await platform.member(a.token, a.organizationId, 'admin'),
    member: await platform.member(a.token, a.organizationId, 'member'),
    viewer: await platform.member(a.token, a.organizationId, 'viewer'),
  };
  const ws = a.workspace.workspaceId as string;
  const sibling = await platform.workspace(a.token, a.organizationId, 'eu', 'org-a-second');
  const abroad = await platform.workspace(a.token, a.organizationId, 'us', 'org-a-us');
  for (const [token, id] of [
    [a.token, ws],
    [b.token, b.workspace.workspaceId],
    [a.token, sibling.workspaceId],
    [a.token, abroad.workspaceId],
  ]) {
    await platform.waitUntilHosted(token, id);
  }
  const tokenFor = async (user: string, workspaceId: string, scopes: readonly Scope[]) =>
    (await platform.scopedToken(user, workspaceId, [...scopes])).token;

  // What the routes address: a deployment, a run with an output and state, a variable.
  const owner = await tokenFor(a.token, ws, Scopes);
  const eu = `${platform.dp('eu-1').url}/api/v1`;
  const bundle = new Uint8Array(
    await packProject({
      'sovereign.yaml':
        'jobs:\n  - name: report\n    run: node report.js\n  - name: app\n    kind: interactive\n    run: node app.js\n',
      'app.js': `require('node:http').createServer((req, res) => res.end('app')).listen(Number(process.env.PORT), '127.0.0.1');`,
      'report.js': `require('node:fs').writeFileSync(process.env.SOV_OUTPUT_DIR + '/report.txt', 'a report');
require('node:fs').writeFileSync(process.env.SOV_STATE_FILE, JSON.stringify({ cursor: 1 }));`,
    }),
  );
  const deployed = await expectStatus(200, 'POST', `${eu}/workspaces/${ws}/deployments`, {
    token: owner,
    raw: bundle,
    headers: { 'content-type': 'application/gzip' },
  });
  const jobIds: Record<string, string> = {};
  await platform.waitFor(async () => {
    const listed = await call('GET', `${platform.cp}/workspaces/${ws}/jobs`, { token: a.token });
    for (const job of listed.body.data ?? []) jobIds[job.name] = job.jobId;
    return Object.keys(jobIds).length === 2;
  }, 'the jobs to reach the control plane');
  const runUntil = async (job: string, status: string) => {
    const { runId } = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobIds[job]}/runs`, { token: a.token });
    await platform.waitFor(
      async () =>
        (await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: a.token })).status === status,
      `the ${job} run to be ${status}`,
    );
    return runId as string;
  };
  const runId = await runUntil('report', 'succeeded');
  const parameters = await expectStatus(200, 'POST', `${eu}/workspaces/${ws}/parameters`, {
    token: owner,
    body: { job: 'report', values: {} },
  });
  const appRunId = await runUntil('app', 'running');
  const setVariable = async () => {
    await expectStatus(200, 'PUT', `${eu}/workspaces/${ws}/variables/TARGET`, {
      token: owner,
      body: { value: 'original' },
    });
  };
  await setVariable();
  const storeMovedOutput = async () => {
    await expectStatus(200, 'PUT', `${eu}/workspaces/${ws}/moved-outputs/${runId}/report.txt`, {
      token: owner,
      raw: movedBytes,
      headers: { 'content-type': 'application/octet-stream', digest: movedDigest },
    });
  };

  const roleTokens = {} as Record<Role, string>;
  for (const role of Roles) roleTokens[role] = await tokenFor(people[role].token, ws, roleScopes[role]);
  const allBut = {} as Record<Scope, string>;
  for (const scope of Scopes) {
    allBut[scope] = await tokenFor(
      a.token,
      ws,
      Scopes.filter((s) => s !== scope),
    );
  }
  const strangerToken = await tokenFor(b.token, b.workspace.workspaceId, Scopes);
  const siblingToken = await tokenFor(a.token, sibling.workspaceId, Scopes);
  const abroadToken = await tokenFor(a.token, abroad.workspaceId, Scopes);

  const audience = refusal(401, ErrorCode.tokenAudienceInvalid);
  const mismatch = { workspace: refusal(403, ErrorCode.tokenWorkspaceMismatch), run: refusal(404, 'run_not_found') };
  const intruders: Intruder[] = [
    {
      label: 'the owner, with every scope but the one the route needs',
      plane: 'eu-1',
      token: (scope) => allBut[scope],
      refusal: {
        workspace: refusal(403, ErrorCode.tokenScopeMissing),
        run: refusal(403, ErrorCode.tokenScopeMissing),
      },
    },
    {
      label: "another organization's owner, with a token for its workspace on the same data plane",
      plane: 'eu-1',
      token: () => strangerToken,
      refusal: mismatch,
    },
    {
      label: "the owner, with a token for another of the organization's workspaces",
      plane: 'eu-1',
      token: () => siblingToken,
      refusal: mismatch,
    },
    {
      label: "the owner, with a token for the organization's workspace in the other region",
      plane: 'eu-1',
      token: () => abroadToken,
      refusal: { workspace: audience, run: audience },
    },
    {
      label: 'the owner, at the other region’s data plane, with the workspace’s own token',
      plane: 'us-1',
      token: () => owner,
      refusal: { workspace: audience, run: audience },
    },
    {
      label: 'the owner, at the other region’s data plane, with a token for a workspace it hosts',
      plane: 'us-1',
      token: () => abroadToken,
      refusal: mismatch,
    },
    {
      label: 'no token',
      plane: 'eu-1',
      token: () => undefined,
      refusal: { workspace: refusal(401, ErrorCode.tokenMissing), run: refusal(401, ErrorCode.tokenMissing) },
    },
    {
      label: 'a control plane session instead of a scoped token',
      plane: 'eu-1',
      token: () => a.token,
      refusal: { workspace: refusal(401, ErrorCode.tokenMalformed), run: refusal(401, ErrorCode.tokenMalformed) },
    },
  ];

  return {
    platform,
    bundle,
    owner,
    roleTokens,
    intruders,
    ids: {
      workspaceId: ws,
      deploymentId: deployed.deploymentId as string,
      runId,
      appRunId,
      name: 'TARGET',
      job: 'report',
      parametersId: parameters.parametersId as string,
    },
    output: 'report.txt',
    setVariable,
    storeMovedOutput,
    /** What a refused write could have changed, as the owner reads it. */
    async snapshot() {
      const read = (path: string) => expectStatus(200, 'GET', `${eu}${path}`, { token: owner });
      return JSON.stringify([
        await read(`/workspaces/${ws}/variables`),
        await read(`/workspaces/${ws}/deployments`),
        await read(`/workspaces/${ws}/jobs/report/state`),
        await read(`/workspaces/${ws}/moved-outputs`),
      ]);
    },
  };
}
type World = Awaited<ReturnType<typeof buildWorld>>;

function request(w: World, op: Operation, plane: 'eu-1' | 'us-1', token: string | undefined): Promise<Answer> {
  const row = (table[op.key] ?? undocumented[op.key]) as Row;
  const ids = row.app === true ? { ...w.ids, runId: w.ids.appRunId } : w.ids;
  const url = row.url?.(w, plane) ?? `${w.platform.dp(plane).url}${fillPath(op.template, { ...ids, '*': w.output })}`;
  return call(op.method, url, { ...(token === undefined ? {} : { token }), ...row.send?.(w) });
}

const target = flowTarget();

describe(`data plane access matrix: every route, every role, two organizations, two regions [${target.name}]`, () => {
  let platform: Platform;
  let w: World;
  let operations: Operation[];

  before(async () => {
    platform = await Platform.start(target);
    w = await buildWorld(platform);
    operations = await servedOperationsAt(`${platform.dp('eu-1').url}/api/v1/openapi.json`, '/api/v1');
  });
  after(async () => {
    await platform?.stop();
  });

  it('covers exactly the routes the data plane documents, none of them public', () => {
    const served = operations.map((op) => op.key).sort();
    assert.deepEqual(served, Object.keys(table).sort(), 'a row for every documented route, and no stale row');
    assert.deepEqual(
      operations.filter((op) => op.documentedPublic).map((op) => op.key),
      [],
      'every route needs a scoped token',
    );
    // What the table gives a viewer, in one line: every read, no write.
    const viewerMay = Object.keys(table).filter((key) => roleScopes.viewer.includes((table[key] as Row).scope));
    assert.deepEqual(viewerMay.sort(), served.filter((key) => key.startsWith('GET ')).sort());
    for (const role of ['member', 'admin', 'owner'] as const) assert.deepEqual(roleScopes[role], Scopes);
  });

  it('refuses every caller that may not, with the right status and code, and changes nothing', async () => {
    const before = await w.snapshot();
    let cells = 0;
    for (const op of [...operations, ...undocumentedOperations]) {
      const row = (table[op.key] ?? undocumented[op.key]) as Row;
      const kind = op.template.includes('{workspaceId}') ? 'workspace' : 'run';
      for (const role of Roles) {
        if (roleScopes[role].includes(row.scope)) continue;
        const answer = await request(w, op, 'eu-1', w.roleTokens[role]);
        assertProblem(answer, 403, ErrorCode.tokenScopeMissing, `${op.key} by a ${role}`);
        assert.equal(answer.body.requiredScope, row.scope);
        cells += 1;
      }
      for (const intruder of w.intruders) {
        const { status, code } = intruder.refusal[kind];
        const answer = await request(w, op, intruder.plane, intruder.token(row.scope));
        assertProblem(answer, status, code, `${op.key} by ${intruder.label}`);
        cells += 1;
      }
    }
    assert.equal(await w.snapshot(), before, 'a refused call changed nothing');
    assert.ok(
      cells >= (operations.length + undocumentedOperations.length) * w.intruders.length,
      `${cells} refusals checked`,
    );
  });

  it('lets every role do exactly what its scopes allow, on its own workspace', async () => {
    for (const op of [...operations, ...undocumentedOperations]) {
      const row = (table[op.key] ?? undocumented[op.key]) as Row;
      for (const role of Roles.filter((r) => roleScopes[r].includes(row.scope))) {
        await row.prepare?.(w);
        const answer = await request(w, op, 'eu-1', w.roleTokens[role]);
        assert.equal(answer.status, row.ok, `${op.key} by a ${role}: ${JSON.stringify(answer.body)}`);
      }
    }
  });
});
