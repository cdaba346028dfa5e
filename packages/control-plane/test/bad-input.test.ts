import assert from 'node:assert/strict';
import { it } from 'node:test';
import { api, eachDatabase } from './support/harness.ts';

interface Operation {
  requestBody?: {
    content: Record<string, { schema: { properties?: Record<string, { type?: unknown }>; required?: string[] } }>;
  };
  parameters?: Array<{ in: string; name: string; schema?: { format?: string } }>;
}

const problem = (
  answer: { status: number; headers: Record<string, unknown>; body: any },
  status: number,
  code: string,
  what: string,
) => {
  assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer.body)}`);
  assert.match(String(answer.headers['content-type']), /application\/problem\+json/, what);
  assert.equal(answer.body.code, code, what);
  for (const member of ['type', 'title', 'status', 'detail']) assert.ok(member in answer.body, `${what} has ${member}`);
};

eachDatabase(
  'bad input on every route with a body',
  (h) => {
    it('answers malformed, unknown, mistyped, oversized and mislabelled bodies with problem documents, never a 500', async () => {
      const doc = await h().expect(200, 'GET', `${api}/openapi.json`);
      const uuid = '00000000-0000-4000-8000-000000000000';
      let checked = 0;
      for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
        for (const [method, operation] of Object.entries(operations)) {
          const schema = operation.requestBody?.content['application/json']?.schema;
          if (schema === undefined) continue;
          checked += 1;
          const url = path.replace(/\{\w+\}/g, uuid);
          const what = `${method.toUpperCase()} ${path}`;
          const send = (options: Parameters<ReturnType<typeof h>['request']>[2]) =>
            h().request(method.toUpperCase(), url, { token: h().adminToken, ...options });

          problem(await send({ raw: '{"name": ' }), 400, 'invalid_json', `${what} malformed`);
          const unknown = await send({ body: { sneaky: 'field' } });
          problem(unknown, 400, 'validation_failed', `${what} unknown field`);
          assert.ok(
            unknown.body.errors.some((e: { path: string }) => e.path === 'body.sneaky'),
            `${what} names the unknown field: ${JSON.stringify(unknown.body.errors)}`,
          );
          const field = schema.required?.[0] ?? Object.keys(schema.properties ?? {})[0];
          if (field !== undefined) {
            const mistyped = await send({ body: { [field]: { not: 'this type' } } });
            problem(mistyped, 400, 'validation_failed', `${what} wrong type`);
          }
          problem(await send({ body: { blob: 'x'.repeat(300 * 1024) } }), 413, 'body_too_large', `${what} oversize`);
          problem(
            await send({ raw: 'name=x', headers: { 'content-type': 'text/plain' } }),
            415,
            'unsupported_media_type',
            `${what} mislabelled`,
          );
        }
      }
      assert.ok(checked >= 15, `checked ${checked} routes with bodies`);
    });

    it('refuses ids that are not uuids, and bad query values, with a 400', async () => {
      for (const url of ['/workspaces/not-a-uuid', '/regions/1%27%20OR%201=1', '/runs/..%2F..%2Fetc', '/jobs/%00']) {
        problem(await h().request('GET', url, { token: h().adminToken }), 400, 'validation_failed', url);
      }
      for (const url of ['/runs?limit=0', '/runs?limit=abc', '/runs?status=exploded', '/regions?organizationId=x']) {
        problem(await h().request('GET', url, { token: h().adminToken }), 400, 'validation_failed', url);
      }
    });
  },
  { bodyLimit: 256 * 1024 },
);
