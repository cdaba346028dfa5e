import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { MemoryReleaser } from '../memory/release.ts';
import {
  BundleInvalidProblem,
  BundleLinkEscapeProblem,
  BundleSpecialFileProblem,
  BundleTooLargeProblem,
  BundleUnsafePathProblem,
  type Finding,
  ManifestMissingProblem,
} from './errors.ts';
import { maxManifestBytes } from './manifest.ts';

export interface BundleLimits {
  maxBundleBytes: number;
  maxEntries: number;
  maxUnpackedBytes: number;
}

export interface ReceivedBundle {
  /** The gzipped tar as received, on the artifact store's filesystem. */
  tempPath: string;
  digest: string;
  sizeBytes: number;
  entries: number;
  unpackedBytes: number;
  manifestText: string;
}

const maxFindings = 50;
const allowedTypes = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

/** Normalises a tar path, or returns why it is unsafe. */
function checkPath(raw: string): { path: string } | { unsafe: string } {
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw) || raw.startsWith('\\')) return { unsafe: 'is an absolute path' };
  if (raw.split(/[\\/]/).includes('..')) return { unsafe: 'climbs out of the bundle with ..' };
  return {
    path: posix
      .normalize(raw)
      .replace(/^\.\/?/, '')
      .replace(/\/$/, ''),
  };
}

/**
 * Receives a gzipped tar without holding it in memory: it streams to a file while its
 * SHA-256 and size are taken (past the limit the upload is cut off at once), then its
 * entries are read back, streaming, and every one that could escape the bundle or is
 * not a plain file, directory or link is listed in the refusal. On any failure the
 * file is gone: a failed upload leaves nothing behind.
 */
export async function receiveBundle(body: Readable, stagingDir: string, limits: BundleLimits): Promise<ReceivedBundle> {
  await mkdir(stagingDir, { recursive: true });
  const tempPath = `${stagingDir}/${randomUUID()}.tar.gz`;
  try {
    const hash = createHash('sha256');
    const memory = new MemoryReleaser();
    let sizeBytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sizeBytes += chunk.length;
        memory.streamed(chunk.length);
        if (sizeBytes > limits.maxBundleBytes) return done(new BundleTooLargeProblem(limits.maxBundleBytes));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    await pipeline(body, meter, createWriteStream(tempPath, { mode: 0o600 }));
    const scan = await scanBundle(tempPath, limits);
    return { tempPath, digest: `sha256:${hash.digest('hex')}`, sizeBytes, ...scan };
  } catch (error) {
    // Stop reading the rest of a refused upload; the client gets its answer now.
    body.destroy();
    await rm(tempPath, { force: true });
    throw error;
  }
}

async function scanBundle(path: string, limits: BundleLimits) {
  const unsafe: Finding[] = [];
  const escapes: Finding[] = [];
  const special: Finding[] = [];
  let entries = 0;
  let unpackedBytes = 0;
  let manifestText: string | undefined;
  let limitHit: string | undefined;
  const memory = new MemoryReleaser();
  const note = (list: Finding[], finding: Finding) => {
    if (list.length < maxFindings) list.push(finding);
  };
  try {
    await tar.t({
      file: path,
      // tar reads its file 16 MiB at a time by default; a bundle is scanned in small bites.
      maxReadSize: 256 * 1024,
      strict: true,
      onReadEntry: (entry) => {
        entries += 1;
        unpackedBytes += entry.size;
        entry.on('data', (chunk: Buffer) => memory.streamed(chunk.length));
        if (entries > limits.maxEntries) limitHit = `has more than ${limits.maxEntries} entries`;
        if (unpackedBytes > limits.maxUnpackedBytes) limitHit = `unpacks to more than ${limits.maxUnpackedBytes} bytes`;
        const checked = checkPath(entry.path);
        if ('unsafe' in checked) {
          note(unsafe, { path: entry.path, message: checked.unsafe });
          return entry.resume();
        }
        if (!allowedTypes.has(entry.type)) {
          note(special, { path: entry.path, message: `is a ${entry.type}, not a file, directory or link` });
          return entry.resume();
        }
        if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
          const target = entry.linkpath ?? '';
          // Symbolic links resolve from the link's directory, hard links from the root.
          const base = entry.type === 'SymbolicLink' ? posix.dirname(checked.path) : '';
          const resolved = posix.normalize(posix.join(base, target));
          if (target.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
            note(escapes, { path: entry.path, message: `links to ${target}, outside the bundle` });
          }
          return entry.resume();
        }
        if (checked.path === 'sovereign.yaml' && entry.type !== 'Directory') {
          if (entry.size > maxManifestBytes) {
            manifestText = '';
            return entry.resume();
          }
          const chunks: Buffer[] = [];
          entry.on('data', (chunk: Buffer) => chunks.push(chunk));
          entry.on('end', () => {
            manifestText = Buffer.concat(chunks).toString('utf8');
          });
          return;
        }
        entry.resume();
      },
    });
  } catch (error) {
    throw new BundleInvalidProblem(
      `The body is not a gzipped tar: ${error instanceof Error ? error.message.split('\n')[0] : 'unreadable'}.`,
    );
  }
  if (unsafe.length > 0) throw new BundleUnsafePathProblem(unsafe);
  if (escapes.length > 0) throw new BundleLinkEscapeProblem(escapes);
  if (special.length > 0) throw new BundleSpecialFileProblem(special);
  if (limitHit !== undefined) throw new BundleInvalidProblem(`The bundle ${limitHit}.`);
  if (entries === 0) throw new BundleInvalidProblem('The bundle is empty.');
  if (manifestText === undefined) throw new ManifestMissingProblem();
  return { entries, unpackedBytes, manifestText };
}
