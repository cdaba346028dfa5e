import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A random credential: a readable prefix (so a leaked one is recognisable in a scan)
 * and 256 random bits. Only its SHA-256 is stored: with that much entropy a fast
 * hash is as safe as a slow one, and lookups stay a single index probe.
 */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export const SecretPrefix = {
  session: 'sov_s',
  apiKey: 'sov_pat',
  dataplaneSecret: 'sov_dps',
} as const;
