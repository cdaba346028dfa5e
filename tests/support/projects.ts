import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar';

/** Writes a project (path -> contents) to a temporary directory and packs it as a gzipped tar. */
export async function packProject(files: Record<string, string>): Promise<Buffer> {
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

/** Reads a server-sent event stream to its end: the events, in order. */
export async function readEvents(response: Response): Promise<Array<{ event: string; data: any }>> {
  const text = await response.text();
  const events: Array<{ event: string; data: any }> = [];
  for (const block of text.split('\n\n')) {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (data !== '') events.push({ event, data: JSON.parse(data) });
  }
  return events;
}
