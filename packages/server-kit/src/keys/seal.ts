import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const algorithm = 'aes-256-gcm';
// 96-bit random IVs, as GCM is meant to be used. A master key seals few values (a
// handful of keys), far below the ~2^32 messages after which random IVs risk a collision.
const ivLength = 12;
const tagLength = 16;
export const masterKeyLength = 32;

/**
 * AES-256-GCM. The result is one blob, iv || tag || ciphertext. `aad` says where the
 * value belongs (which key, which row): it is authenticated, not stored, so a blob
 * copied to another place fails to open.
 */
export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(ivLength);
  const cipher = createCipheriv(algorithm, key, iv, { authTagLength: tagLength });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** Throws when the key is wrong, the blob was altered, or it was moved to another place (`aad`). */
export function open(key: Buffer, sealed: Uint8Array, aad: string): Buffer {
  const blob = Buffer.isBuffer(sealed) ? sealed : Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (blob.length < ivLength + tagLength) throw new Error('sealed value is too short');
  const decipher = createDecipheriv(algorithm, key, blob.subarray(0, ivLength), { authTagLength: tagLength });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(blob.subarray(ivLength, ivLength + tagLength));
  return Buffer.concat([decipher.update(blob.subarray(ivLength + tagLength)), decipher.final()]);
}
