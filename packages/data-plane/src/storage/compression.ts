import { constants, createZstdCompress, createZstdDecompress, type ZstdCompress, type ZstdDecompress } from 'node:zlib';

/**
 * How built environments and archived log chunks are compressed in the store: Zstandard
 * at level 3, from Node's own zlib (no dependency). Measured on this machine against
 * gzip: a 23.6 MB Python venv packs to 6.2 MB (gzip -6: 7.3 MB, gzip -1: 8.2 MB) in
 * the same time or less, and 8 MiB of log chunks to 0.35 MB (gzip -6: 0.9 MB) in less
 * time; both unpack faster. Objects are named with `.zst` so an operator reads them
 * with `zstd -d`.
 */
export const compressedSuffix = '.zst';
const level = 3;

export function compressor(): ZstdCompress {
  return createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: level } });
}

export function decompressor(): ZstdDecompress {
  return createZstdDecompress();
}
