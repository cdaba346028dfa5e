/**
 * The regions, data planes and workspaces responses of the control plane, validated
 * against Airbyte's own OpenAPI fragments, copied verbatim (with their source commit in
 * each file's header) from the team's shared reference into test/fixtures/airbyte, so a
 * clone on any machine runs this suite. Method, path, success status and response
 * schema of every operation come from those fragments, so the test follows the
 * contract rather than restating it.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import { parse } from 'yaml';
import { type Answer, type Harness, onFlowDatabase } from './support/harness.ts';

const referenceDir = resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures/airbyte');
/** The public API spec, and the config API that alone defines DataplaneCreateResponseBody. */
const publicFile = 'public-api__api.yaml.fragments.yaml';
const configFile = 'config-api__config.yaml.fragments.yaml';
const schemaRef = '#/components/schemas/';

type JsonObject = Record<string, any>;

interface Fragment {
  kind: 'path' | 'schema';
  name: string;
  value: JsonObject;
}

interface Operation {
  operationId: string;
  method: string;
  path: string;
  /** The one 2xx response the spec declares, e.g. '200' or '204'. */
  successStatus: number;
  /** The name of the component schema of that response; undefined when it has no body. */
  schemaName: string | undefined;
}

interface Contract {
  operations: Map<string, Operation>;
  schemas: Map<string, JsonObject>;
  /** Properties left out of a schema because they $ref schemas absent from the fragments. */
  dropped: Map<string, string[]>;
  validator(schemaName: string): ValidateFunction;
}

const headerLine = /^# ---- (path|schema): (\S+)\s+\(source line \d+\) ----$/;

/**
 * A fragments file is a preamble of comments, then snippets each under a
 * `# ---- path|schema: NAME  (source line N) ----` header, indented as they were in the
 * original OpenAPI file. Each snippet is dedented and parsed on its own; it must hold
 * exactly the key its header names.
 */
function parseFragments(text: string, file: string): Fragment[] {
  const snippets: { kind: Fragment['kind']; name: string; lines: string[] }[] = [];
  for (const line of text.split(/\r?\n/)) {
    const header = headerLine.exec(line);
    if (header !== null) {
      snippets.push({ kind: header[1] as Fragment['kind'], name: header[2] as string, lines: [] });
      continue;
    }
    if (line.startsWith('# ----')) throw new Error(`${file}: unrecognized fragment header: ${line}`);
    snippets.at(-1)?.lines.push(line);
  }
  return snippets.map(({ kind, name, lines }) => {
    const indentOf = (line: string) => line.length - line.trimStart().length;
    const content = lines.filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
    if (content.length === 0) throw new Error(`${file}: fragment ${kind} ${name} is empty`);
    const indent = Math.min(...content.map(indentOf));
    const dedented = lines.map((line) => line.slice(Math.min(indent, indentOf(line)))).join('\n');
    let value: unknown;
    try {
      value = parse(dedented);
    } catch (error) {
      throw new Error(`${file}: fragment ${kind} ${name} is not valid YAML: ${(error as Error).message}`);
    }
    const keys = value !== null && typeof value === 'object' ? Object.keys(value) : [];
    if (keys.length !== 1 || keys[0] !== name) {
      throw new Error(`${file}: fragment ${kind} ${name} holds ${JSON.stringify(keys)}, not just ${name}`);
    }
    return { kind, name, value: (value as JsonObject)[name] as JsonObject };
  });
}

function readFragments(file: string): Fragment[] {
  const path = join(referenceDir, file);
  if (!existsSync(path)) {
    const present = readdirSync(referenceDir).join(', ');
    throw new Error(`Airbyte reference fragment ${path} is missing (the directory holds: ${present})`);
  }
  return parseFragments(readFileSync(path, 'utf8'), file);
}

const httpMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function operationsOf(fragments: Fragment[]): Map<string, Operation> {
  const operations = new Map<string, Operation>();
  for (const { kind, name: path, value } of fragments) {
    if (kind !== 'path') continue;
    for (const method of httpMethods) {
      const operation = value[method] as JsonObject | undefined;
      if (operation === undefined) continue;
      const operationId = operation.operationId as string;
      const successes = Object.keys(operation.responses ?? {}).filter((code) => /^2\d\d$/.test(code));
      assert.equal(successes.length, 1, `${operationId}: expected one 2xx response, found ${successes}`);
      const successStatus = successes[0] as string;
      const ref = operation.responses[successStatus].content?.['application/json']?.schema?.$ref as string | undefined;
      if (ref !== undefined && !ref.startsWith(schemaRef)) throw new Error(`${operationId}: unexpected $ref ${ref}`);
      operations.set(operationId, {
        operationId,
        method: method.toUpperCase(),
        path,
        successStatus: Number(successStatus),
        schemaName: ref?.slice(schemaRef.length),
      });
    }
  }
  return operations;
}

function refsIn(schema: unknown): string[] {
  if (schema === null || typeof schema !== 'object') return [];
  return Object.entries(schema).flatMap(([key, value]) =>
    key === '$ref' && typeof value === 'string' ? [value] : refsIn(value),
  );
}

/**
 * Properties whose schema $refs a component the fragments do not carry (WorkspaceResponse's
 * `notifications` -> NotificationsConfig) cannot be checked; they are left out of both
 * `properties` and `required`, and recorded so the test can say exactly what was left out.
 */
function withoutUnresolvable(schemas: Map<string, JsonObject>, dropped: Map<string, string[]>) {
  for (const [name, schema] of schemas) {
    const missing = Object.entries(schema.properties ?? {})
      .filter(([, property]) => refsIn(property).some((ref) => !schemas.has(ref.slice(schemaRef.length))))
      .map(([property]) => property);
    if (missing.length === 0) continue;
    const properties = { ...schema.properties };
    for (const property of missing) delete properties[property];
    const required = (schema.required ?? []).filter((property: string) => !missing.includes(property));
    schemas.set(name, { ...schema, properties, required });
    dropped.set(name, missing);
  }
}

function loadContract(): Contract {
  const publicFragments = readFragments(publicFile);
  const configFragments = readFragments(configFile);
  const schemas = new Map<string, JsonObject>();
  // The public spec wins; the config API fills its gap (DataplaneCreateResponseBody).
  for (const { kind, name, value } of [...publicFragments, ...configFragments]) {
    if (kind === 'schema' && !schemas.has(name)) schemas.set(name, value);
  }
  const dropped = new Map<string, string[]>();
  withoutUnresolvable(schemas, dropped);

  // OpenAPI 3.0 schemas: unknown keywords (x-speakeasy-*, example) are not errors.
  const ajv = new Ajv({ strict: false, allErrors: true });
  formatsPlugin.default(ajv);
  // Airbyte writes `format: UUID` for workspaceId; hold it to the same rule as `uuid`.
  ajv.addFormat('UUID', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  // One document, so `#/components/schemas/X` inside a schema resolves as in the spec.
  ajv.addSchema({ $id: 'airbyte', components: { schemas: Object.fromEntries(schemas) } });
  const validators = new Map<string, ValidateFunction>();
  return {
    operations: operationsOf(publicFragments),
    schemas,
    dropped,
    validator(schemaName) {
      if (!schemas.has(schemaName)) throw new Error(`No schema ${schemaName} in the Airbyte fragments`);
      let validate = validators.get(schemaName);
      if (validate === undefined) {
        validate = ajv.compile({ $ref: `airbyte${schemaRef}${schemaName}` });
        validators.set(schemaName, validate);
      }
      return validate;
    },
  };
}

let loaded: Contract | undefined;
/** Loaded on first use, so a missing reference fails every test with its message. */
function contract(): Contract {
  loaded ??= loadContract();
  return loaded;
}

function assertValid(schemaName: string, body: unknown, what: string) {
  const validate = contract().validator(schemaName);
  if (!validate(body)) {
    assert.fail(
      `${what}: the answer does not validate against Airbyte's ${schemaName}: ` +
        `${JSON.stringify(validate.errors, null, 2)}\nanswer: ${JSON.stringify(body)}`,
    );
  }
}

/**
 * Calls an operation the way the Airbyte fragment declares it (method, path with its
 * parameters filled in), asserts the declared success status, and validates the body
 * against the declared response schema.
 */
async function call(
  h: Harness,
  operationId: string,
  options: { params?: Record<string, string>; query?: string; token: string; body?: unknown },
): Promise<Answer> {
  const operation = contract().operations.get(operationId);
  assert.ok(operation, `operation ${operationId} is not in the Airbyte fragments`);
  const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = options.params?.[name];
    assert.ok(value, `${operationId}: no value for path parameter ${name}`);
    return encodeURIComponent(value);
  });
  const url = options.query === undefined ? path : `${path}?${options.query}`;
  const answer = await h.request(operation.method, url, { token: options.token, body: options.body });
  assert.equal(
    answer.status,
    operation.successStatus,
    `${operationId} (${operation.method} ${url}) answered ${answer.status}: ${answer.text}`,
  );
  if (operation.schemaName === undefined) assert.equal(answer.text, '', `${operationId} declares no body`);
  else assertValid(operation.schemaName, answer.body, `${operationId} (${operation.method} ${url})`);
  return answer;
}

