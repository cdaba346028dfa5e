import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';
import { isDefiningFile } from '../environments/definition.ts';
import { MemoryReleaser } from '../memory/release.ts';
import {
  BundleInvalidProblem,
  BundleLinkEscapeProblem,
  BundleSpecialFileProblem,
  BundleTooLargeProblem,
  BundleUnsafePathProblem,
  type Finding,
  ManifestInvalidProblem,
  ManifestMissingProblem,
  maxFindings,
} from './errors.ts';
import { maxManifestBytes } from './manifest.ts';

export interface BundleLimits {
  /** The gzipped tar as uploaded. Past it the upload is cut off: 413. */
  maxBundleBytes: number;
  /** Entries of the tar (files, directories, links). */
  maxEntries: number;
  /** The sum of the entries' sizes once unpacked. */
  maxUnpackedBytes: number;
}

export interface ReceivedBundle {
  /** The gzipped tar as received, in the temporary directory given; the caller moves or deletes it. */
  tempPath: string;
  /** `sha256:<hex>` of the bytes as uploaded. */
  digest: string;
  sizeBytes: number;
  entries: number;
  unpackedBytes: number;
  /** `sovereign.yaml` from the bundle's root, as UTF-8 text. */
  manifestText: string;
  /** The files that may define an environment (requirements.txt, package.json...), by path, when regular files. */
  environmentFiles: Map<string, Buffer>;
}

/** A file that defines an environment is read whole; a lock file larger than this is refused. */
const maxDefiningFileBytes = 16 * 1024 * 1024;
/** Files that may define an environment, read at most: a bundle of a thousand lock files is not a project. */
const maxDefiningFiles = 100;

const allowedTypes = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);
const fileTypes = new Set(['File', 'OldFile', 'ContiguousFile']);
/**
 * tar@7 (which unpacks bundles for runs) aborts past this decompression ratio; a
 * bundle it could not unpack is refused here, at upload, rather than at its first run.
 */
const maxDecompressionRatio = 1000;
/** Zero padding after the end-of-archive blocks (tar pads to its record size, 10 KiB by default). */
const maxTrailingBytes = 1024 * 1024;
/** Symbolic links followed while resolving one path, as Linux (MAXSYMLINKS). */
const maxLinkHops = 40;

/** Normalises a tar path (`./a//b/` -> `a/b`, the root is ``), or says why it is unsafe. */
function checkPath(raw: string): { path: string } | { unsafe: string } {
  if (raw.startsWith('/') || raw.startsWith('\\') || /^[A-Za-z]:/.test(raw)) return { unsafe: 'is an absolute path' };
  if (raw.split(/[\\/]/).includes('..')) return { unsafe: 'climbs out of the bundle with ..' };
  const path = posix.normalize(raw).replace(/\/+$/, '');
  return { path: path === '.' ? '' : path };
}

/**
 * Receives a gzipped tar without holding it in memory: it streams to a file in
 * `tmpDir` while its SHA-256 and size are taken (past `maxBundleBytes`, or when it
 * does not start as gzip, the upload is cut off at once), then its entries are read
 * back, streaming, and every entry that could escape the bundle or is not a plain
 * file, directory or link is listed in the refusal. On any failure the file is gone:
 * a failed upload leaves nothing behind.
 */
