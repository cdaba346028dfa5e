import { uuidPattern } from '@sovereign/contract';
import type { FastifySchemaCompiler } from 'fastify';

/** What validation takes (the contract's Uuid): 8-4-4-4-12 hexadecimal digits, in either case. */
const uuidText = new RegExp(uuidPattern);

/** Rewrites a validated value in place (or returns its replacement, for a string). */
type Canonical = (value: unknown) => unknown;

interface SchemaShape {
  format?: unknown;
  type?: unknown;
  properties?: Record<string, SchemaShape>;
  items?: SchemaShape;
  anyOf?: SchemaShape[];
  oneOf?: SchemaShape[];
  allOf?: SchemaShape[];
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * What makes every UUID a schema declares (`format: uuid`, in members, items and unions)
 * lowercase in a value that schema validated; undefined when the schema declares none, so
 * most routes pay nothing. A client may write an id in capitals (PostgreSQL reads it, and
 * the control plane has always answered it), but a handler that builds a storage key from
 * it, or compares it with an id read back from the database or a token, needs the one
 * spelling PostgreSQL prints.
 */
export function uuidCanonicalizer(schema: unknown, depth = 0): Canonical | undefined {
  if (!isRecord(schema) || depth > 32) return undefined;
  const shape = schema as SchemaShape;
  if (shape.format === 'uuid') {
    // Text only that is a UUID: a union's other string branches keep what they were given.
    return (value) => (typeof value === 'string' && uuidText.test(value) ? value.toLowerCase() : value);
  }
  const parts: Canonical[] = [];
  for (const branch of [...(shape.anyOf ?? []), ...(shape.oneOf ?? []), ...(shape.allOf ?? [])]) {
    const canonical = uuidCanonicalizer(branch, depth + 1);
    if (canonical !== undefined) parts.push(canonical);
  }
  const members: Array<[string, Canonical]> = [];
  for (const [name, member] of Object.entries(shape.properties ?? {})) {
    const canonical = uuidCanonicalizer(member, depth + 1);
    if (canonical !== undefined) members.push([name, canonical]);
  }
  if (members.length > 0) {
    parts.push((value) => {
      if (!isRecord(value)) return value;
      for (const [name, canonical] of members) {
        if (Object.hasOwn(value, name)) value[name] = canonical(value[name]);
      }
      return value;
    });
  }
  const item = uuidCanonicalizer(shape.items, depth + 1);
  if (item !== undefined) {
    parts.push((value) => {
      if (!Array.isArray(value)) return value;
      for (let i = 0; i < value.length; i += 1) value[i] = item(value[i]);
      return value;
    });
  }
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return (value) => parts.reduce((current, canonical) => canonical(current), value);
}

/** A validator compiler whose validated values hold their UUIDs in lowercase. */
export function withCanonicalUuids<T>(compile: FastifySchemaCompiler<T>): FastifySchemaCompiler<T> {
  return (route) => {
    const validate = compile(route);
    const canonical = uuidCanonicalizer(route.schema);
    if (canonical === undefined) return validate;
    return (data: unknown) => {
      const result = validate(data);
      if (typeof result !== 'object' || result === null || !('value' in result) || 'error' in result) return result;
      return { value: canonical(result.value) };
    };
  };
}
