import { createHmac, randomBytes } from 'node:crypto';
import { constants as fs } from 'node:fs';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { masterKeyLength as keyLength } from '@sovereign/server-kit/keys';
import { MasterKeyFileInsecureError, MasterKeyInvalidError, MasterKeyMissingError } from './errors.ts';

export interface MasterKey {
  /** Not enumerable: a logged or serialized MasterKey shows its id, never the key. */
  readonly key: Buffer;
  /** A fingerprint that names the key without revealing it; safe to log and store. */
  readonly keyId: string;
}

export interface LoadedMasterKey extends MasterKey {
  /** Where the key came from, for the startup log line. */
  readonly source: 'SOV_MASTER_KEY' | 'SOV_MASTER_KEY_FILE' | 'dev key file';
}

export interface MasterKeyOptions {
  /** SOV_MASTER_KEY: 32 bytes as base64 (standard or url-safe) or 64 hex digits. */
  key?: string | undefined;
  /** SOV_MASTER_KEY_FILE: a file holding the key in one of those forms. */
  file?: string | undefined;
  dev: boolean;
  /** Dev mode only: where a key is generated on first start and read afterwards. */
  devKeyPath: string;
}

/** A key file is a few dozen bytes; anything much larger is the wrong file. */
const maxKeyFileBytes = 4096;

/** Adds the key as a property that JSON, util.inspect and loggers do not see. */
function withHiddenKey<T extends object>(fields: T, key: Buffer): T & { readonly key: Buffer } {
  return Object.defineProperty(fields, 'key', { value: key, enumerable: false }) as T & { readonly key: Buffer };
}

export function masterKeyFrom(key: Buffer): MasterKey {
  if (key.length !== keyLength) {
    throw new MasterKeyInvalidError(`it must be ${keyLength} bytes, it is ${key.length}`);
  }
  const keyId = createHmac('sha256', key).update('sovereign master key id').digest('hex').slice(0, 16);
  return withHiddenKey({ keyId }, key);
}

/** 32 bytes written as 64 hex digits or as base64 (padding optional). Errors never echo the text. */
export function parseKey(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  // Buffer.from(…, 'base64') skips characters it does not know: check the alphabet first.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new MasterKeyInvalidError(
      `it is neither hex nor base64; write ${keyLength} random bytes as base64 or 64 hex digits (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  const bytes = Buffer.from(trimmed, 'base64');
  if (bytes.length !== keyLength) {
    throw new MasterKeyInvalidError(
      `it decodes to ${bytes.length} bytes, a master key is ${keyLength} (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  return bytes;
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/**
 * Reads a key file after checking, on the opened file itself (no race between check and
 * read), that it is a regular file, private to its owner, and owned by this process's
 * user. Symbolic links are followed: mounted secrets (Kubernetes) are links to files,
 * and the file they reach is what is checked. Resolves to undefined when the file is
 * missing and `missingOk`.
 */
async function readKeyFile(path: string, missingOk: boolean): Promise<MasterKey | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: opening a FIFO must not hang startup; it is then refused as not a file.
    handle = await open(path, fs.O_RDONLY | fs.O_NONBLOCK);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' && missingOk) return undefined;
    throw new MasterKeyInvalidError(`the key file ${path} cannot be opened (${errnoOf(error) ?? String(error)})`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new MasterKeyFileInsecureError(path, 'is not a regular file', `point it at a file holding the key`);
    }
    // Owner read/write only: group and others get nothing, and an executable key file is a mistake.
    if ((info.mode & 0o177) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new MasterKeyFileInsecureError(path, `has mode ${mode}`, `chmod 600 ${path}`);
    }
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid) {
      throw new MasterKeyFileInsecureError(
        path,
        `is owned by uid ${info.uid}, not by the user running the data plane (uid ${uid})`,
        `chown ${uid} ${path}`,
      );
    }
    if (info.size > maxKeyFileBytes) {
      throw new MasterKeyInvalidError(`the key file ${path} is ${info.size} bytes, not a key`);
    }
    const text = await handle.readFile('utf8');
    return masterKeyFrom(parseKey(text));
  } finally {
    await handle.close();
  }
}

/**
 * Dev mode: the key at `path`, generated on first start. The new key is written whole
 * to a private temporary file, then linked into place (link never overwrites), so two
 * processes starting together agree on one key and nobody ever reads a half-written one.
 */
async function devKey(path: string): Promise<MasterKey> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await readKeyFile(path, true);
  if (existing !== undefined) return existing;
  const key = randomBytes(keyLength);
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const file = await open(temporary, 'wx', 0o600);
  try {
    await file.writeFile(`${key.toString('base64')}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await link(temporary, path);
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw error;
    // Another process won the race: its key is the key.
    const theirs = await readKeyFile(path, false);
    if (theirs === undefined) throw new MasterKeyInvalidError(`${path} vanished while it was being created`);
    return theirs;
  } finally {
    await unlink(temporary).catch(() => {});
  }
  const directory = await open(dir, 'r');
  await directory.sync().finally(() => directory.close());
  return masterKeyFrom(key);
}

/**
 * The master key that wraps every data key, from the first of: SOV_MASTER_KEY,
 * SOV_MASTER_KEY_FILE, and in dev mode only a key generated once into `devKeyPath`.
 * Outside dev mode with neither set, the data plane refuses to start.
 */
export async function loadMasterKey(options: MasterKeyOptions): Promise<LoadedMasterKey> {
  const withSource = (masterKey: MasterKey, source: LoadedMasterKey['source']): LoadedMasterKey =>
    withHiddenKey({ keyId: masterKey.keyId, source }, masterKey.key);
  if (options.key !== undefined && options.key !== '') {
    return withSource(masterKeyFrom(parseKey(options.key)), 'SOV_MASTER_KEY');
  }
  if (options.file !== undefined && options.file !== '') {
    const fromFile = await readKeyFile(options.file, false);
    if (fromFile === undefined) throw new MasterKeyInvalidError(`the key file ${options.file} cannot be read`);
    return withSource(fromFile, 'SOV_MASTER_KEY_FILE');
  }
  if (!options.dev) throw new MasterKeyMissingError();
  return withSource(await devKey(options.devKeyPath), 'dev key file');
}