export async function receiveBundle(body: Readable, tmpDir: string, limits: BundleLimits): Promise<ReceivedBundle> {
  await mkdir(tmpDir, { recursive: true, mode: 0o700 });
  const tempPath = join(tmpDir, `${randomUUID()}.tar.gz`);
  try {
    const hash = createHash('sha256');
    const memory = new MemoryReleaser();
    let sizeBytes = 0;
    let head = Buffer.alloc(0);
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sizeBytes += chunk.length;
        memory.streamed(chunk.length);
        if (sizeBytes > limits.maxBundleBytes) return done(new BundleTooLargeProblem(limits.maxBundleBytes));
        if (head.length < 2) {
          head = Buffer.concat([head, chunk.subarray(0, 2)]).subarray(0, 2);
          if (head.length === 2 && (head[0] !== 0x1f || head[1] !== 0x8b)) {
            return done(
              new BundleInvalidProblem('The body is not gzip-compressed: a bundle is a gzipped tar.', [
                { path: '.', message: 'is not gzip-compressed' },
              ]),
            );
          }
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    await pipeline(body, meter, createWriteStream(tempPath, { mode: 0o600, flags: 'wx' }));
    if (sizeBytes === 0) {
      throw new BundleInvalidProblem('The body is empty: a bundle is a gzipped tar.', [
        { path: '.', message: 'is empty' },
      ]);
    }
    const scan = await scanBundle(tempPath, sizeBytes, limits);
    return { tempPath, digest: `sha256:${hash.digest('hex')}`, sizeBytes, ...scan };
  } catch (error) {
    // Stop reading the rest of a refused upload; the client gets its answer now.
    body.destroy();
    await rm(tempPath, { force: true });
    throw error;
  }
}

/** Findings by kind, each kept up to `maxFindings` and counted beyond. */
class Findings {
  readonly unsafe: Finding[] = [];
  readonly links: Finding[] = [];
  readonly special: Finding[] = [];
  total = 0;

  add(list: Finding[], path: string, message: string): void {
    this.total += 1;
    if (list.length < maxFindings) list.push({ path, message });
  }

  /** The refusal: its code names the worst kind found; its errors list every kind. */
  problem(): Error | undefined {
    if (this.total === 0) return undefined;
    const all = [...this.unsafe, ...this.links, ...this.special];
    const omitted = this.total - all.length;
    if (this.unsafe.length > 0) return new BundleUnsafePathProblem(all, omitted);
    if (this.links.length > 0) return new BundleLinkEscapeProblem(all, omitted);
    return new BundleSpecialFileProblem(all, omitted);
  }
}

interface Seen {
  type: string;
  raw: string;
}

interface Scan {
  entries: number;
  unpackedBytes: number;
  manifestText: string;
  environmentFiles: Map<string, Buffer>;
}

/**
 * Reads the tar back from `path`: gunzipped here (so the bytes it unpacks to are
 * counted, and reading stops at a limit instead of inflating a bomb to its end) and
 * parsed by tar@7's Parser, entry by entry.
 */
async function scanBundle(path: string, compressedBytes: number, limits: BundleLimits): Promise<Scan> {
  const findings = new Findings();
  // Every path once (for duplicates and entries under links), and the links to resolve.
  const seen = new Map<string, Seen>();
  const symlinks = new Map<string, string>();
  const hardlinks: Array<{ path: string; raw: string; target: string }> = [];
  let entries = 0;
  let unpackedBytes = 0;
  let manifest: { text?: string; problem?: string; tooLarge?: boolean } = {};
  const environmentFiles = new Map<string, Buffer>();
  let stop: Error | undefined;
  let parseError: Error | undefined;
  let eof = false;
  // The raw tar may be larger than its entries: headers, padding, extended headers.
  const maxRawBytes = limits.maxUnpackedBytes + (limits.maxEntries + 1) * 3 * 512 + maxTrailingBytes;
  const memory = new MemoryReleaser();

  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry: tar.ReadEntry) => {
      entries += 1;
      unpackedBytes += entry.size;
      if (entries > limits.maxEntries) stop ??= limitProblem(`has more than ${limits.maxEntries} entries`);
      if (unpackedBytes > limits.maxUnpackedBytes) {
        stop ??= limitProblem(`unpacks to more than ${limits.maxUnpackedBytes} bytes`);
      }
      inspect(entry);
      entry.resume();
    },
  });
  parser.on('error', (error: Error) => {
    parseError ??= error;
  });
  parser.on('eof', () => {
    eof = true;
  });
  const settled = new Promise<void>((resolve, reject) => {
    parser.once('end', () => resolve());
    parser.once('error', reject);
  });
  settled.catch(() => {});

  function inspect(entry: tar.ReadEntry): void {
    const raw = entry.path;
    const checked = checkPath(raw);
    if ('unsafe' in checked) findings.add(findings.unsafe, raw, checked.unsafe);
    else if (!allowedTypes.has(entry.type)) {
      findings.add(findings.special, raw, `is a ${entry.type}, not a file, directory or link`);
    } else if (checked.path === '' && entry.type !== 'Directory') {
      findings.add(findings.unsafe, raw, 'names the bundle root');
    } else record(entry, checked.path, raw);
  }

  /** A safe-looking entry: kept for the link checks, and read when it is the manifest. */
  function record(entry: tar.ReadEntry, path: string, raw: string): void {
    const isLink = entry.type === 'SymbolicLink' || entry.type === 'Link';
    const before = seen.get(path)?.type;
    if (before !== undefined && (isLink || before === 'SymbolicLink' || before === 'Link')) {
      // Which one an extractor keeps depends on the extractor: refuse the ambiguity.
      findings.add(findings.links, raw, 'appears more than once, as a link at least once');
    }
    seen.set(path, { type: entry.type, raw });
    if (entry.type === 'SymbolicLink') symlinks.set(path, entry.linkpath ?? '');
    if (entry.type === 'Link') hardlinks.push({ path, raw, target: entry.linkpath ?? '' });
    if (path === 'sovereign.yaml') readManifest(entry);
    else if (isDefiningFile(path)) readDefiningFile(entry, path);
  }

  function readDefiningFile(entry: tar.ReadEntry, path: string): void {
    // The last entry of that name is the one unpacked; a link or a directory defines nothing.
    environmentFiles.delete(path);
    if (!fileTypes.has(entry.type)) return;
    if (environmentFiles.size >= maxDefiningFiles) {
      findings.add(
        findings.unsafe,
        path,
        `is one more than the ${maxDefiningFiles} requirements and package files a bundle may hold`,
      );
      return;
    }
    if (entry.size > maxDefiningFileBytes) {
      findings.add(findings.unsafe, path, `is larger than ${maxDefiningFileBytes} bytes`);
      return;
    }
    const chunks: Buffer[] = [];
    entry.on('data', (chunk: Buffer) => chunks.push(chunk));
    entry.on('end', () => environmentFiles.set(path, Buffer.concat(chunks)));
  }

  function readManifest(entry: tar.ReadEntry): void {
    // The last entry of that name is the one unpacked, so it is the one read.
    manifest = {};
    if (entry.type === 'Directory') manifest.problem = 'is a directory, not a file';
    else if (!fileTypes.has(entry.type)) manifest.problem = 'is a link; the manifest must be a regular file';
    else if (entry.size > maxManifestBytes) manifest.tooLarge = true;
    else {
      const chunks: Buffer[] = [];
      const current = manifest;
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => {
        current.text = Buffer.concat(chunks).toString('utf8');
      });
    }
  }

  const source = createReadStream(path, { highWaterMark: 64 * 1024 });
  let compressedRead = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      compressedRead += chunk.length;
      done(null, chunk);
    },
  });
  let rawBytes = 0;
  let trailing = 0;
  try {
    await pipeline(
      source,
      counter,
      createGunzip({ chunkSize: 64 * 1024 }),
      async (tarStream: AsyncIterable<Buffer>) => {
        for await (const chunk of tarStream) {
          rawBytes += chunk.length;
          memory.streamed(chunk.length);
          if (rawBytes > maxRawBytes) throw limitProblem(`unpacks to more than ${limits.maxUnpackedBytes} bytes`);
          if (rawBytes > maxDecompressionRatio * Math.max(compressedRead, 1)) {
            throw limitProblem(`expands more than ${maxDecompressionRatio} times (a decompression bomb?)`);
          }
          // After the end-of-archive blocks there may be zero padding only: anything else
          // could be entries that another extractor finds and this scan never saw.
          if (eof) {
            trailing += chunk.length;
            if (trailing > maxTrailingBytes || chunk.some((byte) => byte !== 0)) throw trailingData();
            continue;
          }
          // The chunk up to its last non-zero byte first: if the archive ends in there,
          // that byte came after its end.
          let last = chunk.length;
          while (last > 0 && chunk[last - 1] === 0) last -= 1;
          if (last > 0) parser.write(last === chunk.length ? chunk : chunk.subarray(0, last));
          if (stop !== undefined) throw stop;
          if (parseError !== undefined) throw parseError;
          if (eof) throw trailingData();
          if (last < chunk.length) parser.write(chunk.subarray(last));
          if (stop !== undefined) throw stop;
          if (parseError !== undefined) throw parseError;
        }
      },
    );
    parser.end();
    await settled;
    if (stop !== undefined) throw stop;
  } catch (error) {
    source.destroy();
    // A limit reached is the reason, even when the parser complains afterwards.
    if (stop !== undefined) throw stop;
    if (error instanceof BundleInvalidProblem) throw error;
    const reason = error instanceof Error ? (error.message.split('\n')[0] ?? 'unreadable') : 'unreadable';
    throw new BundleInvalidProblem(`The body is not a valid gzipped tar: ${reason}.`, [
      { path: '.', message: `is not a valid gzipped tar: ${reason}` },
    ]);
  }
  if (compressedBytes > 0 && rawBytes / compressedBytes > maxDecompressionRatio) {
    throw limitProblem(`expands more than ${maxDecompressionRatio} times (a decompression bomb?)`);
  }

  checkLinks(seen, symlinks, hardlinks, findings);
  const refused = findings.problem();
  if (refused !== undefined) throw refused;
  if (entries === 0) throw new BundleInvalidProblem('The bundle is empty.', [{ path: '.', message: 'has no entries' }]);
  if (manifest.tooLarge) {
    throw new ManifestInvalidProblem([{ path: 'sovereign.yaml', message: `is larger than ${maxManifestBytes} bytes` }]);
  }
  if (manifest.problem !== undefined) throw new ManifestMissingProblem(manifest.problem);
  if (manifest.text === undefined) throw new ManifestMissingProblem();
  return { entries, unpackedBytes, manifestText: manifest.text, environmentFiles };
}

