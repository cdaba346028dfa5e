import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppAddress } from '../launch/launcher.ts';
import { isOurCookie, withoutOurCookies } from './session.ts';

/** Where a running interactive job listens. It is served from `/` of its own origin: paths pass as they are. */
export interface ProxyTarget {
  /** Where the proxy connects: the app's loopback port, or a socket bridged into its jail. */
  address: AppAddress;
  /** The port the app listens on, as it sees it: its redirects to itself name it. */
  port: number;
  /** Called on every request and every chunk either way: the run is in use. */
  activity: () => void;
}

/** Headers of one connection, never forwarded (RFC 9110 7.6.1). */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

function connectionListed(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    text
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ''),
  );
}

export interface ForwardOptions {
  /** Our own credential came in the Authorization header: it is not the app's to see. */
  dropAuthorization: boolean;
  proto: 'http' | 'https';
  clientAddress: string | undefined;
  /** A WebSocket (or other) upgrade: Connection and Upgrade go through. */
  upgrade: boolean;
}

/**
 * The request headers the app gets: the client's, without hop-by-hop headers, our
 * cookies, our bearer token, or X-Forwarded-* a client could forge; with
 * X-Forwarded-For/-Proto/-Host set by us. Host stays as the client sent it (the app's
 * own origin), so apps that compare Origin with Host (Jupyter does) see a same-origin
 * request.
 */
export function forwardHeaders(incoming: IncomingHttpHeaders, options: ForwardOptions): OutgoingHttpHeaders {
  const listed = connectionListed(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || hopByHop.has(name) || listed.has(name) || name.startsWith('x-forwarded-')) continue;
    if (name === 'authorization' && options.dropAuthorization) continue;
    if (name === 'cookie') {
      const rest = withoutOurCookies(Array.isArray(value) ? value.join('; ') : value);
      if (rest !== undefined) out.cookie = rest;
      continue;
    }
    out[name] = value;
  }
  if (options.clientAddress !== undefined) out['x-forwarded-for'] = options.clientAddress;
  out['x-forwarded-proto'] = options.proto;
  if (incoming.host !== undefined) out['x-forwarded-host'] = incoming.host;
  if (options.upgrade) {
    out.connection = 'Upgrade';
    if (incoming.upgrade !== undefined) out.upgrade = incoming.upgrade;
  }
  return out;
}

/**
 * A redirect of the app, as the browser must follow it: one to the app's own address
 * (`http://127.0.0.1:<port>/x`, which only the data plane reaches) becomes the path
 * on the app's origin. Other sites and paths are left alone.
 */
export function rewriteLocation(location: string, target: Pick<ProxyTarget, 'port'>) {
  for (const origin of [
    `http://127.0.0.1:${target.port}`,
    `http://localhost:${target.port}`,
    `http://[::1]:${target.port}`,
  ]) {
    if (location === origin || location.startsWith(`${origin}/`) || location.startsWith(`${origin}?`)) {
      const path = location.slice(origin.length) || '/';
      return path.startsWith('?') ? `/${path}` : path;
    }
  }
  return location;
}

/**
 * A cookie the app sets, kept to the app's own host: its Domain is dropped (a cookie
 * for the parent domain would reach every other app), and our cookies' names are
 * refused (undefined).
 */
export function rewriteSetCookie(cookie: string) {
  const name = cookie.slice(0, Math.max(0, cookie.indexOf('=')));
  if (isOurCookie(name)) return undefined;
  const [pair, ...attributes] = cookie.split(';');
  const kept = attributes.filter((attribute) => attribute.split('=')[0]?.trim().toLowerCase() !== 'domain');
  return [pair?.trim() ?? '', ...kept.map((attribute) => attribute.trim())].join('; ');
}

/**
 * What of an app's Clear-Site-Data the client gets: only what clears the app's own
 * origin. `"cookies"` (and `"*"`, which holds it) clears every cookie of the registrable
 * domain, which all apps share: one app would sign the user out of every other app on
 * the data plane (and, on an operator's own domain, out of its other sites).
 */
export function ownOriginClearSiteData(value: string): string | undefined {
  const kept = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => originScopedClears.has(item.toLowerCase()));
  return kept.length > 0 ? kept.join(', ') : undefined;
}
const originScopedClears = new Set(['"cache"', '"storage"', '"executioncontexts"']);

