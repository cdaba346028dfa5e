import { isIP } from 'node:net';
import { appUrlRunPlaceholder } from '@sovereign/contract';

/** A run id as it stands in a host name: a UUID, lower case. */
const runPattern = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** Stands in for `{run}` while the template is checked as a URL. */
const sample = '00000000-0000-4000-8000-000000000000';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const loopbackNames = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

/**
 * Each interactive run is served from an origin of its own, built from a template such as
 * `https://{run}.apps.eu-1.example.eu`: a page of one app is cross-origin to every other
 * app and to the data plane's API, so it cannot read them with the browser's cookies.
 * The data plane tells a request for an app from one for its API by the Host header.
 */
export class AppOrigins {
  readonly template: string;
  readonly scheme: 'http' | 'https';
  readonly #before: string;
  readonly #after: string;
  /** `:port` when the template names one, else ''. */
  readonly #port: string;
  readonly #host: RegExp;

  private constructor(template: string, scheme: 'http' | 'https', before: string, after: string, port: string) {
    this.template = template;
    this.scheme = scheme;
    this.#before = before;
    this.#after = after;
    this.#port = port;
    this.#host = new RegExp(`^${escapeRegExp(before)}(${runPattern})${escapeRegExp(after)}$`);
  }

  /** Reads a template; throws an Error that says what is wrong with it. */
  static parse(template: string): AppOrigins {
    const trimmed = template.trim().replace(/\/+$/, '');
    const count = trimmed.split(appUrlRunPlaceholder).length - 1;
    if (count !== 1) throw new Error(`it must hold ${appUrlRunPlaceholder} once, in the host name`);
    const url = URL.parse(trimmed.replace(appUrlRunPlaceholder, sample));
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new Error('it must be an http or https URL');
    }
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      throw new Error('it must be an origin (scheme://host[:port]), with no path');
    }
    const host = url.hostname;
    const at = host.indexOf(sample);
    if (at === -1 || isIP(host.replace(/^\[|\]$/g, '')) !== 0) {
      throw new Error(`${appUrlRunPlaceholder} must be part of the host name`);
    }
    const before = host.slice(0, at);
    const after = host.slice(at + sample.length);
    // `app-{run}.example.eu` is fine too, for a certificate of `*.example.eu`.
    if (!after.includes('.')) throw new Error(`the host name needs a domain after ${appUrlRunPlaceholder}`);
    return new AppOrigins(
      trimmed,
      url.protocol === 'https:' ? 'https' : 'http',
      before,
      after,
      url.port === '' ? '' : `:${url.port}`,
    );
  }

  /** Served over HTTPS: cookies are Secure and `__Host-` prefixed. */
  get secure(): boolean {
    return this.scheme === 'https';
  }

  /** `scheme://host[:port]` of a run's app, as browsers send it in Origin. */
  originOf(runId: string): string {
    return `${this.scheme}://${this.#before}${runId.toLowerCase()}${this.#after}${this.#port}`;
  }

  /** A URL on a run's app origin; `path` starts with `/`. */
  urlOf(runId: string, path = '/'): string {
    return `${this.originOf(runId)}${path}`;
  }

  /**
   * The run whose origin a Host header names, or undefined: any other host is the data
   * plane's own. The port is not compared: behind a proxy it is the proxy's.
   */
  runOf(host: string | undefined): string | undefined {
    if (host === undefined || host.startsWith('[')) return undefined;
    const colon = host.lastIndexOf(':');
    const name = (colon === -1 ? host : host.slice(0, colon)).toLowerCase().replace(/\.$/, '');
    return this.#host.exec(name)?.[1];
  }
}

/**
 * The template when none is set: beside the data plane's own host name
 * (`https://dp.example.eu` gives `https://{run}.apps.dp.example.eu`, which needs a
 * wildcard DNS record and certificate), or `*.apps.localhost` on loopback, which browsers
 * resolve to loopback themselves. A data plane reached at an IP address has no name to
 * put apps under: undefined, and the setting is required.
 */
export function defaultAppsTemplate(publicUrl: string): string | undefined {
  const url = URL.parse(publicUrl);
  if (url === null) return undefined;
  const port = url.port === '' ? '' : `:${url.port}`;
  const host = url.hostname.toLowerCase();
  if (loopbackNames.has(host) || host.startsWith('127.') || host.endsWith('.localhost')) {
    return `${url.protocol}//${appUrlRunPlaceholder}.apps.localhost${port}`;
  }
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return undefined;
  return `${url.protocol}//${appUrlRunPlaceholder}.apps.${host}${port}`;
}
