import { type TProperties, Type } from 'typebox';

/**
 * An object schema that refuses unknown members. Every request body in Sovereign is
 * closed: a misspelt field is an error, never silently dropped.
 */
export function Closed<T extends TProperties>(properties: T, options: { description?: string } = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

export const Uuid = Type.String({ format: 'uuid' });
/** ISO-8601 UTC time, as every time in the API. */
export const Timestamp = Type.String({ format: 'date-time' });

/**
 * An email address. Deliberately loose (one @, no spaces): `admin@localhost` is valid
 * here, and whether an address works is proven by using it, not by a pattern.
 */
export const emailPattern = '^[^\\s@]+@[^\\s@]+$';
export const Email = Type.String({ pattern: emailPattern, minLength: 3, maxLength: 254 });
