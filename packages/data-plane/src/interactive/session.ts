import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** The cookie a browser holds for one interactive run, on that run's path only. */
export const sessionCookieName = 'sov_interactive';

/** What a session cookie stands for: one user, on one run of one workspace, until `exp`. */
export interface InteractiveSession {
  /** The run the cookie opens, and nothing else. */
  run: string;
  ws: string;
  sub: string;
  /** The scoped token it was exchanged for: revoking that token ends the session. */
  jti: string;
  /** Seconds since the epoch. */
  exp: number;
}

/**
 * Signs and reads session cookies: the claims in base64url JSON and an HMAC-SHA256 of
 * them. The key is derived from the master key, so every instance of the data plane
 * reads the cookies of the others, and the control plane never holds it.
 */
export class SessionSigner {
  readonly #key: Buffer;

  constructor(masterKey: Buffer) {
    this.#key = Buffer.from(hkdfSync('sha256', masterKey, '', 'sovereign interactive session cookie v1', 32));
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

/** The value of one cookie in a Cookie header (the first, if it is sent twice). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** A Cookie header without one cookie: ours is never passed to the app. Undefined when nothing is left. */
export function withoutCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const kept = header
    .split(';')
    .filter((part) => {
      const at = part.indexOf('=');
      return (at > 0 ? part.slice(0, at) : part).trim() !== name && part.trim() !== '';
    })
    .map((part) => part.trim());
  return kept.length === 0 ? undefined : kept.join('; ');
}

/**
 * The Set-Cookie header of a session: HttpOnly (page scripts never see it), SameSite=Lax
 * (sent when the user opens the URL from elsewhere, not with cross-site form posts or
 * subrequests), on the run's path only, Secure when the data plane is served over HTTPS.
 */
export function sessionSetCookie(value: string, path: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${sessionCookieName}=${value}`,
    `Path=${path}`,
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
