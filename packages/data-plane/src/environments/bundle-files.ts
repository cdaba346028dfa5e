import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';
import { isDefiningFile } from './definition.ts';

/**
 * The files that define a stored deployment's environments, read back from its bundle
 * (a gzipped tar, checked whole when it was uploaded): what a run needs to build its
 * environment again when the cache let it go.
 */
export async function definingFilesOf(bundle: Readable): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const parser = new tar.Parser({
    onReadEntry: (entry: tar.ReadEntry) => {
      const path = entry.path.replace(/^\.\//, '');
      if (!isDefiningFile(path) || entry.type !== 'File') {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => files.set(path, Buffer.concat(chunks)));
    },
  });
  await pipeline(bundle, createGunzip(), parser as unknown as NodeJS.WritableStream);
  return files;
}
