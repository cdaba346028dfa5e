import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MasterKeyFileInsecureError, MasterKeyInvalidError, MasterKeyMissingError } from './errors.ts';

export interface MasterKey {
  key: Buffer;
  /** A fingerprint that names the key without revealing it. */
  keyId: string;
}

export function masterKeyFrom(key: Buffer): MasterKey {
  if (key.length !== 32) throw new MasterKeyInvalidError(`it must be 32 bytes, it is ${key.length}`);
  return { key, keyId: createHmac('sha256', key).update('sovereign master key id').digest('hex').slice(0, 16) };
}

/** 32 bytes written as 64 hex digits or as base64. */
export function parseKey(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const bytes = Buffer.from(trimmed, 'base64');
  if (bytes.length !== 32) throw new MasterKeyInvalidError('write 32 bytes as 64 hex digits or as base64');
  return bytes;
}

async function readKeyFile(path: string): Promise<Buffer> {
  const info = await stat(path).catch(() => {
    throw new MasterKeyInvalidError(`${path} cannot be read`);
  });
  if (!info.isFile()) throw new MasterKeyInvalidError(`${path} is not a file`);
  if ((info.mode & 0o077) !== 0) throw new MasterKeyFileInsecureError(path, info.mode);
  if (typeof process.getuid === 'function' && info.uid !== process.getuid()) {
    throw new MasterKeyInvalidError(`${path} belongs to another user`);
  }
  return parseKey(await readFile(path, 'utf8'));
}

/**
 * The master key that wraps every data key: SOV_MASTER_KEY, else the 0600 file at
 * SOV_MASTER_KEY_FILE, else, in dev mode only, a key generated once into `devKeyPath`.
 */
export async function loadMasterKey(options: {
  key?: string | undefined;
  file?: string | undefined;
  dev: boolean;
  devKeyPath: string;
}): Promise<MasterKey> {
  if (options.key !== undefined && options.key !== '') return masterKeyFrom(parseKey(options.key));
  if (options.file !== undefined && options.file !== '') return masterKeyFrom(await readKeyFile(options.file));
  if (!options.dev) throw new MasterKeyMissingError();
  try {
    return masterKeyFrom(await readKeyFile(options.devKeyPath));
  } catch (error) {
    if (!(error instanceof MasterKeyInvalidError) || !/cannot be read/.test(error.message)) throw error;
  }
  await mkdir(dirname(options.devKeyPath), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  // 'wx': never overwrite a key another process wrote in the meantime.
  const file = await open(options.devKeyPath, 'wx', 0o600).catch(() => undefined);
  if (file === undefined) return masterKeyFrom(await readKeyFile(options.devKeyPath));
  await file.writeFile(`${key.toString('base64')}\n`);
  await file.sync();
  await file.close();
  return masterKeyFrom(key);
}
