/**
 * A bundle's digest travels in a `Digest` header (RFC 3230, as output files have it):
 * `sha-256=<base64>`. Everywhere else it is written `sha256:<hex>`. The download of a
 * deployment's bundle carries it, and an upload that sends it is refused when its bytes
 * do not match (`digest_mismatch`), so a copy between two data planes is checked
 * at both ends. Plain functions (atob/btoa), for the planes, the CLI and a browser alike.
 */

const hexDigest = /^sha256:([0-9a-f]{64})$/;
const headerDigest = /^sha-256=([A-Za-z0-9+/]{43}=)$/;

/** `sha256:<hex>` as a Digest header's value. */
export function digestHeaderValue(digest: string): string {
  const hex = hexDigest.exec(digest)?.[1];
  if (hex === undefined) throw new TypeError(`not a sha256:<hex> digest: ${JSON.stringify(digest)}`);
  const bytes = hex.match(/../g)?.map((pair) => String.fromCharCode(Number.parseInt(pair, 16))) ?? [];
  return `sha-256=${btoa(bytes.join(''))}`;
}

/** The `sha256:<hex>` a Digest header's value names; undefined when it names no SHA-256. */
export function digestOfHeader(value: string | undefined): string | undefined {
  const b64 = headerDigest.exec(value?.trim() ?? '')?.[1];
  if (b64 === undefined) return undefined;
  const hex = [...atob(b64)].map((char) => char.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  return `sha256:${hex}`;
}
