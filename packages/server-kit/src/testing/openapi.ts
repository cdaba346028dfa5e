import assert from 'node:assert/strict';

/**
 * Route-driven suites read the routes a service serves from its own OpenAPI document,
 * so a route added without a row in their tables fails them. What they share: the
 * document's operations, filling a path, problem documents, and values a schema takes.
 */

/** A JSON schema as an OpenAPI document prints it (only what the suites read). */
export interface JsonSchema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  const?: unknown;
}

export interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema: JsonSchema;
}

/** One operation of a served OpenAPI document. */
export interface Operation {
  /** `METHOD /path` with the API prefix taken off, e.g. `GET /workspaces/{workspaceId}`. */
  key: string;
  method: string;
  /** The path template as served, prefix included; a trailing wildcard is `{*}`. */
  template: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  /** The JSON schema of the request body, when the operation takes a JSON one. */
  body: JsonSchema | undefined;
  /** The media types the operation documents for its body (JSON or others, such as a bundle). */
  bodyTypes: string[];
  /** The document says the operation needs no credential (`security: []`). */
  documentedPublic: boolean;
}

interface Document {
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
}

const methods = ['get', 'put', 'post', 'patch', 'delete'];

/** Every operation an OpenAPI document lists; `prefix` is taken off the keys. */
export function operationsOf(document: unknown, prefix: string): Operation[] {
  const doc = document as Document;
  const operations: Operation[] = [];
  for (const [template, entries] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(entries)) {
      if (!methods.includes(method)) continue;
      const parameters = op.parameters ?? [];
      const security = op.security ?? doc.security ?? [];
      const content = op.requestBody?.content ?? {};
      operations.push({
        key: `${method.toUpperCase()} ${template.startsWith(prefix) ? template.slice(prefix.length) : template}`,
        method: method.toUpperCase(),
        template,
        pathParams: parameters.filter((p) => p.in === 'path'),
        queryParams: parameters.filter((p) => p.in === 'query'),
        body: content['application/json']?.schema,
        bodyTypes: Object.keys(content),
        documentedPublic: security.length === 0,
      });
    }
  }
  return operations;
}

/** Fetches a service's OpenAPI document and lists its operations. */
export async function servedOperationsAt(documentUrl: string, prefix: string): Promise<Operation[]> {
  const response = await fetch(documentUrl);
  const text = await response.text();
  assert.equal(response.status, 200, `${documentUrl}: ${text}`);
  return operationsOf(JSON.parse(text), prefix);
}

/**
 * Where a schema takes a number with no upper bound, as paths (`$` is the schema itself).
 * JSON parses `1e308` as an integer; a number without a maximum reaches SQL as a bigint
 * it cannot hold, and answers 500. Every number a client sends has a maximum.
 */
export function unboundedNumbers(schema: JsonSchema | undefined, at = '$'): string[] {
  if (schema === undefined) return [];
  const found: string[] = [];
  const types = schema.type === undefined ? [] : [schema.type].flat();
  if (
    (types.includes('integer') || types.includes('number')) &&
    schema.maximum === undefined &&
    schema.enum === undefined
  )
    found.push(at);
  for (const [name, member] of Object.entries(schema.properties ?? {}))
    found.push(...unboundedNumbers(member, `${at}.${name}`));
  if (typeof schema.additionalProperties === 'object')
    found.push(...unboundedNumbers(schema.additionalProperties, `${at}.*`));
  if (schema.items !== undefined) found.push(...unboundedNumbers(schema.items, `${at}[]`));
  for (const branch of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])])
    found.push(...unboundedNumbers(branch, at));
  return found;
}

/** Every number an operation takes (path, query or body) with no upper bound, as `key: path`. */
export function unboundedInputs(operations: Operation[]): string[] {
  return operations.flatMap((op) =>
    [
      ...[...op.pathParams, ...op.queryParams].flatMap((p) => unboundedNumbers(p.schema, `${p.in}.${p.name}`)),
      ...unboundedNumbers(op.body, 'body'),
    ].map((where) => `${op.key}: ${where}`),
  );
}

/**
 * The operation's URL with each `{param}` replaced; a parameter without a value fails
 * the test. A trailing wildcard `{*}` is a path: its slashes are kept.
 */
export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+|\*)\}/g, (_, name: string) => {
    const value = values[name];
    assert.ok(value !== undefined, `no value for the path parameter {${name}} of ${template}`);
    return name === '*' ? value.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(value);
  });
}

/** An answer as the suites see it, from inject() or from fetch(). */
export interface ProblemAnswer {
  status: number;
  body: unknown;
  headers: Headers | Record<string, string | string[] | number | undefined>;
}

function headerOf(answer: ProblemAnswer, name: string): string {
  const { headers } = answer;
  if (headers instanceof Headers) return headers.get(name) ?? '';
  return String(headers[name] ?? '');
}

/** Asserts an answer is an RFC 9457 problem document with this status and stable code. */
export function assertProblem(answer: ProblemAnswer, status: number, code: string, what: string): void {
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  assert.equal(answer.status, status, `${what}: expected ${status} ${code}, got ${answer.status} ${text}`);
  assert.match(headerOf(answer, 'content-type'), /^application\/problem\+json\b/, `${what}: content-type of a refusal`);
  const body = answer.body as Record<string, unknown>;
  assert.equal(body.code, code, `${what}: code (${text})`);
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
      if (schema.format === 'date-time') return '2026-11-01T00:00:00.000Z';
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
