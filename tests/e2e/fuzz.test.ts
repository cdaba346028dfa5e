import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { InternalPaths, InternalRoutes, maxJsonDepth, Scopes } from '@sovereign/contract';
import {
  assertProblem,
  databaseTargets,
  type JsonSchema,
  type Operation,
  servedOperationsAt,
  unboundedInputs,
} from '@sovereign/server-kit/testing';
import fc from 'fast-check';
import {
  assertHandled,
  pathWith,
  type RawRequest,
  requestsFor,
  send,
  traversals,
  wildcardTraversals,
} from '../support/fuzz.ts';
import { call, dataScopes, expectStatus, Platform, userPassword } from '../support/platform.ts';
import { packProject } from '../support/projects.ts';

/**
 * Bad input at both planes, as real processes: a property-based fuzz of every route of
 * the control plane's public API, its internal API (the data planes' protocol) and the
 * data plane's API, from their schemas (bodies, queries, headers), finds no 5xx and no
 * crash; and every path parameter holding a traversal is refused with a 4xx problem.
 * Cases per route: SOV_FUZZ_RUNS (default 50); a failure prints the seed that replays it.
 */
const runs = Number(process.env.SOV_FUZZ_RUNS ?? 50);

/** The protocol's routes, which the public document does not list, with their schemas from the contract. */
function internalOperations(): Operation[] {
  return Object.values(InternalRoutes).map((route) => {
    const body = JSON.parse(JSON.stringify(route.body)) as JsonSchema;
    // A claim and a request for revocations are held open up to waitMs: keep the fuzz's valid ones short.
    if (body.properties?.waitMs !== undefined) body.properties.waitMs = { type: 'integer', minimum: 0, maximum: 50 };
    return {
      key: `POST ${route.path}`,
      method: 'POST',
      template: route.path,
      pathParams: [],
      queryParams: [],
      body,
      bodyTypes: ['application/json'],
      documentedPublic: route === InternalRoutes.token,
    };
  });
}

async function fuzz(base: string, op: Operation, ids: Record<string, string>, token: string | undefined) {
  await fc.assert(
    fc.asyncProperty(requestsFor(op, ids, token), async (req: RawRequest) => {
      assertHandled(await send(base, req), req);
    }),
    { numRuns: runs },
  );
}

/** Every path parameter of every operation, set to each traversal: a 4xx problem, never a success. */
async function traverse(base: string, operations: Operation[], ids: Record<string, string>, token: string) {
  let checked = 0;
  for (const op of operations) {
    const names = [...op.template.matchAll(/\{(\w+|\*)\}/g)].map((m) => m[1] as string);
    for (const name of names) {
      for (const raw of [...traversals, ...(name === '*' ? wildcardTraversals : [])]) {
        const req: RawRequest = { method: op.method, path: pathWith(op, name, raw, ids), headers: {} };
        req.headers.authorization = `Bearer ${token}`;
        if (op.body !== undefined) req.headers['content-type'] = 'application/json';
        if (op.body !== undefined) req.body = Buffer.from('{}');
        const answer = await send(base, req);
        assert.ok(answer.status >= 400 && answer.status < 500, `${op.key} with {${name}} = ${raw}: ${answer.status}`);
        assertHandled(answer, req);
        checked += 1;
      }
    }
  }
  return checked;
}

/**
 * A request that declares a body of 8 GiB and sends 64 KiB of it: the answer's status, type
 * and problem code, or no status when none came within 10 s (the server waits for the rest).
 */
async function declaredHuge(
  base: URL,
  path: string,
  method: string,
  headers: Record<string, string>,
): Promise<{ status?: number; contentType?: string; code?: string }> {
  const request = httpRequest({
    host: base.hostname,
    port: base.port,
    path,
    method,
    headers: { ...headers, 'content-length': String(8 * 1024 ** 3) },
  });
  const answered = new Promise<IncomingMessage | undefined>((resolve) => {
    request.once('response', resolve);
    request.once('error', () => resolve(undefined));
    request.once('close', () => resolve(undefined));
  });
  request.write(Buffer.alloc(64 * 1024, 0x20));
  const timer = setTimeout(() => request.destroy(), 10_000);
  const response = await answered;
  clearTimeout(timer);
  if (response === undefined) {
    request.destroy();
    return {};
  }
  let text = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    text += chunk;
  });
  await new Promise((resolve) => {
    response.once('end', resolve);
    response.once('close', resolve);
  });
  request.destroy();
  return {
    status: response.statusCode,
    contentType: response.headers['content-type']?.split(';')[0],
    code: (JSON.parse(text) as { code?: string }).code,
  };
}

