import { gzipSync } from 'node:zlib';

/**
 * Writes tar archives by hand, header by header, so a test can build the hostile ones
 * (absolute paths, .., escaping links, devices) that a well-behaved tar tool refuses
 * to produce.
 */
export interface RawEntry {
  path: string;
  /** '0' file, '1' hard link, '2' symbolic link, '3' character device, '5' directory, '6' FIFO */
  type: '0' | '1' | '2' | '3' | '5' | '6';
  content?: string;
  linkpath?: string;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(entry: RawEntry, size: number): Buffer {
  const block = Buffer.alloc(512);
  block.write(entry.path, 0, 100, 'utf8');
  block.write(octal(entry.type === '5' ? 0o755 : 0o644, 8), 100);
  block.write(octal(0, 8), 108);
  block.write(octal(0, 8), 116);
  block.write(octal(size, 12), 124);
  block.write(octal(Math.floor(Date.now() / 1000), 12), 136);
  block.write('        ', 148);
  block.write(entry.type, 156);
  block.write(entry.linkpath ?? '', 157, 100, 'utf8');
  block.write('ustar\0', 257);
  block.write('00', 263);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return block;
}

export function rawTarGz(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = Buffer.from(entry.type === '0' ? (entry.content ?? '') : '');
    parts.push(header(entry, content.length), content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

export const validManifest = 'jobs:\n  - name: hello\n    run: echo hello\n';
