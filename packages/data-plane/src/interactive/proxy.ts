import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppAddress } from '../launch/launcher.ts';
import { sessionCookieName, withoutCookie } from './session.ts';

/** Where a running interactive job listens, and how the proxy maps its paths. */
export interface ProxyTarget {
  /** Where the proxy connects: the app's loopback port, or a socket bridged into its jail. */
  address: AppAddress;
  /** The port the app listens on, as it sees it: its redirects to itself name it. */
  port: number;
  /** The run's public path prefix, without its trailing slash: `/api/v1/interactive/<runId>`. */
  prefix: string;
  /** The app is served from `/` (the prefix is removed) or under the prefix itself. */
  stripPrefix: boolean;
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

/** The path the app is asked for: the public path (and query) with the run's prefix removed, or whole. */
export function upstreamPath(target: Pick<ProxyTarget, 'prefix' | 'stripPrefix'>, rest: string, query: string) {
  const path = target.stripPrefix ? rest : `${target.prefix}${rest}`;
  return query === '' ? path : `${path}?${query}`;
}

export interface ForwardOptions {
  /** Our own credential came in the Authorization header: it is not the app's to see. */
  dropAuthorization: boolean;
  prefix: string;
  proto: 'http' | 'https';
  clientAddress: string | undefined;
  /** A WebSocket (or other) upgrade: Connection and Upgrade go through. */
  upgrade: boolean;
}

/**
 * The request headers the app gets: the client's, without hop-by-hop headers, our
 * session cookie, our bearer token, or X-Forwarded-* a client could forge; with
 * X-Forwarded-For/-Proto/-Host/-Prefix set by us. Host stays as the client sent it,
 * so apps that compare Origin with Host (Jupyter does) see a same-origin request.
 */
export function forwardHeaders(incoming: IncomingHttpHeaders, options: ForwardOptions): OutgoingHttpHeaders {
  const listed = connectionListed(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || hopByHop.has(name) || listed.has(name) || name.startsWith('x-forwarded-')) continue;
    if (name === 'authorization' && options.dropAuthorization) continue;
    if (name === 'cookie') {
      const rest = withoutCookie(Array.isArray(value) ? value.join('; ') : value, sessionCookieName);
      if (rest !== undefined) out.cookie = rest;
      continue;
    }
    out[name] = value;
  }
  if (options.clientAddress !== undefined) out['x-forwarded-for'] = options.clientAddress;
  out['x-forwarded-proto'] = options.proto;
  if (incoming.host !== undefined) out['x-forwarded-host'] = incoming.host;
  out['x-forwarded-prefix'] = options.prefix;
  if (options.upgrade) {
    out.connection = 'Upgrade';
    if (incoming.upgrade !== undefined) out.upgrade = incoming.upgrade;
  }
  return out;
}

/**
 * A redirect of the app, as the browser must follow it: to the app's own address
 * (`http://127.0.0.1:<port>/x`) or to an absolute path of an app served from `/`,
 * it is moved under the run's prefix. Other sites are left alone.
 */
export function rewriteLocation(location: string, target: Pick<ProxyTarget, 'port' | 'prefix' | 'stripPrefix'>) {
  let path = location;
  for (const origin of [
    `http://127.0.0.1:${target.port}`,
    `http://localhost:${target.port}`,
    `http://[::1]:${target.port}`,
  ]) {
    if (location === origin || location.startsWith(`${origin}/`) || location.startsWith(`${origin}?`)) {
      path = location.slice(origin.length) || '/';
      if (path.startsWith('?')) path = `/${path}`;
      break;
    }
  }
  if (path === location && !target.stripPrefix) return location;
  if (!path.startsWith('/') || path.startsWith('//')) return path;
  return target.stripPrefix || !path.startsWith(`${target.prefix}/`) ? `${target.prefix}${path}` : path;
}

/**
 * A cookie the app sets, confined to the run's path: every app of every workspace is
 * served from this one origin, so an app may set cookies for itself only. Our session
 * cookie's name is refused, and Domain dropped (no cookies for sibling hosts).
 */
export function rewriteSetCookie(cookie: string, target: Pick<ProxyTarget, 'prefix' | 'stripPrefix'>) {
  const name = cookie.slice(0, Math.max(0, cookie.indexOf('='))).trim();
  if (name === sessionCookieName) return undefined;
  const [pair, ...attributes] = cookie.split(';');
  const kept: string[] = [];
  let path: string | undefined;
  for (const attribute of attributes) {
    const [key = '', ...value] = attribute.split('=');
    const lower = key.trim().toLowerCase();
    if (lower === 'domain') continue;
    if (lower === 'path') path = value.join('=').trim();
    else kept.push(attribute.trim());
  }
  let scoped = path === undefined || !path.startsWith('/') ? '/' : path;
  if (target.stripPrefix) scoped = `${target.prefix}${scoped}`;
  if (scoped !== `${target.prefix}` && !scoped.startsWith(`${target.prefix}/`)) scoped = `${target.prefix}/`;
  return [pair?.trim() ?? '', `Path=${scoped}`, ...kept].join('; ');
}

/** The app's response headers as the client gets them. */
export function responseHeaders(incoming: IncomingHttpHeaders, target: ProxyTarget, upgrade = false) {
  const listed = connectionListed(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    if (!upgrade && (hopByHop.has(name) || listed.has(name))) continue;
    if (name === 'location' && typeof value === 'string') out.location = rewriteLocation(value, target);
    else if (name === 'set-cookie') {
      const cookies = (Array.isArray(value) ? value : [value]).flatMap((c) => rewriteSetCookie(c, target) ?? []);
      if (cookies.length > 0) out['set-cookie'] = cookies;
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