function assertIsoUtc(value: unknown, what: string) {
  assert.equal(typeof value, 'string', `${what} is a string`);
  assert.match(value as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, `${what} is ISO-8601 UTC`);
  assert.ok(!Number.isNaN(Date.parse(value as string)), `${what} is a date`);
}

async function assertNotFound(h: Harness, url: string, token: string, code: string) {
  const answer = await h.request('GET', url, { token });
  assert.equal(answer.status, 404, `GET ${url} after delete: ${answer.text}`);
  assert.equal(answer.body.code, code);
}

const ids = (list: { data: Record<string, string>[] }, key: string) => list.data.map((item) => item[key]);

it('reads the Airbyte fragments: schemas and the operations of /regions and /dataplanes', () => {
  const { operations, schemas, dropped } = contract();
  for (const name of [
    'RegionResponse',
    'RegionsResponse',
    'DataplaneResponse',
    'DataplanesResponse',
    'DataplaneCreateResponseBody',
    'WorkspaceResponse',
    'WorkspacesResponse',
  ]) {
    assert.ok(schemas.has(name), `schema ${name}`);
  }
  assert.deepEqual(schemas.get('RegionResponse')?.required, [
    'regionId',
    'name',
    'organizationId',
    'enabled',
    'createdAt',
    'updatedAt',
  ]);
  assert.deepEqual(
    [...(schemas.get('DataplaneCreateResponseBody')?.required ?? [])].sort(),
    ['clientId', 'clientSecret', 'dataplaneId', 'regionId'],
    'DataplaneCreateResponseBody comes from the config API fragments',
  );
  // Of the response schemas checked here, only WorkspaceResponse.notifications (NotificationsConfig,
  // absent from the fragments) is left unchecked.
  for (const name of schemas.keys()) {
    if (/^(Region|Dataplane)/.test(name)) assert.equal(dropped.get(name), undefined, `${name} is checked whole`);
  }
  assert.deepEqual(dropped.get('WorkspaceResponse'), ['notifications']);
  assert.equal(dropped.get('WorkspacesResponse'), undefined);

  const expected: Record<string, [string, string, number, string | undefined]> = {
    listRegions: ['GET', '/regions', 200, 'RegionsResponse'],
    createRegion: ['POST', '/regions', 200, 'RegionResponse'],
    getRegion: ['GET', '/regions/{regionId}', 200, 'RegionResponse'],
    updateRegion: ['PATCH', '/regions/{regionId}', 200, 'RegionResponse'],
    deleteRegion: ['DELETE', '/regions/{regionId}', 200, 'RegionResponse'],
    listDataplanes: ['GET', '/dataplanes', 200, 'DataplanesResponse'],
    createDataplane: ['POST', '/dataplanes', 200, 'DataplaneCreateResponseBody'],
    getDataplane: ['GET', '/dataplanes/{dataplaneId}', 200, 'DataplaneResponse'],
    updateDataplane: ['PATCH', '/dataplanes/{dataplaneId}', 200, 'DataplaneResponse'],
    deleteDataplane: ['DELETE', '/dataplanes/{dataplaneId}', 200, 'DataplaneResponse'],
    deleteWorkspace: ['DELETE', '/workspaces/{workspaceId}', 204, undefined],
  };
  for (const [operationId, [method, path, status, schemaName]] of Object.entries(expected)) {
    const operation = operations.get(operationId);
    assert.ok(operation, `operation ${operationId}`);
    assert.deepEqual(
      [operation.method, operation.path, operation.successStatus, operation.schemaName],
      [method, path, status, schemaName],
      operationId,
    );
  }

  // The validators are real: a bare list, a missing field and a bad uuid are refused.
  const region = {
    regionId: '6f1c1b1e-8f0a-4c55-9a43-0f5b4d9b1a11',
    name: 'us',
    organizationId: '0b0d5a47-32f3-4bb4-bc1e-5b3e8f1e0c22',
    enabled: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
  assert.ok(contract().validator('RegionsResponse')({ data: [region] }));
  assert.ok(!contract().validator('RegionsResponse')([region]));
  assert.ok(!contract().validator('RegionResponse')({ ...region, enabled: undefined }));
  assert.ok(!contract().validator('RegionResponse')({ ...region, regionId: 'not-a-uuid' }));
  assert.ok(!contract().validator('WorkspaceResponse')({ workspaceId: 'nope', name: 'x', dataResidency: 'us' }));
});

onFlowDatabase("Airbyte's schemas for regions, data planes and workspaces", (h) => {
  it('regions: list, create, get, update and delete answer what Airbyte declares', async () => {
    const owner = await h().user('airbyte-regions');
    const organizationId = await h().organization(owner.token);
    const token = owner.token;
    const name = h().unique('Region');

    const created = (await call(h(), 'createRegion', { token, body: { name, organizationId } })).body;
    assert.equal(created.name, name);
    assert.equal(created.organizationId, organizationId);
    assert.equal(created.enabled, true, 'enabled defaults to true');
    assertIsoUtc(created.createdAt, 'createdAt');
    assertIsoUtc(created.updatedAt, 'updatedAt');
    const regionId: string = created.regionId;

    const got = (await call(h(), 'getRegion', { token, params: { regionId } })).body;
    assert.deepEqual(got, created);

    const renamed = `${name}-renamed`;
    const updated = (
      await call(h(), 'updateRegion', { token, params: { regionId }, body: { name: renamed, enabled: false } })
    ).body;
    assert.equal(updated.regionId, regionId);
    assert.equal(updated.name, renamed);
    assert.equal(updated.enabled, false);
    assert.equal(updated.createdAt, created.createdAt);
    assert.ok(Date.parse(updated.updatedAt) >= Date.parse(created.updatedAt));
    const merged = (await call(h(), 'updateRegion', { token, params: { regionId }, body: { enabled: true } })).body;
    assert.equal(merged.name, renamed, 'a merge patch keeps the fields it does not name');
    assert.equal(merged.enabled, true);

    const other = (await call(h(), 'createRegion', { token, body: { name: h().unique('other'), organizationId } }))
      .body;
    const list = (await call(h(), 'listRegions', { token, query: `organizationId=${organizationId}` })).body;
    assert.ok(!Array.isArray(list), 'a list answers the {data: [...]} envelope, not a bare array');
    assert.deepEqual(Object.keys(list), ['data']);
    const listed = list.data.filter((r: { organizationId: string }) => r.organizationId === organizationId);
    assert.deepEqual(listed.map((r: { regionId: string }) => r.regionId).sort(), [regionId, other.regionId].sort());
    assert.deepEqual(
      listed.find((r: { regionId: string }) => r.regionId === regionId),
      merged,
    );

    const deleted = await call(h(), 'deleteRegion', { token, params: { regionId } });
    assert.equal(deleted.status, 200, 'DELETE answers 200 with the deleted region, as Airbyte');
    assert.equal(deleted.body.regionId, regionId);
    assert.equal(deleted.body.name, renamed);
    assert.equal(deleted.body.organizationId, organizationId);

    const after = (await call(h(), 'listRegions', { token, query: `organizationId=${organizationId}` })).body;
    assert.ok(!ids(after, 'regionId').includes(regionId), 'a deleted region is not listed');
    assert.ok(ids(after, 'regionId').includes(other.regionId));
    await assertNotFound(h(), `/regions/${regionId}`, token, 'region_not_found');
  });

  it('data planes: create answers the credentials once; list, get, update and delete answer Airbyte’s shapes', async () => {
    const owner = await h().user('airbyte-dataplanes');
    const organizationId = await h().organization(owner.token);
    const token = owner.token;
    const regionId = await h().region(token, organizationId);
    const name = h().unique('dp');

    const create = await call(h(), 'createDataplane', { token, body: { regionId, name } });
    assert.equal(create.status, 200, 'POST answers 200, as Airbyte');
    const created = create.body;
    assert.equal(created.regionId, regionId);
    assert.equal(typeof created.clientId, 'string');
    assert.ok(created.clientId.length > 0, 'clientId is set');
    assert.equal(typeof created.clientSecret, 'string');
    assert.ok(created.clientSecret.length >= 16, 'clientSecret is a real secret');
    const dataplaneId: string = created.dataplaneId;

    const get = await call(h(), 'getDataplane', { token, params: { dataplaneId } });
    assert.equal(get.body.dataplaneId, dataplaneId);
    assert.equal(get.body.regionId, regionId);
    assert.equal(get.body.name, name);
    assert.equal(get.body.enabled, true, 'enabled defaults to true');
    assertIsoUtc(get.body.createdAt, 'createdAt');
    assertIsoUtc(get.body.updatedAt, 'updatedAt');
    assert.ok(!('clientSecret' in get.body), 'GET does not answer the secret');
    assert.ok(!get.text.includes(created.clientSecret), 'the secret appears nowhere in a later GET');

    const updated = (
      await call(h(), 'updateDataplane', {
        token,
        params: { dataplaneId },
        body: { name: `${name}-b`, enabled: false },
      })
    ).body;
    assert.equal(updated.dataplaneId, dataplaneId);
    assert.equal(updated.name, `${name}-b`);
    assert.equal(updated.enabled, false);
    assert.equal(updated.createdAt, get.body.createdAt);
    const merged = (await call(h(), 'updateDataplane', { token, params: { dataplaneId }, body: { enabled: true } }))
      .body;
    assert.equal(merged.name, `${name}-b`, 'a merge patch keeps the fields it does not name');
    assert.equal(merged.enabled, true);

    const second = (await call(h(), 'createDataplane', { token, body: { regionId, name: h().unique('dp') } })).body;
    const all = await call(h(), 'listDataplanes', { token });
    assert.ok(!Array.isArray(all.body), 'a list answers the {data: [...]} envelope, not a bare array');
    assert.deepEqual(Object.keys(all.body), ['data']);
    assert.ok(!all.text.includes(created.clientSecret), 'a list does not answer the secret');
    assert.deepEqual(
      all.body.data.find((d: { dataplaneId: string }) => d.dataplaneId === dataplaneId),
      merged,
    );
    const filtered = (await call(h(), 'listDataplanes', { token, query: `regionIds=${regionId}` })).body;
    assert.deepEqual(ids(filtered, 'dataplaneId').sort(), [dataplaneId, second.dataplaneId].sort());
    const otherRegion = await h().region(token, organizationId);
    const elsewhere = await h().dataplane(token, otherRegion);
    const both = (await call(h(), 'listDataplanes', { token, query: `regionIds=${regionId}&regionIds=${otherRegion}` }))
      .body;
    assert.deepEqual(
      ids(both, 'dataplaneId').sort(),
      [dataplaneId, second.dataplaneId, elsewhere.dataplaneId].sort(),
      'regionIds is form/explode: ?regionIds=a&regionIds=b',
    );

    const deleted = await call(h(), 'deleteDataplane', { token, params: { dataplaneId } });
    assert.equal(deleted.status, 200, 'DELETE answers 200 with the deleted data plane, as Airbyte');
    assert.equal(deleted.body.dataplaneId, dataplaneId);
    assert.equal(deleted.body.regionId, regionId);
    assert.equal(deleted.body.name, `${name}-b`);

    const after = (await call(h(), 'listDataplanes', { token, query: `regionIds=${regionId}` })).body;
    assert.deepEqual(ids(after, 'dataplaneId'), [second.dataplaneId], 'a deleted data plane is not listed');
    const afterAll = (await call(h(), 'listDataplanes', { token })).body;
    assert.ok(!ids(afterAll, 'dataplaneId').includes(dataplaneId));
    await assertNotFound(h(), `/dataplanes/${dataplaneId}`, token, 'dataplane_not_found');
  });

  it('deleting a region deletes its data planes, and only its own', async () => {
    const owner = await h().user('airbyte-cascade');
    const organizationId = await h().organization(owner.token);
    const token = owner.token;
    const regionId = await h().region(token, organizationId);
    const keptRegion = await h().region(token, organizationId);
    const first = await h().dataplane(token, regionId);
    const second = await h().dataplane(token, regionId);
    const kept = await h().dataplane(token, keptRegion);

    const deleted = await call(h(), 'deleteRegion', { token, params: { regionId } });
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.regionId, regionId);

    for (const plane of [first, second]) {
      await assertNotFound(h(), `/dataplanes/${plane.dataplaneId}`, token, 'dataplane_not_found');
    }
    const planes = (await call(h(), 'listDataplanes', { token })).body;
    const listed = ids(planes, 'dataplaneId');
    assert.ok(!listed.includes(first.dataplaneId) && !listed.includes(second.dataplaneId));
    assert.ok(listed.includes(kept.dataplaneId), "another region's data plane is untouched");
    const keptGet = (await call(h(), 'getDataplane', { token, params: { dataplaneId: kept.dataplaneId } })).body;
    assert.equal(keptGet.enabled, true);

    const regions = (await call(h(), 'listRegions', { token, query: `organizationId=${organizationId}` })).body;
    assert.ok(!ids(regions, 'regionId').includes(regionId));
    await assertNotFound(h(), `/regions/${regionId}`, token, 'region_not_found');
  });

  it("workspaces answer Airbyte's WorkspaceResponse, with dataResidency the region's name in lower case", async () => {
    const owner = await h().user('airbyte-workspaces');
    const organizationId = await h().organization(owner.token);
    const token = owner.token;
    const regionName = h().unique('EU-Central');
    const regionId = await h().region(token, organizationId, regionName);
    await h().dataplane(token, regionId);
    const name = h().unique('ws');

    const created = (await call(h(), 'createWorkspace', { token, body: { name, organizationId, regionId } })).body;
    assert.equal(created.name, name);
    assert.notEqual(regionName, regionName.toLowerCase(), 'the region name has upper-case letters');
    assert.equal(created.dataResidency, regionName.toLowerCase());
    const workspaceId: string = created.workspaceId;

    const got = (await call(h(), 'getWorkspace', { token, params: { workspaceId } })).body;
    assert.equal(got.workspaceId, workspaceId);
    assert.equal(got.dataResidency, regionName.toLowerCase());

    const updated = (
      await call(h(), 'updateWorkspace', { token, params: { workspaceId }, body: { name: `${name}-b` } })
    ).body;
    assert.equal(updated.name, `${name}-b`);
    assert.equal(updated.dataResidency, regionName.toLowerCase());

    const list = (await call(h(), 'listWorkspaces', { token, query: `organizationId=${organizationId}` })).body;
    assert.deepEqual(
      list.data.map((w: { workspaceId: string; dataResidency: string }) => [w.workspaceId, w.dataResidency]),
      [[workspaceId, regionName.toLowerCase()]],
    );

    await call(h(), 'deleteWorkspace', { token, params: { workspaceId } });
    await assertNotFound(h(), `/workspaces/${workspaceId}`, token, 'workspace_not_found');
  });

  it("follows Airbyte's multi-region guide request by request, its data planes under their region", async () => {
    const owner = await h().user('airbyte-guide');
    const organizationId = await h().organization(owner.token);
    const token = owner.token;
    /** A request of the guide, as written; the answer checked against Airbyte's schema. */
    const guide = async (method: string, url: string, status: number, schema?: string, body?: unknown) => {
      const answer = await h().request(method, url, { token, body });
      assert.equal(answer.status, status, `${method} ${url}: ${answer.text}`);
      if (schema !== undefined) assertValid(schema, answer.body, `${method} ${url}`);
      return answer.body;
    };

    // 1. Create a region.
    const region = await guide('POST', '/regions', 200, 'RegionResponse', {
      name: h().unique('aws-us-east-1'),
      organizationId,
      enabled: true,
    });
    const regionId: string = region.regionId;

    // 2. Create a data plane, under its region: its credentials, once.
    const created = await guide('POST', `/regions/${regionId}/dataplanes`, 200, 'DataplaneCreateResponseBody', {
      name: 'aws-us-west-3-dp-8',
      enabled: true,
    });
    const dataplaneId: string = created.dataplaneId;
    assert.equal(typeof created.clientId, 'string');
    assert.ok(created.clientSecret.length >= 16, 'clientSecret is a real secret');
    assert.equal(created.regionId, regionId);

    // 3. Associate a workspace with the region: its data plane has not registered yet.
    const workspace = await guide('POST', '/workspaces', 200, 'WorkspaceResponse', {
      name: h().unique('Acme Company'),
      organizationId,
      regionId,
    });
    assert.equal(workspace.dataplaneId, dataplaneId, 'bound to the data plane that is yet to come up');

    // Manage: which region a workspace uses; regions; the region's data planes.
    const got = await guide('GET', `/workspaces/${workspace.workspaceId}`, 200, 'WorkspaceResponse');
    assert.equal(got.dataResidency, region.name.toLowerCase());
    const regions = await guide('GET', `/regions?organizationId=${organizationId}`, 200, 'RegionsResponse');
    assert.ok(ids(regions, 'regionId').includes(regionId));
    assert.deepEqual(await guide('GET', `/regions/${regionId}`, 200, 'RegionResponse'), region);
    const renamed = await guide('PATCH', `/regions/${regionId}`, 200, 'RegionResponse', {
      name: `${region.name}-b`,
      enabled: true,
    });
    assert.equal(renamed.name, `${region.name}-b`);

    const second = await guide('POST', `/regions/${regionId}/dataplanes`, 200, 'DataplaneCreateResponseBody', {
      name: 'aws-us-west-3-dp-9',
      enabled: true,
    });
    const listed = await guide('GET', `/regions/${regionId}/dataplanes`, 200, 'DataplanesResponse');
    assert.deepEqual(ids(listed, 'dataplaneId').sort(), [dataplaneId, second.dataplaneId].sort());
    const plane = await guide('GET', `/regions/${regionId}/dataplanes/${dataplaneId}`, 200, 'DataplaneResponse');
    assert.equal(plane.name, 'aws-us-west-3-dp-8');
    assert.deepEqual(
      plane,
      await guide('GET', `/dataplanes/${dataplaneId}`, 200, 'DataplaneResponse'),
      'one data plane, either path',
    );
    const patched = await guide('PATCH', `/regions/${regionId}/dataplanes/${dataplaneId}`, 200, 'DataplaneResponse', {
      enabled: false,
    });
    assert.equal(patched.enabled, false);
    assert.equal(patched.name, 'aws-us-west-3-dp-8', 'a merge patch');

    // A data plane asked for under a region it is not in is not found there.
    const elsewhere = await h().region(token, organizationId);
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const answer = await h().request(method, `/regions/${elsewhere}/dataplanes/${dataplaneId}`, {
        token,
        ...(method === 'PATCH' ? { body: { enabled: true } } : {}),
      });
      assert.equal(answer.status, 404, `${method} under another region: ${answer.text}`);
      assert.equal(answer.body.code, 'dataplane_not_found');
    }
    const stranger = await h().user('airbyte-guide-stranger');
    const hidden = await h().request('GET', `/regions/${regionId}/dataplanes`, { token: stranger.token });
    assert.equal(hidden.status, 404, "another organization's region is not found");
    assert.equal(hidden.body.code, 'region_not_found');
    const noRegion = await h().request('POST', `/regions/${regionId}/dataplanes`, {
      token,
      body: { name: 'x', enabled: true, regionId },
    });
    assert.equal(noRegion.status, 400, "the region is the path's, not the body's");

    const deleted = await guide(
      'DELETE',
      `/regions/${regionId}/dataplanes/${second.dataplaneId}`,
      200,
      'DataplaneResponse',
    );
    assert.equal(deleted.dataplaneId, second.dataplaneId);
    await assertNotFound(h(), `/regions/${regionId}/dataplanes/${second.dataplaneId}`, token, 'dataplane_not_found');
    await guide('DELETE', `/regions/${regionId}`, 200, 'RegionResponse');
    await assertNotFound(h(), `/regions/${regionId}`, token, 'region_not_found');
  });
});