/** Every process of the platform is running, healthy and ready. */
async function assertAllHealthy(platform: Platform) {
  for (const service of [platform.controlPlane, ...[...platform.dataplanes.values()].map((p) => p.service)]) {
    assert.equal(service.process.exitCode, null, `${service.url} exited: ${service.output().slice(-2000)}`);
    assert.equal(service.process.signalCode, null);
    assert.equal((await fetch(`${service.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${service.url}/readyz`)).status, 200, `${service.url} is ready`);
  }
}

/** JSON nested `depth` levels deep: arrays `[[[…]]]`, or objects `{"a":{"a":…}}`. */
const deepArrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const deepObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
/** JSON as wide as fits in `bytes`: an array of zeros, an object of numbered members. */
const wideArray = (bytes: number) => `[${new Array(Math.floor(bytes / 2) - 1).fill('0').join(',')}]`;
const wideObject = (bytes: number) =>
  `{${Array.from({ length: Math.floor(bytes / 13) - 1 }, (_, i) => `"k${String(i).padStart(7, '0')}":0`).join(',')}}`;
/** A string as long as fits in `bytes`. */
const longString = (bytes: number) => JSON.stringify('x'.repeat(bytes - 2));

/**
 * Hostile JSON for a body whose value goes in `member` (or is the body when there is
 * none), sized for a body limit of `limit` bytes: 2,000 and 100,000 levels deep (what
 * crashed PGlite and overflowed the stack), hundreds of thousands of members wide, and a
 * string near the limit. Deep is refused with 400 `json_too_deep`; wide and long get a
 * clear answer (a 4xx problem, or a success when the route takes them).
 */
function hostileJson(limit: number, member?: string, others = '') {
  const room = limit - 200;
  const wrap = (value: string) => (member === undefined ? value : `{${others}"${member}":${value}}`);
  return [
    { shape: 'deep', what: '2,000 levels of arrays', text: wrap(deepArrays(2_000)) },
    { shape: 'deep', what: '2,000 levels of objects', text: wrap(deepObjects(2_000)) },
    { shape: 'deep', what: '100,000 levels of arrays', text: wrap(deepArrays(100_000)) },
    { shape: 'wide', what: 'an array as wide as fits', text: wrap(wideArray(room)) },
    { shape: 'wide', what: 'an object as wide as fits', text: wrap(wideObject(room)) },
    { shape: 'long', what: 'a string as long as fits', text: wrap(longString(room)) },
  ] as const;
}

/** Sends hostile JSON; a deep body must be refused as too deep, and nothing may get a 5xx or no answer. */
async function sendHostile(
  base: string,
  path: string,
  method: string,
  token: string | undefined,
  json: ReturnType<typeof hostileJson>,
) {
  const answers: Array<{ shape: string; status: number }> = [];
  for (const { shape, what, text } of json) {
    const req: RawRequest = { method, path, headers: { 'content-type': 'application/json' }, body: Buffer.from(text) };
    if (token !== undefined) req.headers.authorization = `Bearer ${token}`;
    const answer = await send(base, req);
    assertHandled(answer, { ...req, body: Buffer.from(`${what}: ${text.slice(0, 100)}`) });
    if (shape === 'deep') {
      assertProblem(
        { status: answer.status, body: JSON.parse(answer.text), headers: { 'content-type': answer.contentType } },
        400,
        'json_too_deep',
        `${method} ${path} with ${what}`,
      );
    }
    answers.push({ shape, status: answer.status });
  }
  return answers;
}

