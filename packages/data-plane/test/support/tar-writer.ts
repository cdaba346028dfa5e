import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';

/**
 * Writes tar archives by hand, one 512-byte ustar header at a time, so a test can
 * build the hostile ones (absolute paths, `..`, escaping links, devices, FIFOs) that
 * a well-behaved tar tool refuses to produce.
 */
export interface RawEntry {
  path: string;
  /** '0' file, '1' hard link, '2' symbolic link, '3' character device, '4' block device, '5' directory, '6' FIFO */
  type: '0' | '1' | '2' | '3' | '4' | '5' | '6';
  content?: string | Buffer;
  linkpath?: string;
  /** Permission bits; 0755 for a directory and 0644 for anything else when not given. */
  mode?: number;
  /** The size the header declares, when it should differ from the content's. */
  declaredSize?: number;
  /** The owner the header names (root when not given). */
  uid?: number;
  gid?: number;
  /** PAX extended header records written just before the entry (`path` overrides its name). */
  pax?: Record<string, string>;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** One PAX record: `<length> <key>=<value>\n`, the length counting its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length += 1;
  return `${length}${body}`;
}

export function header(entry: Omit<RawEntry, 'type'> & { type: RawEntry['type'] | 'x' }, size: number): Buffer {
  const block = Buffer.alloc(512);
  block.write(entry.path, 0, 100, 'utf8');
  block.write(octal(entry.mode ?? (entry.type === '5' ? 0o755 : 0o644), 8), 100);
  block.write(octal(entry.uid ?? 0, 8), 108);
  block.write(octal(entry.gid ?? 0, 8), 116);
  block.write(octal(size, 12), 124);
  block.write(octal(1_700_000_000, 12), 136); // mtime
  block.write(' '.repeat(8), 148); // checksum placeholder: spaces while summing
  block.write(entry.type, 156);
  block.write(entry.linkpath ?? '', 157, 100, 'utf8');
  block.write('ustar\0', 257);
  block.write('00', 263);
  if (entry.type === '3' || entry.type === '4') {
    block.write(octal(1, 8), 329); // major
    block.write(octal(3, 8), 337); // minor
  }
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return block;
}

/** The uncompressed tar: entries, then the two zero blocks that end an archive. */
export function rawTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.pax !== undefined) {
      const records = Buffer.from(
        Object.entries(entry.pax)
          .map(([key, value]) => paxRecord(key, value))
          .join(''),
      );
      parts.push(header({ path: 'PaxHeader', type: 'x' }, records.length), records);
      parts.push(Buffer.alloc((512 - (records.length % 512)) % 512));
    }
    const content = entry.type === '0' ? Buffer.from(entry.content ?? '') : Buffer.alloc(0);
    parts.push(header(entry, entry.declaredSize ?? content.length), content);
    parts.push(Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function rawTarGz(entries: RawEntry[], trailing: Buffer = Buffer.alloc(0)): Buffer {
  return gzipSync(Buffer.concat([rawTar(entries), trailing]));
}

/** Writes a project (path -> contents; `.sh` files executable) to a temporary directory and packs it as tar does. */
export async function packProject(files: Record<string, string | Buffer>): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'sov-project-'));
  try {
    for (const [path, contents] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), contents, { mode: path.endsWith('.sh') ? 0o755 : 0o644 });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of tar.c(
      { gzip: true, cwd: dir, portable: true },
      Object.keys(files),
    ) as unknown as Readable) {
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
