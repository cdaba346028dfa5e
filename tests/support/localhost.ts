import dns, { type LookupAddress, type LookupOptions } from 'node:dns';

/**
 * Browsers resolve every name under `localhost` to loopback themselves (RFC 6761), which
 * is how each interactive app gets an origin of its own under `npm start`
 * (`http://<runId>.apps.localhost:8081`). This machine's resolver does not, so a test
 * importing this file makes its own process do as browsers do: fetch and WebSocket then
 * reach app origins by name, with the Host header a browser would send. Every other
 * name is resolved as before.
 */
const system = dns.lookup;
type Callback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function lookup(hostname: string, options: LookupOptions | number | Callback, callback?: Callback): void {
  const done = (typeof options === 'function' ? options : callback) as Callback;
  const opts: LookupOptions = typeof options === 'object' ? options : {};
  if (hostname.toLowerCase().endsWith('.localhost')) {
    if (opts.all === true) done(null, [{ address: '127.0.0.1', family: 4 }]);
    else done(null, '127.0.0.1', 4);
    return;
  }
  (system as (...args: unknown[]) => void).call(dns, hostname, options, callback);
}

(dns as { lookup: unknown }).lookup = lookup;
