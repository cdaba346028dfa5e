import assert from 'node:assert/strict';
import { type Answer, api, type Harness } from './harness.ts';

/** A JSON schema as the OpenAPI document prints it (only what the suites read). */
export interface JsonSchema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
}

export interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema: JsonSchema;
}

/** One operation of the served OpenAPI document. */
export interface Operation {
  /** `METHOD /path` with the public prefix taken off, e.g. `GET /workspaces/{workspaceId}`. */
  key: string;
  method: string;
  /** The path template as served, prefix included. */
  template: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  /** The JSON schema of the request body, when the operation takes one. */
  body: JsonSchema | undefined;
  /** The document says the operation needs no credential (`security: []`). */
  documentedPublic: boolean;
}

const methods = ['get', 'put', 'post', 'patch', 'delete'];

/** Every operation the control plane documents, read from the OpenAPI document it serves. */
export async function servedOperations(h: Harness): Promise<Operation[]> {
  const answer = await h.request('GET', `${api}/openapi.json`);
  assert.equal(answer.status, 200, answer.text);
  const doc = answer.body as {
    security?: unknown[];
    paths: Record<
      string,
      Record<
        string,
        {
          parameters?: Parameter[];
          requestBody?: { content?: Record<string, { schema: JsonSchema }> };
          security?: unknown[];
        }
      >
    >;
  };
  const operations: Operation[] = [];
  for (const [template, entries] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(entries)) {
      if (!methods.includes(method)) continue;
      const parameters = op.parameters ?? [];
      const security = op.security ?? doc.security ?? [];
      operations.push({
        key: `${method.toUpperCase()} ${template.startsWith(api) ? template.slice(api.length) : template}`,
        method: method.toUpperCase(),
        template,
        pathParams: parameters.filter((p) => p.in === 'path'),
        queryParams: parameters.filter((p) => p.in === 'query'),
        body: op.requestBody?.content?.['application/json']?.schema,
        documentedPublic: security.length === 0,
      });
    }
  }
  return operations;
}

/** The operation's URL with each `{param}` replaced; a parameter without a value fails the test. */
export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    assert.ok(value !== undefined, `no value for the path parameter {${name}} of ${template}`);
    return encodeURIComponent(value);
  });
}

/** Asserts an answer is an RFC 9457 problem document with this status and stable code. */
export function assertProblem(answer: Answer, status: number, code: string, what: string): void {
  assert.equal(answer.status, status, `${what}: expected ${status} ${code}, got ${answer.status} ${answer.text}`);
  assert.match(
    String(answer.headers['content-type']),
    /^application\/problem\+json\b/,
    `${what}: content-type of a refusal`,
  );
  const body = answer.body as Record<string, unknown>;
  assert.equal(body.code, code, `${what}: code (${answer.text})`);
  assert.equal(body.status, status, `${what}: status member`);
  assert.equal(body.type, `urn:sovereign:error:${code}`, `${what}: type member`);
  assert.equal(typeof body.title, 'string', `${what}: title member`);
  assert.ok(String(body.title).length > 0, `${what}: title is empty`);
  assert.equal(typeof body.detail, 'string', `${what}: detail member`);
  assert.ok(String(body.detail).length > 0, `${what}: detail is empty`);
}

/** A value the schema accepts: the least one (required members only), ids from `known` by name. */
export function sample(schema: JsonSchema, name = '', known: Record<string, string> = {}): unknown {
  if (schema.enum !== undefined) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string': {
      if (known[name] !== undefined) return known[name];
      if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      const size = Math.max(schema.minLength ?? 1, 1);
      const fits = ['a'.repeat(size), '1'.repeat(size), 'someone@example.test'].find(
        (candidate) => schema.pattern === undefined || new RegExp(schema.pattern).test(candidate),
      );
      if (fits === undefined) throw new Error(`no sample for the pattern ${schema.pattern} of ${name}`);
      return fits;
    }
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return Array.from({ length: Math.max(schema.minItems ?? 0, 1) }, (_, i) =>
        schema.items?.enum !== undefined ? schema.items.enum[i] : sample(schema.items ?? {}, name, known),
      );
    case 'object': {
      const value: Record<string, unknown> = {};
      for (const member of schema.required ?? []) {
        value[member] = sample(schema.properties?.[member] ?? {}, member, known);
      }
      return value;
    }
  }
  throw new Error(`no sample for the schema of ${name}: ${JSON.stringify(schema)}`);
}

/** A value of the wrong JSON type for the schema. */
export function mistyped(schema: JsonSchema): unknown {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return 12345;
    case 'integer':
    case 'number':
      return 'not a number';
    case 'boolean':
      return 'yes';
    case 'array':
      return 'not a list';
    case 'object':
      return ['not', 'an', 'object'];
  }
  // An enum without a type: a value of another type than any it lists.
  return { not: 'one of them' };
}
