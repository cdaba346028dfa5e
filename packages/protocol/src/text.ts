/**
 * PostgreSQL stores no U+0000 in text or jsonb: whatever reaches it from outside (a
 * request, a job's state file) is checked here first, so the answer is a clear refusal
 * rather than a database error.
 */

/** The path of the first string (or member name) in `value` that holds U+0000, if any. */
export function nulPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = nulPath(item, `${path}.${i}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  // Plain objects only (the router's params inherit from a null-prototype object): a
  // Buffer or a stream (an uploaded bundle) is bytes, not text.
  if (value === null || typeof value !== 'object') return undefined;
  const proto = Object.getPrototypeOf(value);
  if (proto !== null && Object.getPrototypeOf(proto) !== null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = key.includes('\u0000') ? `${path}.${key}` : nulPath(item, `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
