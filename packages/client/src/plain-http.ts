/**
 * Credentials (a password, a session, an API key, a scoped token) travel in clear over
 * plain http: anyone on the network path reads them. Plain http is fine to this machine
 * only (`npm start` serves on 127.0.0.1), so a client refuses an `http:` address whose
 * host is not loopback before it sends anything there, unless its user said otherwise.
 */

/** 127.0.0.0/8, ::1 (also as an IPv4-mapped address), and `localhost` with every name under it (RFC 6761). */
export function isLoopbackHost(hostname: string): boolean {
  // A URL's hostname: IPv6 in brackets, IPv4 already in dotted decimal (`127.1` reads as 127.0.0.1).
  const host = hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true;
  if (host === '::1') return true;
  // ::ffff:127.x.y.z, as the URL parser writes it: ::ffff:7fxx:yyzz.
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(host);
}

/** Whether what is sent to `url` crosses a network in clear: `http:` to a host that is not loopback. */
export function inClear(url: string): boolean {
  const parsed = new URL(url);
  return parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname);
}

/** A service's address is plain http to another machine, and no credential was sent there. */
export class InsecureHttpError extends Error {
  /** What was to be called, in words ("the data plane"). */
  readonly what: string;
  readonly url: string;

  constructor(what: string, url: string) {
    super(`Refusing to send credentials to ${what} at ${url}: plain http is allowed only to this machine (loopback).`);
    this.name = 'InsecureHttpError';
    this.what = what;
    this.url = url;
  }
}
