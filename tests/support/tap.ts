import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** One request through the tap and its answer, bodies whole (as far as they got). */
export interface Exchange {
  method: string;
  url: string;
  requestHeaders: IncomingHttpHeaders;
  /** The body as it arrived, chunk by chunk. */
  requestBody: Buffer[];
  status: number | undefined;
  responseHeaders: IncomingHttpHeaders;
  responseBody: Buffer[];
}

/** A body as text to search, decoded when it was sent compressed. */
export function decoded(chunks: Buffer[], encoding: string | string[] | undefined): string {
  const body = Buffer.concat(chunks);
  try {
    switch (String(encoding ?? '').toLowerCase()) {
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(body).toString('latin1');
      case 'deflate':
        return inflateSync(body).toString('latin1');
      case 'br':
        return brotliDecompressSync(body).toString('latin1');
    }
  } catch {
    // a body cut short: search its bytes as they are
  }
  return body.toString('latin1');
}

/**
 * A recording HTTP proxy on loopback, put in front of a service: every request and
 * answer passes through it byte for byte, streamed (long-held claims and server-sent
 * events included), and is recorded, so a suite can search everything the service was
 * sent and sent back.
 */
export class Tap {
  readonly exchanges: Exchange[] = [];
  /** Paths answered 503 here instead of reaching the service, as when a network drops them. */
  readonly refused = new Set<string>();
  /** Paths whose answers wait this many milliseconds here before they go back, as on a slow link. */
  readonly slowed = new Map<string, number>();
  readonly #server: Server;
  #target: URL;

  private constructor(server: Server, target: URL) {
    this.#server = server;
    this.#target = target;
  }

  static async start(target: string): Promise<Tap> {
    // A client's idle connection is closed by the client first (undici: 4 s): closed by
    // the tap at the instant the client reuses it, a POST fails with ECONNRESET.
    const server = createServer({ keepAliveTimeout: 60_000 });
    const tap = new Tap(server, new URL(target));
    server.on('request', (req, res) => {
      const exchange: Exchange = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        requestHeaders: req.headers,
        requestBody: [],
        status: undefined,
        responseHeaders: {},
        responseBody: [],
      };
      tap.exchanges.push(exchange);
      const path = (req.url ?? '/').split('?')[0] as string;
      if (tap.refused.has(path)) {
        exchange.status = 503;
        req.resume();
        res.writeHead(503, { 'content-type': 'text/plain' }).end('refused by the tap');
        return;
      }
      const delay = tap.slowed.get(path) ?? 0;
      const upstream = request(
        {
          host: tap.#target.hostname,
          port: tap.#target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) =>
          setTimeout(() => {
            exchange.status = answer.statusCode;
            exchange.responseHeaders = answer.headers;
            res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
            answer.on('data', (chunk: Buffer) => {
              exchange.responseBody.push(chunk);
              res.write(chunk);
            });
            answer.on('end', () => res.end());
            answer.on('error', () => res.destroy());
          }, delay),
      );
      upstream.on('error', () => {
        // The service is down (a restart): the caller sees a gateway error, as behind a real proxy.
        if (!res.headersSent) {
          exchange.status = 502;
          res.writeHead(502, { 'content-type': 'text/plain' }).end('upstream unavailable');
        } else res.destroy();
      });
      req.on('data', (chunk: Buffer) => {
        exchange.requestBody.push(chunk);
        upstream.write(chunk);
      });
      req.on('end', () => upstream.end());
      // A caller that gives up (a claim aborted at shutdown) ends the upstream request too.
      res.on('close', () => upstream.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return tap;
  }

  /**
   * Sends what arrives from now on to another service: a tap made before the service it
   * fronts (whose address is its public URL) is pointed at it once it has a port.
   */
  retarget(target: string): void {
    this.#target = new URL(target);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Everything recorded: request lines, headers and bodies both ways, bodies decoded. */
  text(): string {
    return this.exchanges
      .map((e) =>
        [
          `${e.method} ${e.url} -> ${e.status}`,
          JSON.stringify(e.requestHeaders),
          decoded(e.requestBody, e.requestHeaders['content-encoding']),
          JSON.stringify(e.responseHeaders),
          decoded(e.responseBody, e.responseHeaders['content-encoding']),
        ].join('\n'),
      )
      .join('\n');
  }

  /**
   * The JSON bodies of the finished exchanges whose URL ends with `path`, in the order
   * their requests arrived.
   */
  json(path: string): Array<{ request: unknown; response: unknown }> {
    return this.exchanges
      .filter((e) => e.url.endsWith(path) && e.status === 200)
      .flatMap((e) => {
        try {
          return [
            {
              request: JSON.parse(decoded(e.requestBody, e.requestHeaders['content-encoding'])),
              response: JSON.parse(decoded(e.responseBody, e.responseHeaders['content-encoding'])),
            },
          ];
        } catch {
          return []; // an answer still on its way
        }
      });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close').catch(() => {});
  }
}
