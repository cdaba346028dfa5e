import { Type } from 'typebox';

/**
 * Where clients reach a data plane: an http(s) URL with a host and maybe a path, and
 * nothing a client could be misled by (no user info, query or fragment). The control
 * plane hands it to clients with their scoped tokens, so it is pinned there (set by an
 * administrator, or by the data plane's first registration) and never taken from a
 * heartbeat that says otherwise.
 */
export const publicUrlPattern = String.raw`^https?://[^/?#@\\\s]+(?:/[^?#\\\s]*)?$`;

export const PublicUrl = Type.String({ format: 'uri', pattern: publicUrlPattern, maxLength: 2048 });

/**
 * One spelling per URL, so a report and the pinned URL compare as strings: scheme and
 * host in lower case, no default port, no trailing slash.
 */
export function normalizePublicUrl(url: string): string {
  const parsed = URL.parse(url);
  if (parsed === null) return url;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`.replace(/\/+$/, '');
}
