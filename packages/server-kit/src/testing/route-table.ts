import assert from 'node:assert/strict';
import { NoContent, type PublicRoute } from '@sovereign/contract';

/** An operation as an OpenAPI document writes it (only what the check reads). */
type Documented = {
  parameters?: Array<{ in: string; name: string; required?: boolean }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
};

/**
 * A schema as the served document writes it: JSON (no symbols), with `const: x` as
 * `enum: [x]` (OpenAPI 3.0's spelling, which the document generator uses).
 */
function plain(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema), (_key, value: unknown) => {
    if (typeof value !== 'object' || value === null || !('const' in value)) return value;
    const { const: only, ...rest } = value as { const: unknown };
    return { ...rest, enum: [only] };
  });
}

/**
 * The contract's table of a plane's public routes (what @sovereign/client calls) against
 * the OpenAPI document the plane serves: every entry is a served route, with the same
 * body, query and answer schemas. A route whose schema or path changed without its
 * entry fails here, not in a client. Answers how many entries were checked.
 */
export function assertRouteTableServed(
  document: unknown,
  prefix: string,
  table: Readonly<Record<string, PublicRoute>>,
): number {
  const paths = (document as { paths: Record<string, Record<string, Documented>> }).paths;
  const entries = Object.entries(table);
  for (const [name, route] of entries) {
    const operation = paths[`${prefix}${route.path}`]?.[route.method.toLowerCase()];
    assert.ok(operation !== undefined, `${name}: ${route.method} ${route.path} is served`);
    if (route.response === NoContent) {
      assert.ok(operation.responses['204'] !== undefined, `${name}: answers 204`);
    } else {
      assert.deepEqual(
        operation.responses['200']?.content?.['application/json']?.schema,
        plain(route.response),
        `${name}: its answer`,
      );
    }
    assert.deepEqual(
      operation.requestBody?.content['application/json']?.schema,
      route.body === undefined ? undefined : plain(route.body),
      `${name}: its body`,
    );
    const query = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    const properties = (route.query as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
    assert.deepEqual(query.sort(), Object.keys(properties).sort(), `${name}: its query`);
  }
  return entries.length;
}