function trailingData(): BundleInvalidProblem {
  return new BundleInvalidProblem('The bundle has data after the end of its tar archive.', [
    { path: '.', message: 'has data after the end of its tar archive' },
  ]);
}

function limitProblem(what: string): BundleInvalidProblem {
  return new BundleInvalidProblem(`The bundle ${what}.`, [{ path: '.', message: what }]);
}

/**
 * Where a path leads once the bundle's symbolic links are followed, as the kernel
 * would follow them in an unpacked copy; `undefined` when it leaves the bundle or
 * loops. Lexical normalisation alone is not enough: with `s -> .`, `s/x/../..` is the
 * bundle root on paper but its parent on disk.
 */
function resolve(path: string, symlinks: Map<string, string>, followLast: boolean): string | undefined {
  const stack: string[] = [];
  let rest = path.split('/');
  let hops = 0;
  while (rest.length > 0) {
    const part = rest.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return undefined;
      stack.pop();
      continue;
    }
    stack.push(part);
    const target = symlinks.get(stack.join('/'));
    if (target === undefined || (rest.length === 0 && !followLast)) continue;
    hops += 1;
    if (hops > maxLinkHops || target.startsWith('/')) return undefined;
    stack.pop();
    rest = [...target.split('/'), ...rest];
  }
  return stack.join('/');
}

