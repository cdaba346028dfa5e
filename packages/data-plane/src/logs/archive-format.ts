import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compressedSuffix, compressor, decompressor } from '../storage/compression.ts';

/** Consecutive lines of one stream read at one time, as a row of run_log_chunks holds them. */
export interface ChunkRecord {
  firstSeq: number;
  lastSeq: number;
  stream: 'stdout' | 'stderr';
  /** ISO 8601. */
  at: string;
  /** The lines joined by newlines (a chunk of one line is that line as it is). */
  body: string;
}

/** An archived object that is not what the archiver wrote. */
export class LogArchiveDamagedError extends Error {
  constructor(key: string, why: string) {
    super(`the archived log ${key} is not readable: ${why}`);
    this.name = 'LogArchiveDamagedError';
  }
}

/**
 * An archived range's object: the run's id, the range's numbers and the claim's id,
 * nothing else. The claim's id makes it the uploader's own: an archiver that loses the
 * range to another deletes its own object, never the one the other's row names.
 */
export function archiveKeyOf(runId: string, firstSeq: number, lastSeq: number, claimId: string): string {
  return `${archivePrefixOf(runId)}${firstSeq}-${lastSeq}-${claimId.toLowerCase()}.ndjson${compressedSuffix}`;
}

/** Where a run's archived objects are: one prefix per run, so its logs are removed by listing it. */
export function archivePrefixOf(runId: string): string {
  return `logs/${runId.toLowerCase()}/`;
}

async function* ndjson(records: AsyncIterable<ChunkRecord>): AsyncGenerator<string> {
  for await (const r of records) {
    // JSON escapes every newline and carriage return: a record is one line of the object.
    yield `${JSON.stringify({ first: r.firstSeq, last: r.lastSeq, stream: r.stream, at: r.at, body: r.body })}\n`;
  }
}

/**
 * Writes chunk records to `path` as the store keeps them: one JSON object per line,
 * compressed. Read as they come, so an archive's text is never held whole.
 */
export async function writeArchive(records: AsyncIterable<ChunkRecord>, path: string): Promise<void> {
  await pipeline(Readable.from(ndjson(records)), compressor(), createWriteStream(path, { mode: 0o600 }));
}

function recordOf(key: string, text: string): ChunkRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new LogArchiveDamagedError(key, 'a record is not JSON');
  }
  const v = value as { first?: unknown; last?: unknown; stream?: unknown; at?: unknown; body?: unknown };
  if (
    !Number.isSafeInteger(v.first) ||
    !Number.isSafeInteger(v.last) ||
    (v.stream !== 'stdout' && v.stream !== 'stderr') ||
    typeof v.at !== 'string' ||
    typeof v.body !== 'string'
  ) {
    throw new LogArchiveDamagedError(key, 'a record lacks a field');
  }
  return { firstSeq: v.first as number, lastSeq: v.last as number, stream: v.stream, at: v.at, body: v.body };
}

/**
 * The chunk records of an archived object, in order, as its bytes arrive: one record in
 * memory at a time. Stopping early (a page is full, a follower left) closes the object.
 */
export async function* readArchive(key: string, body: Readable): AsyncGenerator<ChunkRecord> {
  const text = body.pipe(decompressor());
  body.once('error', (error) => text.destroy(error));
  text.setEncoding('utf8');
  // The pieces of the record not ended yet: a newline is looked for in each new piece only.
  let open: string[] = [];
  try {
    for await (const piece of text as AsyncIterable<string>) {
      let from = 0;
      for (let end = piece.indexOf('\n'); end !== -1; end = piece.indexOf('\n', from)) {
        open.push(piece.slice(from, end));
        yield recordOf(key, open.join(''));
        open = [];
        from = end + 1;
      }
      if (from < piece.length) open.push(piece.slice(from));
    }
    if (open.join('') !== '') throw new LogArchiveDamagedError(key, 'it ends inside a record');
  } finally {
    body.destroy();
    text.destroy();
  }
}
