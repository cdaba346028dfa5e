import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The cookies the data plane sets on an app's origin. Over HTTPS they carry the
 * `__Host-` prefix: the browser then keeps them host-only, Secure and on `/`, so no
 * sibling host (another app) can set or replace them. Plain HTTP (development on
 * `*.localhost`) has no such prefix.
 */
export interface CookieNames {
  /** The app's session: which user, on which run, until when. */
  session: string;
  /** A browser's launch in progress: the secret whose hash the launch ticket is bound to. */
  launch: string;
}

export function cookieNames(secure: boolean): CookieNames {
  const prefix = secure ? '__Host-' : '';
  return { session: `${prefix}sov_session`, launch: `${prefix}sov_launch` };
}

/** Whether a cookie name is one of ours, under either spelling: an app may not set it. */
export function isOurCookie(name: string): boolean {
  const bare = name
    .trim()
    .toLowerCase()
    .replace(/^__(host|secure)-/, '');
  return bare === 'sov_session' || bare === 'sov_launch';
}

/** What a session cookie stands for: one user, on one run of one workspace, until `exp`. */
export interface InteractiveSession {
  /** The run the cookie opens, and nothing else: it is checked against the origin's run. */
  run: string;
  ws: string;
  /** The user the launch ticket was issued to (the scoped token's subject). */
  sub: string;
  /** The scoped token the ticket was asked with: revoking it ends the session. */
  jti: string;
  /** Seconds since the epoch. */
  exp: number;
}

/**
 * Signs and reads session cookies: the claims in base64url JSON and an HMAC-SHA256 of
 * them. The key is derived from the master key, so every instance of the data plane
 * reads the cookies of the others, and the control plane never holds it. Its label
 * changed when apps moved to origins of their own: no cookie of the shared origin is
 * taken for one of these.
 */
export class SessionSigner {
  readonly #key: Buffer;

  constructor(masterKey: Buffer) {
    this.#key = Buffer.from(hkdfSync('sha256', masterKey, '', 'sovereign interactive app-origin session v2', 32));
  }

  #mac(body: string): Buffer {
    return createHmac('sha256', this.#key).update(body).digest();
  }

  sign(session: InteractiveSession): string {
    const body = Buffer.from(JSON.stringify(session)).toString('base64url');
    return `${body}.${this.#mac(body).toString('base64url')}`;
  }

  /** The session, when the value is one this data plane signed and it has not expired; else undefined. */
  read(value: string, nowSeconds = Date.now() / 1000): InteractiveSession | undefined {
    const [body, mac, extra] = value.split('.');
    if (body === undefined || mac === undefined || extra !== undefined || body.length > 2048) return undefined;
    const given = Buffer.from(mac, 'base64url');
    const expected = this.#mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let session: Partial<InteractiveSession>;
    try {
      session = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const { run, ws, sub, jti, exp } = session;
    if (
      typeof run !== 'string' ||
      typeof ws !== 'string' ||
      typeof sub !== 'string' ||
      typeof jti !== 'string' ||
      typeof exp !== 'number' ||
      exp <= nowSeconds
    ) {
      return undefined;
    }
    return { run, ws, sub, jti, exp };
  }
}

/** A fresh secret for a ticket or a launch cookie: 256 bits, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored of a secret, and what a launch `state` is: its SHA-256, base64url. */
export function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** A secret as `newSecret` makes them: anything else is refused before it is hashed or looked up. */
export const secretPattern = /^[A-Za-z0-9_-]{43}$/;

/** Every value of one cookie in a Cookie header: a sibling host may have added one of the same name. */
export function readCookies(header: string | undefined, name: string): string[] {
  if (header === undefined) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) values.push(part.slice(at + 1).trim());
  }
  return values;
}

/** A Cookie header without ours: they are never passed to the app. Undefined when nothing is left. */
export function withoutOurCookies(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const kept = header
    .split(';')
    .filter((part) => {
      const at = part.indexOf('=');
      return !isOurCookie(at > 0 ? part.slice(0, at) : part) && part.trim() !== '';
    })
    .map((part) => part.trim());
  return kept.length === 0 ? undefined : kept.join('; ');
}

/**
 * A Set-Cookie header for one of our cookies on an app's origin: host-only (no Domain,
 * so no other host gets it), on `/`, HttpOnly (the app's scripts never see it),
 * SameSite=Lax (not sent with other sites' subrequests or form posts), and Secure over
 * HTTPS. `maxAgeSeconds` 0 removes it.
 */
export function setCookie(name: string, value: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${name}=${value}`,
    'Path=/',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
