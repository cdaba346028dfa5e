import { type TProperties, Type } from 'typebox';

/**
 * An object schema that refuses unknown members. Every request body in Sovereign is
 * closed: a misspelt field is an error, never silently dropped.
 */
export function Closed<T extends TProperties>(properties: T, options: { description?: string } = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/**
 * A UUID as 8-4-4-4-12 hexadecimal digits, nothing around it. The `uuid` format the
 * servers check (ajv-formats') also takes a `urn:uuid:` prefix, which no id here is ever
 * written with and which a key built from the id cannot hold: the pattern refuses it.
 * Capitals are taken (PostgreSQL reads them too) and made lowercase by the servers'
 * validation before a handler sees them: one id, one spelling, in keys and comparisons.
 */
export const uuidPattern = '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';
export const Uuid = Type.String({ format: 'uuid', pattern: uuidPattern });

/**
 * Bounds for the numbers a client sends. JSON reads `1e308` as an integer, and one that
 * reaches SQL too large for its column fails the statement: every number in a request
 * has a maximum (a test walks every route's schemas for one without).
 */
/** The largest value of a PostgreSQL `integer` column. */
export const maxInt32 = 2 ** 31 - 1;
/** Sequence numbers and byte counts: `bigint` columns, and exact as JSON numbers up to here. */
export const maxCount = Number.MAX_SAFE_INTEGER;
/** A sequence number or count from 0, as a `bigint` column holds it. */
export const Count = (options: { minimum?: number; description?: string } = {}) =>
  Type.Integer({ minimum: 0, maximum: maxCount, ...options });
/** The protocol version a data plane speaks. */
export const ProtocolVersion = Type.Integer({ minimum: 1, maximum: 1000 });
/** ISO-8601 UTC time, as every time in the API. */
export const Timestamp = Type.String({ format: 'date-time' });

/**
 * An email address. Deliberately loose (one @, no spaces): `admin@localhost` is valid
 * here, and whether an address works is proven by using it, not by a pattern.
 */
export const emailPattern = '^[^\\s@]+@[^\\s@]+$';
export const Email = Type.String({ pattern: emailPattern, minLength: 3, maxLength: 254 });

/**
 * A name people read (an organization's, a workspace's, a region's, a data plane's): not
 * blank, and no control character (C0, DEL, C1). Others see these names in their
 * terminals and pages, where a control character is an order rather than text: an escape
 * sequence writes the clipboard (OSC 52) or moves the cursor, a CR rewrites the line. The
 * look-ahead keeps the check linear however long the string.
 */
export const namePattern = '^(?=[\\s\\S]*\\S)[^\\u0000-\\u001F\\u007F-\\u009F]*$';
export const Name = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: namePattern });
