import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * scrypt with OWASP's parameters by default (N=2^17, r=8, p=1: 128 MiB and about half a
 * second here). `costLog2` lowers N where hashing speed matters more than resistance
 * to offline guessing (test suites); the stored hash records the cost it was made with.
 */
export const defaultPasswordCostLog2 = 17;
const keyLength = 32;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, { ...options, maxmem: 256 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$salt$hash`: the parameters travel with the hash, so they can be raised later. */
export async function hashPassword(password: string, costLog2 = defaultPasswordCostLog2): Promise<string> {
  const salt = randomBytes(16);
  const params = { N: 2 ** costLog2, r: 8, p: 1 };
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A hash to verify against when the email is unknown, so a login for a missing user
 * takes as long as one with a wrong password (no user enumeration by timing).
 */
const decoys = new Map<number, Promise<string>>();
export function decoyHash(costLog2 = defaultPasswordCostLog2): Promise<string> {
  let decoy = decoys.get(costLog2);
  if (decoy === undefined) {
    decoy = hashPassword(randomBytes(16).toString('hex'), costLog2);
    decoys.set(costLog2, decoy);
  }
  return decoy;
}
