import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export class FileTooLargeError extends Error {
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    super(`larger than ${maxBytes} bytes`);
    this.name = 'FileTooLargeError';
    this.maxBytes = maxBytes;
  }
}

/**
 * Receives a file into `dir` without holding it in memory, taking its SHA-256 and size as
 * it comes; past `maxBytes` it is cut off. On any failure the file is gone. The caller
 * moves the file into the artifact store, or deletes it.
 */
export async function receiveFile(
  body: Readable,
  dir: string,
  maxBytes: number,
): Promise<{ tempPath: string; digest: string; sizeBytes: number }> {
  await mkdir(dir, { recursive: true });
  const tempPath = join(dir, `moved-${randomUUID()}`);
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sizeBytes += chunk.length;
      if (sizeBytes > maxBytes) {
        done(new FileTooLargeError(maxBytes));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(body, measure, createWriteStream(tempPath));
  } catch (error) {
    body.destroy();
    await rm(tempPath, { force: true });
    throw error;
  }
  return { tempPath, digest: `sha256:${hash.digest('hex')}`, sizeBytes };
}