function checkLinks(
  seen: Map<string, Seen>,
  symlinks: Map<string, string>,
  hardlinks: Array<{ path: string; raw: string; target: string }>,
  findings: Findings,
): void {
  if (symlinks.size === 0 && hardlinks.length === 0) return;
  // An entry under a symbolic link is written through it by some extractors: the
  // two-step escape (`d -> /etc`, then `d/passwd`). tar itself never archives one.
  if (symlinks.size > 0) {
    for (const [path, { raw }] of seen) {
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const prefix = parts.slice(0, i).join('/');
        if (symlinks.has(prefix)) {
          findings.add(findings.links, raw, `lies under the symbolic link ${prefix}`);
          break;
        }
      }
    }
  }
  for (const [path, target] of symlinks) {
    const raw = seen.get(path)?.raw ?? path;
    const from = posix.dirname(path) === '.' ? '' : posix.dirname(path);
    if (target.startsWith('/')) findings.add(findings.links, raw, `links to ${target}, outside the bundle`);
    else if (resolve(`${from}/${target}`, symlinks, true) === undefined) {
      findings.add(findings.links, raw, `links to ${target}, which resolves outside the bundle (or loops)`);
    }
  }
  for (const { path, raw, target } of hardlinks) {
    // A hard link names another entry, from the bundle's root.
    const checked = checkPath(target);
    const resolved = 'unsafe' in checked ? undefined : resolve(checked.path, symlinks, false);
    const type = resolved === undefined ? undefined : seen.get(resolved)?.type;
    if (resolved === undefined) findings.add(findings.links, raw, `links to ${target}, outside the bundle`);
    else if (resolved === path) findings.add(findings.links, raw, 'links to itself');
    else if (type === undefined || !(fileTypes.has(type) || type === 'Link')) {
      findings.add(findings.links, raw, `links to ${target}, which is not a file of the bundle`);
    }
  }
}
