import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ClaimRequest,
  DataplaneTokenRequest,
  DeploymentReport,
  HeartbeatRequest,
  InitializeRequest,
  InternalPaths,
  RunEventsRequest,
  Scopes,
} from '@sovereign/protocol';
import {
  assertProblem,
  databaseTargets,
  type JsonSchema,
  type Operation,
  servedOperationsAt,
} from '@sovereign/protocol/testing';
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
import { call, expectStatus, Platform } from '../support/platform.ts';
import { packProject } from '../support/projects.ts';

/**
 * Bad input at both planes, as real processes: a property-based fuzz of every route of
 * the control plane's public API, its internal API (the data planes' protocol) and the
 * data plane's API, from their schemas (bodies, queries, headers), finds no 5xx and no
 * crash; and every path parameter holding a traversal is refused with a 4xx problem.
 * Cases per route: SOV_FUZZ_RUNS (default 50); a failure prints the seed that replays it.
 */
const runs = Number(process.env.SOV_FUZZ_RUNS ?? 50);

/** The protocol's routes, which the public document does not list, with their schemas from the protocol. */
function internalOperations(): Operation[] {
  const schemaOf = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as JsonSchema;
  const claim = schemaOf(ClaimRequest);
  // A claim is held open up to waitMs: keep the fuzz's valid ones short.
  if (claim.properties !== undefined) claim.properties.waitMs = { type: 'integer', minimum: 0, maximum: 50 };
  return (
    [
      [InternalPaths.token, schemaOf(DataplaneTokenRequest)],
      [InternalPaths.initialize, schemaOf(InitializeRequest)],
      [InternalPaths.heartbeat, schemaOf(HeartbeatRequest)],
      [InternalPaths.deploymentReport, schemaOf(DeploymentReport)],
      [InternalPaths.claim, claim],
      [InternalPaths.runEvents, schemaOf(RunEventsRequest)],
    ] as const
  ).map(([path, body]) => ({
    key: `POST ${path}`,
    method: 'POST',
    template: path,
    pathParams: [],
    queryParams: [],
    body,
    bodyTypes: ['application/json'],
    documentedPublic: path === InternalPaths.token,
  }));
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
            'sovereign.yaml': 'jobs:\n  - name: job\n    run: node job.js\n',
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
      return { t, ws, scoped: issued, deploymentId: deployed.deploymentId as string, jobId: jobId as string, runId };
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
      };
    });
    after(async () => {
      await platform?.stop();
    });

    const tokenFor = (op: Operation) => (op.template.startsWith('/api/internal/') ? cp.dataplaneToken : cp.token);

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
      for (const service of [platform.controlPlane, ...[...platform.dataplanes.values()].map((p) => p.service)]) {
        assert.equal(service.process.exitCode, null, `${service.url} exited: ${service.output().slice(-2000)}`);
        assert.equal(service.process.signalCode, null);
        assert.equal((await fetch(`${service.url}/healthz`)).status, 200);
        assert.equal((await fetch(`${service.url}/readyz`)).status, 200, `${service.url} is ready`);
      }
    });
  });
}
