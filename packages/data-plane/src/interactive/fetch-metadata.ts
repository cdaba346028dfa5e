import type { IncomingHttpHeaders } from 'node:http';

/**
 * What a browser says about where a request comes from (Fetch Metadata, and Origin),
 * read on an app's origin. All app origins of a data plane share a registrable domain,
 * so they are one *site*: SameSite cookies alone would let one app's page send requests
 * to another app with that app's cookie. These checks stop that; a client that sends
 * no such headers (curl, a script) is not a browser page and passes.
 */
function one(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value.toLowerCase() : undefined;
}

const safeMethods = new Set(['GET', 'HEAD']);

/**
 * A top-level navigation by GET: a link followed, the address bar, a redirect. Browsers
 * without Fetch Metadata are taken at their Accept header, as they ask for a page.
 */
export function isTopLevelNavigation(headers: IncomingHttpHeaders, method: string | undefined): boolean {
  if (!safeMethods.has(method ?? '')) return false;
  const mode = one(headers, 'sec-fetch-mode');
  const dest = one(headers, 'sec-fetch-dest');
  if (mode !== undefined) return mode === 'navigate' && (dest === undefined || dest === 'document');
  return (one(headers, 'accept') ?? '').includes('text/html');
}

/**
 * Whether a request that carries an app's session cookie may be served: one of the
 * app's own pages (same origin), one the user typed or opened from outside the browser
 * (`none`), or a top-level GET navigation from anywhere (a link to the app). A fetch,
 * form post, frame, script or image of another origin, another app's included, is not.
 */
export function allowedWithCookie(
  headers: IncomingHttpHeaders,
  method: string | undefined,
  appOrigin: string,
): boolean {
  const site = one(headers, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none' && !isTopLevelNavigation(headers, method)) {
    return false;
  }
  // Browsers without Fetch Metadata still send Origin with a request of another origin's
  // script or form (never with a link followed): it must be the app's own.
  const origin = one(headers, 'origin');
  return origin === undefined || origin === appOrigin;
}

/** A WebSocket handshake with the app's cookie: browsers always send Origin with one, and it must be the app's. */
export function upgradeAllowedWithCookie(headers: IncomingHttpHeaders, appOrigin: string): boolean {
  const origin = one(headers, 'origin');
  const site = one(headers, 'sec-fetch-site');
  if (origin !== undefined && origin !== appOrigin) return false;
  return site === undefined || site === 'same-origin';
}