for (const target of databaseTargets()) {
  describe(`bad input at both planes: fuzzed routes and path traversal, real processes [${target.name}]`, () => {
    let platform: Platform;
    let cpOperations: Operation[];
    let dpOperations: Operation[];
    const cp: { ids: Record<string, string>; token: string; dataplaneToken: string } = {
      ids: {},
      token: '',
      dataplaneToken: '',
    };
    const dp: { ids: Record<string, string>; token: string } = { ids: {}, token: '' };

    /** A workspace with a deployment and a finished run whose output and state exist. */
    async function workspaceWithARun(region: 'us' | 'eu', label: string) {
      const t = await platform.tenant(region, label);
      const ws = t.workspace.workspaceId as string;
      await platform.waitUntilHosted(t.token, ws);
      const issued = await platform.scopedToken(t.token, ws, [...Scopes]);
      const api = `${issued.dataplane.url}/api/v1/workspaces/${ws}`;
      const deployed = await expectStatus(200, 'POST', `${api}/deployments`, {
        token: issued.token,
        raw: new Uint8Array(
          await packProject({
            // Yearly, so it has intervals to backfill and never fires during the suite.
            'sovereign.yaml': 'jobs:\n  - name: job\n    run: node job.js\n    schedule: "0 0 1 1 *"\n',
            'job.js': `require('node:fs').writeFileSync(process.env.SOV_OUTPUT_DIR + '/out.txt', 'out');
require('node:fs').writeFileSync(process.env.SOV_STATE_FILE, '{"n":1}');`,
          }),
        ),
        headers: { 'content-type': 'application/gzip' },
      });
      await expectStatus(200, 'PUT', `${api}/variables/NAME`, { token: issued.token, body: { value: 'v' } });
      let jobId: string | undefined;
      await platform.waitFor(async () => {
        jobId = (await call('GET', `${platform.cp}/workspaces/${ws}/jobs`, { token: t.token })).body.data?.[0]?.jobId;
        return jobId !== undefined;
      }, 'the job to reach the control plane');
      const { runId } = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobId}/runs`, { token: t.token });
      await platform.waitFor(
        async () => (await call('GET', `${platform.cp}/runs/${runId}`, { token: t.token })).body.status === 'succeeded',
        'the run to succeed',
      );
      const { parametersId } = await expectStatus(200, 'POST', `${api}/parameters`, {
        token: issued.token,
        body: { job: 'job', values: {} },
      });
      return {
        t,
        ws,
        scoped: issued,
        deploymentId: deployed.deploymentId as string,
        jobId: jobId as string,
        runId,
        parametersId: parametersId as string,
      };
    }

    before(async () => {
      platform = await Platform.start(target);
      cpOperations = [
        ...(await servedOperationsAt(`${platform.cp}/openapi.json`, '/api/public/v1')),
        ...internalOperations(),
      ];
      dpOperations = await servedOperationsAt(`${platform.dp('eu-1').url}/api/v1/openapi.json`, '/api/v1');

      // The data plane's fuzz has a workspace of its own on eu-1.
      const d = await workspaceWithARun('eu', 'fuzz-dp');
      dp.token = d.scoped.token;
      dp.ids = {
        workspaceId: d.ws,
        deploymentId: d.deploymentId,
        runId: d.runId,
        parametersId: d.parametersId,
        name: 'NAME',
        job: 'job',
        '*': 'out.txt',
      };

      // The control plane's fuzz acts as the owner of an organization with one of each
      // entity, its own region and data plane included: whatever it deletes is its own.
      const c = await workspaceWithARun('us', 'fuzz-cp');
      const { regionId } = await expectStatus(200, 'POST', `${platform.cp}/regions`, {
        token: c.t.token,
        body: { name: 'fuzz-region', organizationId: c.t.organizationId },
      });
      const plane = await expectStatus(200, 'POST', `${platform.cp}/dataplanes`, {
        token: c.t.token,
        body: { name: 'fuzz-dp', regionId },
      });
      const key = await expectStatus(200, 'POST', `${platform.cp}/api-keys`, { token: c.t.token, body: { name: 'k' } });
      const exchanged = await expectStatus(200, 'POST', `${platform.controlPlaneUrl}${InternalPaths.token}`, {
        body: { client_id: plane.clientId, client_secret: plane.clientSecret },
      });
      const backfill = await expectStatus(200, 'POST', `${platform.cp}/jobs/${c.jobId}/backfills`, {
        token: c.t.token,
        body: { from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z' },
      });
      cp.token = c.t.token;
      cp.dataplaneToken = exchanged.access_token;
      cp.ids = {
        organizationId: c.t.organizationId,
        regionId,
        dataplaneId: plane.dataplaneId,
        workspaceId: c.ws,
        userId: c.t.userId,
        apiKeyId: key.apiKeyId,
        tokenId: c.scoped.tokenId,
        jobId: c.jobId,
        runId: c.runId,
        backfillId: backfill.backfillId,
      };
    });
    after(async () => {
      await platform?.stop();
    });

    const tokenFor = (op: Operation) => (op.template.startsWith('/api/internal/') ? cp.dataplaneToken : cp.token);

    it('bounds every number either plane takes, so none reaches a database too large to hold', () => {
      assert.deepEqual(unboundedInputs(dpOperations), [], 'data plane');
      assert.deepEqual(unboundedInputs(cpOperations), [], 'control plane, public and internal');
    });

    it(`fuzzes every data plane route (${runs} cases each): no 5xx, every refusal a problem document`, async () => {
      assert.ok(dpOperations.length >= 11, `${dpOperations.length} data plane routes`);
      for (const op of dpOperations) await fuzz(platform.dp('eu-1').url, op, dp.ids, dp.token);
    });

    it('refuses text PostgreSQL cannot store (NUL, unpaired surrogates) in state and variables with a 400', async () => {
      const ws = `${platform.dp('eu-1').url}/api/v1/workspaces/${dp.ids.workspaceId}`;
      for (const [path, raw] of [
        ['/jobs/job/state', '{"state": {"cursor": "\\ud800"}}'],
        ['/jobs/job/state', '{"state": ["\\udfff\\ud800"]}'],
        ['/jobs/job/state', '{"state": {"a\\u0000b": 1}}'],
        ['/variables/NAME', '{"value": "a\\ud800b"}'],
        ['/variables/NAME', '{"value": "a\\u0000b"}'],
      ] as const) {
        const answer = await call('PUT', `${ws}${path}`, {
          token: dp.token,
          raw,
          headers: { 'content-type': 'application/json' },
        });
        assertProblem(answer, 400, 'validation_failed', `${path} ${raw}`);
      }
    });

    it('answers deep, wide and long JSON on both planes with a clear 4xx (or a success), and every tenant goes on', async () => {
      // A tenant of the same data plane, who sends nothing hostile: it must still be served afterwards.
      const bystander = await platform.tenant('eu', 'bystander');
      const bystanderWs = bystander.workspace.workspaceId as string;
      await platform.waitUntilHosted(bystander.token, bystanderWs);
      // State is kept for deployed jobs only.
      await platform.deploy(bystander.token, bystanderWs, {
        'sovereign.yaml': 'jobs:\n  - name: job\n    run: sh -c true\n',
      });
      const bystanderToken = (await platform.scopedToken(bystander.token, bystanderWs, dataScopes)).token;
      const bystanderState = `${platform.dp('eu-1').url}/api/v1/workspaces/${bystanderWs}/jobs/job/state`;
      await expectStatus(200, 'PUT', bystanderState, { token: bystanderToken, body: { state: { before: true } } });

      const cpLimit = 256 * 1024;
      const dpLimit = 1024 * 1024;
      // Unauthenticated, on both planes' public doors: signing in and a data plane's token exchange.
      await sendHostile(
        platform.controlPlaneUrl,
        '/api/public/v1/auth/login',
        'POST',
        undefined,
        hostileJson(cpLimit, 'password', '"email":"admin@localhost",'),
      );
      await sendHostile(platform.controlPlaneUrl, '/api/public/v1/auth/login', 'POST', undefined, hostileJson(cpLimit));
      await sendHostile(
        platform.controlPlaneUrl,
        InternalPaths.token,
        'POST',
        undefined,
        hostileJson(cpLimit, 'client_secret', '"client_id":"x",'),
      );
      // Authenticated: a data plane's protocol, and the public API.
      await sendHostile(
        platform.controlPlaneUrl,
        InternalPaths.heartbeat,
        'POST',
        cp.dataplaneToken,
        hostileJson(cpLimit),
      );
      await sendHostile(
        platform.controlPlaneUrl,
        InternalPaths.runEvents,
        'POST',
        cp.dataplaneToken,
        hostileJson(cpLimit, 'events'),
      );
      await sendHostile(
        platform.controlPlaneUrl,
        '/api/public/v1/organizations',
        'POST',
        cp.token,
        hostileJson(cpLimit, 'name'),
      );
      // Every data plane route that takes JSON, the job's state first: it is stored as jsonb as sent.
      const dpBase = platform.dp('eu-1').url;
      const ws = `/api/v1/workspaces/${dp.ids.workspaceId}`;
      const state = await sendHostile(dpBase, `${ws}/jobs/job/state`, 'PUT', dp.token, hostileJson(dpLimit, 'state'));
      // A state is any JSON: wide and long ones within the body limit are taken.
      assert.deepEqual(
        state.filter((a) => a.shape !== 'deep').map((a) => a.status),
        [200, 200, 200],
        'wide and long states within the limit are saved',
      );
      await sendHostile(dpBase, `${ws}/variables/NAME`, 'PUT', dp.token, hostileJson(dpLimit, 'value'));
      const jsonRoutes = dpOperations.filter((op) => op.bodyTypes.includes('application/json'));
      assert.ok(jsonRoutes.length >= 2, `${jsonRoutes.length} data plane routes take JSON`);
      for (const op of jsonRoutes) {
        await sendHostile(dpBase, pathWith(op, '', '', dp.ids), op.method, dp.token, hostileJson(dpLimit));
      }

      // Every process is still up, and the other tenant is served by its data plane and the control plane.
      await assertAllHealthy(platform);
      assert.deepEqual((await expectStatus(200, 'GET', bystanderState, { token: bystanderToken })).state, {
        before: true,
      });
      await expectStatus(200, 'PUT', bystanderState, { token: bystanderToken, body: { state: { after: true } } });
      assert.deepEqual((await expectStatus(200, 'GET', bystanderState, { token: bystanderToken })).state, {
        after: true,
      });
      await expectStatus(200, 'GET', `${platform.cp}/workspaces/${bystanderWs}`, { token: bystander.token });
      await expectStatus(200, 'POST', `${platform.cp}/auth/login`, {
        body: { email: bystander.email, password: userPassword },
      });
    });

    it('answers a body declared at 8 GiB on every data plane route that takes one at once, before reading it, and goes on', async () => {
      // A route that streams a large body (a bundle, a moved output) has a body limit of
      // gigabytes; a body of another type would be parsed whole, as one string, and a JSON
      // body at that limit ended the data plane (a string longer than V8 allows) for every
      // tenant on it. Each route must answer with a 4xx while 64 KiB of the 8 GiB declared
      // have been sent: a route that waits for the rest never answers here.
      const dpBase = new URL(platform.dp('eu-1').url);
      const withBody = dpOperations.filter((op) => op.method === 'POST' || op.method === 'PUT');
      assert.ok(
        withBody.some((op) => op.template.includes('moved-outputs')) &&
          withBody.some((op) => op.template.endsWith('/deployments')),
        'the streaming routes are among them',
      );
      for (const op of withBody) {
        for (const type of ['application/json', 'application/x-www-form-urlencoded', 'text/plain']) {
          const answer = await declaredHuge(dpBase, pathWith(op, '', '', dp.ids), op.method, {
            authorization: `Bearer ${dp.token}`,
            'content-type': type,
            digest: `sha-256=${Buffer.alloc(32).toString('base64')}`,
          });
          assert.ok(
            answer.status !== undefined && answer.status >= 400 && answer.status < 500,
            `${op.key} as ${type}: ${answer.status ?? 'no answer within 10 s'}`,
          );
          assert.equal(answer.contentType, 'application/problem+json', `${op.key} as ${type}`);
          assert.notEqual(answer.code, 'route_not_found', `${op.key} as ${type}: the route itself answers`);
        }
      }
      await assertAllHealthy(platform);
    });

    it('saves no state file nested too deep: the run succeeds, its log says why, the state before stays', async () => {
      const t = await platform.tenant('eu', 'deep-state');
      const ws = t.workspace.workspaceId as string;
      const { jobs } = await platform.deploy(t.token, ws, {
        'sovereign.yaml':
          'jobs:\n  - name: deep\n    run: node deep.js 2000\n  - name: deeper\n    run: node deep.js 100000\n',
        'deep.js': `const depth = Number(process.argv[2]);
require('node:fs').writeFileSync(process.env.SOV_STATE_FILE, '['.repeat(depth) + ']'.repeat(depth));`,
      });
      const token = (await platform.scopedToken(t.token, ws, dataScopes)).token;
      const dpApi = `${platform.dp('eu-1').url}/api/v1`;
      for (const job of ['deep', 'deeper']) {
        const stateUrl = `${dpApi}/workspaces/${ws}/jobs/${job}/state`;
        await expectStatus(200, 'PUT', stateUrl, { token, body: { state: { cursor: 7 } } });
        const { runId } = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs[job]}/runs`, { token: t.token });
        await platform.waitFor(async () => {
          const status = (await call('GET', `${platform.cp}/runs/${runId}`, { token: t.token })).body.status;
          assert.ok(status !== 'failed' && status !== 'timed_out', `${job}: the run ${status}`);
          return status === 'succeeded';
        }, `the ${job} run to succeed`);
        const log = await expectStatus(200, 'GET', `${dpApi}/runs/${runId}/logs`, { token });
        assert.deepEqual(
          log.data.map((l: { line: string }) => l.line),
          [`sovereign: the state file nests deeper than ${maxJsonDepth - 1} levels; state not saved`],
          job,
        );
        assert.deepEqual((await expectStatus(200, 'GET', stateUrl, { token })).state, { cursor: 7 }, job);
      }
      await assertAllHealthy(platform);
    });

    it('refuses a traversal in every path parameter of the data plane with a 4xx problem document', async () => {
      const checked = await traverse(platform.dp('eu-1').url, dpOperations, dp.ids, dp.token);
      assert.ok(checked > dpOperations.length * traversals.length, `${checked} traversals`);
    });

    it('refuses a public URL that is not a plain http(s) URL, from an administrator or a data plane, with a 400', async () => {
      // Where the control plane sends clients with their tokens: no other scheme, no user
      // info, query or fragment, no whitespace or backslash, no longer than 2,048 characters.
      // Before the fuzz, which may end the owner's session and delete its data plane.
      const bad = [
        'javascript:alert(1)',
        'file:///etc/passwd',
        'ftp://dp.example.test',
        'data:text/html,<script>alert(1)</script>',
        'http://user:secret@dp.example.test',
        'http://dp.example.test@127.0.0.1:9099',
        'https://dp.example.test/?next=http://127.0.0.1:9099',
        'https://dp.example.test/#frag',
        'https://dp.example.test\\@evil.test',
        'http://dp example.test',
        ' http://dp.example.test',
        'HTTP://DP.EXAMPLE.TEST',
        'http://',
        '//dp.example.test',
        'dp.example.test',
        '',
        `https://dp.example.test/${'a'.repeat(2048)}`,
      ];
      const facts = { protocolVersion: 1, instanceId: cp.ids.workspaceId, version: '0.1.0', capacity: 1 };
      const calls: Array<[string, string, string, (url: string) => unknown]> = [
        [
          'POST',
          `${platform.cp}/dataplanes`,
          cp.token,
          (publicUrl) => ({ name: 'bad-url', regionId: cp.ids.regionId, publicUrl }),
        ],
        ['PATCH', `${platform.cp}/dataplanes/${cp.ids.dataplaneId}`, cp.token, (publicUrl) => ({ publicUrl })],
        [
          'POST',
          `${platform.controlPlaneUrl}${InternalPaths.initialize}`,
          cp.dataplaneToken,
          (publicUrl) => ({ ...facts, publicUrl }),
        ],
        [
          'POST',
          `${platform.controlPlaneUrl}${InternalPaths.heartbeat}`,
          cp.dataplaneToken,
          (publicUrl) => ({ ...facts, publicUrl, heldRuns: [] }),
        ],
      ];
      for (const [method, url, token, body] of calls) {
        for (const publicUrl of bad) {
          const answer = await call(method, url, { token, body: body(publicUrl) });
          assertProblem(
            answer,
            400,
            'validation_failed',
            `${method} ${url} with publicUrl ${JSON.stringify(publicUrl)}`,
          );
        }
      }
    });

    it(`fuzzes every control plane route, public and internal (${runs} cases each): no 5xx`, async () => {
      assert.ok(cpOperations.length >= 50, `${cpOperations.length} control plane routes`);
      for (const op of cpOperations) await fuzz(platform.controlPlaneUrl, op, cp.ids, tokenFor(op));
    });

    it('refuses a traversal in every path parameter of the control plane with a 4xx problem document', async () => {
      const withParams = cpOperations.filter((op) => op.template.includes('{'));
      const checked = await traverse(platform.controlPlaneUrl, withParams, cp.ids, cp.token);
      assert.ok(checked > withParams.length * traversals.length, `${checked} traversals`);
    });

    it('leaves every process running and healthy', async () => {
      await assertAllHealthy(platform);
    });
  });
}