/** The app's response headers as the client gets them. */
export function responseHeaders(incoming: IncomingHttpHeaders, target: ProxyTarget, upgrade = false) {
  const listed = connectionListed(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    if (!upgrade && (hopByHop.has(name) || listed.has(name))) continue;
    if (name === 'location' && typeof value === 'string') out.location = rewriteLocation(value, target);
    else if (name === 'set-cookie') {
      const cookies = (Array.isArray(value) ? value : [value]).flatMap((c) => rewriteSetCookie(c) ?? []);
      if (cookies.length > 0) out['set-cookie'] = cookies;
    } else if (name === 'clear-site-data') {
      const kept = ownOriginClearSiteData(String(value));
      if (kept !== undefined) out[name] = kept;
    } else out[name] = value;
  }
  return out;
}

/** Raw HTTP/1.1 response head, for answers written straight to an upgraded socket. */
export function rawHead(status: number, message: string, headers: OutgoingHttpHeaders): string {
  const lines = [`HTTP/1.1 ${status} ${message}`];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(item)}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export interface HttpProxyCallbacks {
  /** The app could not be reached before anything was answered: answer for it. */
  unreachable: (res: ServerResponse) => void;
}

/** A request to the app, at its address. */
function requestApp(target: ProxyTarget, method: string | undefined, path: string, headers: OutgoingHttpHeaders) {
  const where =
    'socketPath' in target.address
      ? { socketPath: target.address.socketPath }
      : { host: target.address.host, port: target.address.port };
  return httpRequest({ ...where, method, path, headers });
}

/**
 * Forwards one HTTP exchange, streaming both bodies as they come (nothing is held
 * whole in memory), and tears both sides down if either goes away.
 */
export function proxyHttp(
  req: IncomingMessage,
  res: ServerResponse,
  target: ProxyTarget,
  path: string,
  headers: OutgoingHttpHeaders,
  callbacks: HttpProxyCallbacks,
): void {
  target.activity();
  const upstream = requestApp(target, req.method, path, headers);
  req.on('data', target.activity);
  req.pipe(upstream);
  upstream.on('response', (answer) => {
    target.activity();
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeaders(answer.headers, target));
    answer.on('data', target.activity);
    answer.pipe(res);
    answer.on('error', () => res.destroy());
    answer.on('end', target.activity);
  });
  upstream.on('error', () => {
    if (!res.headersSent) callbacks.unreachable(res);
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.on('error', () => upstream.destroy());
}

/**
 * Forwards a WebSocket (any HTTP/1.1 upgrade): the handshake goes to the app; its 101
 * is relayed and the two sockets are joined, each frame counted as use. An app that
 * refuses the upgrade has its answer relayed as it is.
 */
export function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: ProxyTarget,
  path: string,
  headers: OutgoingHttpHeaders,
  callbacks: { unreachable: () => void },
): void {
  target.activity();
  const upstream = requestApp(target, req.method, path, headers);
  upstream.on('upgrade', (answer, appSocket, appHead) => {
    target.activity();
    socket.write(
      rawHead(
        answer.statusCode ?? 101,
        answer.statusMessage ?? 'Switching Protocols',
        responseHeaders(answer.headers, target, true),
      ),
    );
    if (appHead.length > 0) socket.write(appHead);
    if (head.length > 0) appSocket.write(head);
    appSocket.on('data', target.activity);
    socket.on('data', target.activity);
    appSocket.pipe(socket);
    socket.pipe(appSocket);
    const close = () => {
      appSocket.destroy();
      socket.destroy();
    };
    appSocket.on('error', close);
    socket.on('error', close);
    appSocket.on('close', close);
    socket.on('close', close);
  });
  upstream.on('response', (answer) => {
    const out = responseHeaders(answer.headers, target);
    out.connection = 'close';
    socket.write(rawHead(answer.statusCode ?? 502, answer.statusMessage ?? '', out));
    answer.pipe(socket);
  });
  upstream.on('error', () => callbacks.unreachable());
  socket.on('error', () => upstream.destroy());
  socket.on('close', () => upstream.destroy());
  upstream.end();
}
