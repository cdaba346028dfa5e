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

/**
 * The path of the first string (or member name) in `value` PostgreSQL could not store,
 * and why. It walks with a stack of its own, not by recursion: a value nested however
 * deep cannot overflow the call stack.
 */
export function unstorablePath(value: unknown, path: string): { path: string; message: string } | undefined {
  // Pushed in reverse, so they pop in document order: a member's name, then its value.
  const pending: Array<{ value: unknown; path: string }> = [{ value, path }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const item = next.value;
    if (typeof item === 'string') {
      const message = unstorable(item);
      if (message !== undefined) return { path: next.path, message };
      continue;
    }
    if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) pending.push({ value: item[i], path: `${next.path}.${i}` });
      continue;
    }
    // Plain objects only (the router's params inherit from a null-prototype object): a
    // Buffer or a stream (an uploaded bundle) is bytes, not text.
    if (item === null || typeof item !== 'object') continue;
    const proto = Object.getPrototypeOf(item);
    if (proto !== null && Object.getPrototypeOf(proto) !== null) continue;
    const entries = Object.entries(item);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, member] = entries[i] as [string, unknown];
      const at = `${next.path}.${key}`;
      pending.push({ value: member, path: at }, { value: key, path: at });
    }
  }
  return undefined;
}
