import { createHmac, randomBytes } from 'node:crypto';
import { constants as fs } from 'node:fs';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MasterKeyFileInsecureError, MasterKeyInvalidError, MasterKeyMissingError } from './errors.ts';
import { masterKeyLength } from './seal.ts';

/**
 * A service's master key, read the way the data plane reads its own (SOV_MASTER_KEY,
 * SOV_MASTER_KEY_FILE, a generated file in dev mode), so operators meet one pattern.
 */
export interface MasterKey {
  /** Not enumerable: a logged or serialized MasterKey shows its id, never the key. */
  readonly key: Buffer;
  /** A fingerprint that names the key without revealing it; safe to log and store. */
  readonly keyId: string;
}

export interface LoadedMasterKey extends MasterKey {
  /** Where the key came from (a variable's name, or `dev key file`), for the startup log line. */
  readonly source: string;
}

export interface MasterKeySource {
  /** The variable holding the key, e.g. SOV_MASTER_KEY; `<variable>_FILE` names a file holding one. */
  variable: string;
  /** The variable's value: 32 bytes as base64 (standard or url-safe) or 64 hex digits. */
  key?: string | undefined;
  /** The `_FILE` variable's value. */
  file?: string | undefined;
  /** How messages name this key (`the master key`, `the previous master key`). */
  label?: string | undefined;
}

export interface MasterKeyOptions {
  /** Who reads the key, as messages name it: `control plane`. */
  service: string;
  /** What the key protects, said when it is missing. */
  purpose: string;
  dev: boolean;
  /** Dev mode only: where a key is generated on first start and read afterwards. */
  devKeyPath?: string | undefined;
}

/** A key file is a few dozen bytes; anything much larger is the wrong file. */
const maxKeyFileBytes = 4096;

/** Adds the key as a property that JSON, util.inspect and loggers do not see. */
function withHiddenKey<T extends object>(fields: T, key: Buffer): T & { readonly key: Buffer } {
  return Object.defineProperty(fields, 'key', { value: key, enumerable: false }) as T & { readonly key: Buffer };
}

/** The same fingerprint as the data plane's: one key has one id wherever it is shown. */
export function masterKeyFrom(key: Buffer, label = 'the master key'): MasterKey {
  if (key.length !== masterKeyLength) {
    throw new MasterKeyInvalidError(`it must be ${masterKeyLength} bytes, it is ${key.length}`, label);
  }
  const keyId = createHmac('sha256', key).update('sovereign master key id').digest('hex').slice(0, 16);
  return withHiddenKey({ keyId }, key);
}

/** 32 bytes written as 64 hex digits or as base64 (padding optional). Errors never echo the text. */
export function parseMasterKey(text: string, label = 'the master key'): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  // Buffer.from(…, 'base64') skips characters it does not know: check the alphabet first.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new MasterKeyInvalidError(
      `it is neither hex nor base64; write ${masterKeyLength} random bytes as base64 or 64 hex digits (e.g. \`openssl rand -base64 32\`)`,
      label,
    );
  }
  const bytes = Buffer.from(trimmed, 'base64');
  if (bytes.length !== masterKeyLength) {
    throw new MasterKeyInvalidError(
      `it decodes to ${bytes.length} bytes, a master key is ${masterKeyLength} (e.g. \`openssl rand -base64 32\`)`,
      label,
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
async function readKeyFile(
  path: string,
  missingOk: boolean,
  service: string,
  label: string,
): Promise<MasterKey | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: opening a FIFO must not hang startup; it is then refused as not a file.
    handle = await open(path, fs.O_RDONLY | fs.O_NONBLOCK);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' && missingOk) return undefined;
    throw new MasterKeyInvalidError(
      `the key file ${path} cannot be opened (${errnoOf(error) ?? String(error)})`,
      label,
    );
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new MasterKeyFileInsecureError(
        path,
        'is not a regular file',
        'point it at a file holding the key',
        service,
      );
    }
    // Owner read/write only: group and others get nothing, and an executable key file is a mistake.
    if ((info.mode & 0o177) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new MasterKeyFileInsecureError(path, `has mode ${mode}`, `chmod 600 ${path}`, service);
    }
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid) {
      throw new MasterKeyFileInsecureError(
        path,
        `is owned by uid ${info.uid}, not by the user running the ${service} (uid ${uid})`,
        `chown ${uid} ${path}`,
        service,
      );
    }
    if (info.size > maxKeyFileBytes) {
      throw new MasterKeyInvalidError(`the key file ${path} is ${info.size} bytes, not a key`, label);
    }
    const text = await handle.readFile('utf8');
    return masterKeyFrom(parseMasterKey(text, label), label);
  } finally {
    await handle.close();
  }
}

/**
 * Dev mode: the key at `path`, generated on first start. The new key is written whole
 * to a private temporary file, then linked into place (link never overwrites), so two
 * processes starting together agree on one key and nobody ever reads a half-written one.
 */
async function devKey(path: string, service: string): Promise<MasterKey> {
  const label = 'the dev master key';
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await readKeyFile(path, true, service, label);
  if (existing !== undefined) return existing;
  const key = randomBytes(masterKeyLength);
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
    const theirs = await readKeyFile(path, false, service, label);
    if (theirs === undefined) throw new MasterKeyInvalidError(`${path} vanished while it was being created`, label);
    return theirs;
  } finally {
    await unlink(temporary).catch(() => {});
  }
  const directory = await open(dir, 'r');
  await directory.sync().finally(() => directory.close());
  return masterKeyFrom(key);
}

const withSource = (masterKey: MasterKey, source: string): LoadedMasterKey =>
  withHiddenKey({ keyId: masterKey.keyId, source }, masterKey.key);

/** The key in `<variable>`, else in the file `<variable>_FILE` names; undefined when neither is set. */
export async function readMasterKey(source: MasterKeySource, service: string): Promise<LoadedMasterKey | undefined> {
  const label = source.label ?? 'the master key';
  if (source.key !== undefined && source.key !== '') {
    return withSource(masterKeyFrom(parseMasterKey(source.key, label), label), source.variable);
  }
  if (source.file !== undefined && source.file !== '') {
    const fromFile = await readKeyFile(source.file, false, service, label);
    if (fromFile === undefined) throw new MasterKeyInvalidError(`the key file ${source.file} cannot be read`, label);
    return withSource(fromFile, `${source.variable}_FILE`);
  }
  return undefined;
}

/**
 * The master key from the first of: `<variable>`, `<variable>_FILE`, and in dev mode
 * only a key generated once into `devKeyPath`. Outside dev mode with neither set, the
 * service refuses to start (MasterKeyMissingError).
 */
export async function loadMasterKey(source: MasterKeySource, options: MasterKeyOptions): Promise<LoadedMasterKey> {
  const given = await readMasterKey(source, options.service);
  if (given !== undefined) return given;
  if (!options.dev || options.devKeyPath === undefined) {
    throw new MasterKeyMissingError(options.service, source.variable, options.purpose);
  }
  return withSource(await devKey(options.devKeyPath, options.service), 'dev key file');
}
