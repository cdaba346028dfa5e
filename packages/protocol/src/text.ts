/**
 * PostgreSQL stores no NUL character and no unpaired UTF-16 surrogate in text or jsonb:
 * whatever reaches it from outside (a request, a job's state file) is checked here
 * first, so the answer is a clear refusal rather than a database error.
 */

/** Why PostgreSQL could not store a text, if it could not: a NUL, or an unpaired UTF-16 surrogate. */
export function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (!text.isWellFormed()) return 'must be valid Unicode (it holds an unpaired surrogate)';
  return undefined;
}

/** The path of the first string (or member name) in `value` PostgreSQL could not store, and why. */
export function unstorablePath(value: unknown, path: string): { path: string; message: string } | undefined {
  if (typeof value === 'string') {
    const message = unstorable(value);
    return message === undefined ? undefined : { path, message };
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = unstorablePath(item, `${path}.${i}`);
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
    const message = unstorable(key);
    const found = message === undefined ? unstorablePath(item, `${path}.${key}`) : { path: `${path}.${key}`, message };
    if (found !== undefined) return found;
  }
  return undefined;
}
